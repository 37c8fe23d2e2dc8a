"""Validation and normalisation of an ally, wherever it comes from.

``validate_ally`` takes raw values (from the form, a grid edit, an import or
the CLI) and returns the cleaned values for the ``Ally`` table, or raises
``AllyValidationError`` with one Spanish message per field that needs fixing.

Normalisations (documented, never silent data loss):
- text is put in Unicode NFC, control characters are removed, runs of spaces
  inside names collapse to one and the ends are trimmed;
- numeric documents keep only their digits (``900.123.456`` -> ``900123456``);
  a NIT written with its check digit after a dash has it verified and split off;
- phones are stored as their Colombian national number (``3001234567``,
  ``6012345678``) or, for other countries, in international form (``+1...``);
  the extension goes apart;
- e-mail addresses are lower-cased (domains may be international).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.co import nit as stdnum_nit

from core.catalogs import DOCUMENT_TYPES, FISCAL_RESPONSIBILITIES, NIT, colombian_cities
from core.models import ALLY_TYPES, PERSON_TYPES, STATUSES

MAX_NAME = 100
MAX_BUSINESS_NAME = 300
MAX_ADDRESS = 256
MAX_NOTES = 5000

FIELD_LABELS = {
    "ally_type": "Tipo de aliado",
    "person_type": "Tipo de persona",
    "id_type": "Tipo de documento",
    "identification": "Número de documento",
    "check_digit": "Dígito de verificación",
    "branch_office": "Sucursal",
    "first_names": "Nombres",
    "last_names": "Apellidos",
    "business_name": "Razón social",
    "name": "Nombre / razón social",
    "commercial_name": "Nombre comercial",
    "phone": "Teléfono",
    "email": "Correo",
    "address": "Dirección",
    "city_code": "Ciudad",
    "postal_code": "Código postal",
    "status": "Estado",
    "notes": "Notas",
    "fiscal_responsibilities": "Responsabilidades fiscales",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ALNUM_DOC = re.compile(r"^[0-9A-Z](?:[0-9A-Z\-]*[0-9A-Z])?$")


class AllyValidationError(ValueError):
    """Raised with ``errors``: field name -> Spanish message saying what to fix."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in errors.items()))


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """NFC, no control characters, trimmed; single-line text also loses line breaks."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii() and text.isprintable() and "  " not in text:
        return text.strip()  # the common case: nothing to normalise
    text = unicodedata.normalize("NFC", text)
    if multiline:
        text = text.replace("\r\n", "\n")
        text = _CONTROL.sub("", text)
    else:
        text = _CONTROL.sub(" ", text.replace("\n", " ").replace("\t", " "))
        text = re.sub(r"\s+", " ", text)
    return text.strip()


def _optional(value: Any) -> str | None:
    text = clean_text(value)
    return text or None


def _length(errors: dict, field: str, value: str | None, limit: int) -> None:
    if value and len(value) > limit:
        message = f"Admite hasta {limit:,} caracteres; tiene {len(value):,}."
        errors[field] = message.replace(",", ".")


def normalize_identification(id_type: str, raw: Any) -> tuple[str, str | None]:
    """Return (number, check digit written by the user or None); raises ValueError."""
    doc = DOCUMENT_TYPES[id_type]
    text = clean_text(raw).upper().replace(" ", "")
    if not text:
        raise ValueError("Escriba el número de documento.")
    written_dv = None
    if doc.numeric:
        if id_type == NIT and "-" in text:
            text, written_dv = text.rsplit("-", 1)
            if not re.fullmatch(r"\d", written_dv):
                raise ValueError(
                    "El dígito de verificación va después del guion y es un solo dígito."
                )
        digits = text.replace(".", "").replace(",", "")
        if not digits.isdigit():
            raise ValueError("Use solo dígitos (puede escribir puntos, se quitan).")
        digits = digits.lstrip("0") or "0"
        if not doc.min_length <= len(digits) <= doc.max_length:
            raise ValueError(
                f"Debe tener entre {doc.min_length} y {doc.max_length} dígitos; "
                f"tiene {len(digits)}."
            )
        return digits, written_dv
    text = text.replace(".", "")
    if not _ALNUM_DOC.fullmatch(text):
        raise ValueError(
            "Use solo letras sin tilde, dígitos y guiones (no al principio ni al final)."
        )
    if not doc.min_length <= len(text) <= doc.max_length:
        raise ValueError(f"Debe tener entre {doc.min_length} y {doc.max_length} caracteres.")
    return text, None


def nit_check_digit(number: str) -> str:
    return stdnum_nit.calc_check_digit(number)


def normalize_phone(raw: Any, *, lenient: bool = False) -> tuple[str | None, str | None]:
    """Return (number, extension); raises ValueError with a Spanish message."""
    text = clean_text(raw)
    if not text:
        return None, None
    if lenient and len(text) == 10 and text.isdigit():
        return text, None  # stored as written whether or not it validates
    try:
        parsed = phonenumbers.parse(text, "CO")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            "No parece un número de teléfono: use solo dígitos, + y espacios."
        ) from exc
    extension = parsed.extension or None
    if extension and len(extension) > 10:
        raise ValueError("La extensión admite hasta 10 dígitos.")
    if parsed.country_code == 57:
        national = str(parsed.national_number)
        if national.startswith("3") and len(national) < 10:
            raise ValueError(
                f"Un celular tiene 10 dígitos (3xx xxx xxxx); este tiene {len(national)}."
            )
        if len(national) == 7:
            raise ValueError(
                "Los fijos tienen ahora 10 dígitos: anteponga 60 y el indicativo "
                "(por ejemplo 601 para Bogotá, 604 para Medellín)."
            )
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError(
                "Escriba un celular de 10 dígitos (3xx) o un fijo de 10 dígitos (60x); "
                "puede anteponer +57."
            )
        return national, extension
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("El número internacional no es válido para su país.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), extension


_PLAIN_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")


def normalize_email(raw: Any, *, lenient: bool = False) -> str | None:
    text = clean_text(raw)
    if not text:
        return None
    if lenient and _PLAIN_EMAIL.fullmatch(text.lower()):
        # Imported addresses are kept even when invalid, so a plain ASCII one
        # needs no full check: lower-casing is all the normalisation it gets.
        return text.lower()
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(
            "El correo no es válido: revise que tenga la forma nombre@dominio.co, sin espacios."
        ) from exc
    return result.normalized.lower()


def display_name(
    person_type: str, first: str | None, last: str | None, business: str | None
) -> str:
    if person_type == "natural":
        return " ".join(part for part in (first, last) if part)
    return business or ""


def validate_ally(data: Mapping[str, Any], *, lenient: bool = False) -> dict[str, Any]:
    """Validate and normalise one ally; see the module docstring.

    With ``lenient`` (used for Siigo data, which this app does not own) a
    phone, e-mail or fiscal code that does not validate is kept as written
    instead of refusing the whole record; identity and names are still checked.
    """
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    out["ally_type"] = clean_text(data.get("ally_type") or "cliente").lower()
    if out["ally_type"] not in ALLY_TYPES:
        errors["ally_type"] = "Elija cliente, proveedor u otro."
    out["person_type"] = clean_text(data.get("person_type") or "").lower()
    if out["person_type"] not in PERSON_TYPES:
        errors["person_type"] = "Elija persona natural o persona jurídica."
    out["status"] = clean_text(data.get("status") or "activo").lower()
    if out["status"] not in STATUSES:
        errors["status"] = "Elija activo o inactivo."

    id_type = clean_text(data.get("id_type")).upper()
    out["id_type"] = id_type
    out["check_digit"] = None
    if id_type not in DOCUMENT_TYPES:
        errors["id_type"] = "Elija un tipo de documento de la lista de la DIAN."
    else:
        try:
            number, written_dv = normalize_identification(id_type, data.get("identification"))
        except ValueError as exc:
            errors["identification"] = str(exc)
        else:
            out["identification"] = number
            given_dv = written_dv or _optional(data.get("check_digit"))
            if id_type == NIT:
                expected = nit_check_digit(number)
                if given_dv is not None and given_dv != expected:
                    errors["check_digit"] = (
                        f"El dígito de verificación de {number} es {expected}, no {given_dv}: "
                        "revise el número o el dígito."
                    )
                out["check_digit"] = expected
            elif given_dv is not None and re.fullmatch(r"\d", given_dv):
                out["check_digit"] = given_dv

    branch = data.get("branch_office")
    try:
        out["branch_office"] = int(branch) if branch not in (None, "") else 0
        if not 0 <= out["branch_office"] <= 999:
            raise ValueError
    except (TypeError, ValueError):
        errors["branch_office"] = "La sucursal es un número entre 0 y 999."

    first = _optional(data.get("first_names"))
    last = _optional(data.get("last_names"))
    business = _optional(data.get("business_name"))
    if out["person_type"] == "natural":
        if not first:
            errors["first_names"] = "Escriba los nombres de la persona."
        if not last:
            errors["last_names"] = "Escriba los apellidos de la persona."
        _length(errors, "first_names", first, MAX_NAME)
        _length(errors, "last_names", last, MAX_NAME)
        business = None
    elif out["person_type"] == "juridica":
        if not business:
            errors["business_name"] = "Escriba la razón social de la empresa."
        _length(errors, "business_name", business, MAX_BUSINESS_NAME)
        first = last = None
    out.update(first_names=first, last_names=last, business_name=business)
    out["name"] = display_name(out["person_type"], first, last, business)
    out["commercial_name"] = _optional(data.get("commercial_name"))
    _length(errors, "commercial_name", out["commercial_name"], MAX_BUSINESS_NAME)

    try:
        out["phone"], out["phone_extension"] = normalize_phone(data.get("phone"), lenient=lenient)
        if data.get("phone_extension") and not out["phone_extension"]:
            ext = clean_text(data.get("phone_extension"))
            if not re.fullmatch(r"\d{1,10}", ext):
                raise ValueError("La extensión admite solo dígitos, hasta 10.")
            out["phone_extension"] = ext
    except ValueError as exc:
        if lenient:
            out["phone"] = _optional(data.get("phone"))
            out["phone"] = out["phone"][:20] if out["phone"] else None
            out["phone_extension"] = (_optional(data.get("phone_extension")) or "")[:10] or None
        else:
            errors["phone"] = str(exc)
    try:
        out["email"] = normalize_email(data.get("email"), lenient=lenient)
    except ValueError as exc:
        if lenient:
            out["email"] = (_optional(data.get("email")) or "")[:254] or None
        else:
            errors["email"] = str(exc)

    out["address"] = _optional(data.get("address"))
    _length(errors, "address", out["address"], MAX_ADDRESS)
    city_code = _optional(data.get("city_code"))
    out.update(city_code=None, city_name=None, state_code=None, state_name=None, country_code=None)
    if city_code:
        city = colombian_cities().get(city_code)
        if city is None and lenient:
            # A city outside the catalogue (another country, say) as Siigo sent it.
            out.update(
                city_code=city_code[:10],
                city_name=(_optional(data.get("city_name")) or "")[:100] or None,
                state_code=(_optional(data.get("state_code")) or "")[:5] or None,
                state_name=(_optional(data.get("state_name")) or "")[:100] or None,
                country_code=(clean_text(data.get("country_code")).upper()[:3] or None),
            )
        elif city is None:
            errors["city_code"] = "Elija una ciudad de la lista de municipios de Colombia."
        else:
            out.update(
                city_code=city.code,
                city_name=city.name,
                state_code=city.state_code,
                state_name=city.state_name,
                country_code="CO",
            )
    out["postal_code"] = _optional(data.get("postal_code"))
    if out["postal_code"] and not re.fullmatch(r"[0-9A-Za-z]{1,10}", out["postal_code"]):
        errors["postal_code"] = "El código postal tiene hasta 10 letras o dígitos, sin espacios."

    out["notes"] = clean_text(data.get("notes"), multiline=True) or None
    _length(errors, "notes", out["notes"], MAX_NOTES)

    fiscal = data.get("fiscal_responsibilities") or []
    if isinstance(fiscal, str):
        fiscal = [code for code in re.split(r"[,;\s]+", fiscal) if code]
    unknown = [code for code in fiscal if code not in FISCAL_RESPONSIBILITIES]
    if unknown and not lenient:
        errors["fiscal_responsibilities"] = f"Códigos no reconocidos: {', '.join(unknown)}."
    out["fiscal_responsibilities"] = ",".join(dict.fromkeys(fiscal)) or None
    out["vat_responsible"] = bool(data.get("vat_responsible", False))

    if errors:
        raise AllyValidationError(errors)
    return out
