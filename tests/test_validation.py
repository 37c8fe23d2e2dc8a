"""Validation tables: each raw input with the outcome a user should get."""

from __future__ import annotations

import pytest

from core.validation import AllyValidationError, nit_check_digit, validate_ally

COMPANY = {"person_type": "juridica", "id_type": "31", "identification": "900123456",
           "business_name": "Ferretería El Ñandú S.A.S."}
PERSON = {"person_type": "natural", "id_type": "13", "identification": "1020304050",
          "first_names": "María José", "last_names": "Pérez Gómez"}


def errors_of(data: dict) -> dict[str, str]:
    with pytest.raises(AllyValidationError) as caught:
        validate_ally(data)
    return caught.value.errors


@pytest.mark.parametrize(
    ("number", "digit"),
    [("900123456", "8"), ("860002964", "4"), ("890903938", "8"), ("800197268", "4")],
)
def test_nit_check_digit_matches_dian(number, digit):
    assert nit_check_digit(number) == digit


@pytest.mark.parametrize(
    ("written", "number", "digit"),
    [
        ("900123456", "900123456", "8"),
        ("900.123.456", "900123456", "8"),
        ("900.123.456-8", "900123456", "8"),
        (" 900 123 456 - 8 ", "900123456", "8"),
        ("0900123456", "900123456", "8"),
    ],
)
def test_nit_written_many_ways_is_one_document(written, number, digit):
    clean = validate_ally({**COMPANY, "identification": written})
    assert (clean["identification"], clean["check_digit"]) == (number, digit)


def test_nit_with_wrong_check_digit_names_the_right_one():
    errors = errors_of({**COMPANY, "identification": "900.123.456-7"})
    assert errors == {
        "check_digit": "El dígito de verificación de 900123456 es 8, no 7: "
        "revise el número o el dígito."
    }


def test_separate_wrong_check_digit_is_refused():
    assert "check_digit" in errors_of({**COMPANY, "check_digit": "3"})


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("identification", "12AB", "Use solo dígitos (puede escribir puntos, se quitan)."),
        ("identification", "12", "Debe tener entre 3 y 13 dígitos; tiene 2."),
        ("identification", "", "Escriba el número de documento."),
        ("id_type", "99", "Elija un tipo de documento de la lista de la DIAN."),
        ("first_names", "   ", "Escriba los nombres de la persona."),
        ("last_names", "", "Escriba los apellidos de la persona."),
        ("ally_type", "socio", "Elija cliente, proveedor u otro."),
        ("status", "borrado", "Elija activo o inactivo."),
        ("city_code", "99999", "Elija una ciudad de la lista de municipios de Colombia."),
        ("first_names", "a" * 10_000, "Admite hasta 100 caracteres; tiene 10.000."),
        ("branch_office", "mil", "La sucursal es un número entre 0 y 999."),
        ("postal_code", "11 0111",
         "El código postal tiene hasta 10 letras o dígitos, sin espacios."),
    ],
)
def test_person_field_errors_are_spanish_and_name_the_field(field, value, expected):
    assert errors_of({**PERSON, field: value})[field] == expected


def test_company_needs_business_name():
    errors = errors_of({**COMPANY, "business_name": " \t "})
    assert errors == {"business_name": "Escriba la razón social de la empresa."}


def test_passport_keeps_letters_and_leading_zeros():
    clean = validate_ally({**PERSON, "id_type": "41", "identification": "ab-012345"})
    assert clean["identification"] == "AB-012345"
    assert clean["check_digit"] is None


@pytest.mark.parametrize(
    ("written", "number", "extension"),
    [
        ("3001234567", "3001234567", None),
        ("+57 300 123 4567", "3001234567", None),
        ("300-123-4567", "3001234567", None),
        ("(601) 234 5678", "6012345678", None),
        ("604 444 1234 ext. 12", "6044441234", "12"),
        ("+1 212 555 0100", "+12125550100", None),
        ("", None, None),
    ],
)
def test_phones_are_normalised(written, number, extension):
    clean = validate_ally({**PERSON, "phone": written})
    assert (clean["phone"], clean["phone_extension"]) == (number, extension)


@pytest.mark.parametrize(
    ("written", "fragment"),
    [
        ("2345678", "Los fijos tienen ahora 10 dígitos"),
        ("12345", "Escriba un celular de 10 dígitos"),
        ("3001234", "Un celular tiene 10 dígitos (3xx xxx xxxx); este tiene 7."),
        ("llámame", "No parece un número de teléfono"),
    ],
)
def test_bad_phones_say_what_to_fix(written, fragment):
    assert fragment in errors_of({**PERSON, "phone": written})["phone"]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Compras@Ejemplo.CO", "compras@ejemplo.co"),
        ("  ventas@ejemplo.com.co ", "ventas@ejemplo.com.co"),
        ("info@ñandú.co", "info@ñandú.co"),
    ],
)
def test_emails_are_normalised(written, stored):
    assert validate_ally({**PERSON, "email": written})["email"] == stored


@pytest.mark.parametrize("written", ["ana perez@ejemplo.co", "ana@", "@ejemplo.co", "ana@@x.co"])
def test_bad_emails_are_refused(written):
    assert "El correo no es válido" in errors_of({**PERSON, "email": written})["email"]


def test_text_is_normalised_not_mangled():
    decomposed = "Jose\u0301"  # "José" written with a combining accent
    clean = validate_ally({**PERSON, "first_names": f"  {decomposed}   Luis ",
                           "notes": "línea 1\r\nlínea 2 😀 <img src=x onerror=alert(1)>"})
    assert clean["first_names"] == "José Luis"
    assert clean["notes"] == "línea 1\nlínea 2 😀 <img src=x onerror=alert(1)>"
    assert clean["name"] == "José Luis Pérez Gómez"


def test_city_fills_department_from_catalogue():
    clean = validate_ally({**PERSON, "city_code": "05001"})
    assert (clean["city_name"], clean["state_code"], clean["state_name"]) == (
        "Medellín", "05", "Antioquia")


def test_lenient_mode_keeps_siigo_contact_data_as_written():
    clean = validate_ally({**PERSON, "phone": "1234", "email": "no-es-correo"}, lenient=True)
    assert (clean["phone"], clean["email"]) == ("1234", "no-es-correo")
