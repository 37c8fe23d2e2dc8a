"""Fixed catalogues: DIAN document types, fiscal responsibilities, cities."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.text import fold

CITIES_CSV = Path(__file__).resolve().parent / "data" / "siigo_cities.csv"


@dataclass(frozen=True)
class DocumentType:
    code: str
    name: str
    numeric: bool
    min_length: int
    max_length: int


# DIAN codes as Siigo uses them (siigo-api.md §2.6).
DOCUMENT_TYPES: dict[str, DocumentType] = {
    d.code: d
    for d in (
        DocumentType("13", "Cédula de ciudadanía", True, 3, 13),
        DocumentType("31", "NIT", True, 3, 13),
        DocumentType("22", "Cédula de extranjería", False, 1, 20),
        DocumentType("41", "Pasaporte", False, 1, 20),
        DocumentType("42", "Documento de identificación extranjero", False, 1, 20),
        DocumentType("50", "NIT de otro país", False, 1, 20),
        DocumentType("11", "Registro civil", True, 3, 13),
        DocumentType("12", "Tarjeta de identidad", False, 1, 20),
        DocumentType("21", "Tarjeta de extranjería", False, 1, 20),
        DocumentType("47", "Permiso especial de permanencia PEP", False, 1, 20),
        DocumentType("48", "Permiso protección temporal PPT", False, 1, 20),
        DocumentType("89", "Salvoconducto de permanencia", False, 1, 20),
        DocumentType("91", "NUIP", False, 1, 20),
        DocumentType("43", "Sin identificación del exterior o para uso definido por la DIAN",
                     False, 1, 20),
        DocumentType("R-00-PN", "No obligado a registrarse en el RUT PN", False, 1, 13),
    )
}
NIT = "31"

FISCAL_RESPONSIBILITIES = {
    "R-99-PN": "No aplica - Otros",
    "O-13": "Gran contribuyente",
    "O-15": "Autorretenedor",
    "O-23": "Agente de retención IVA",
    "O-47": "Régimen simple de tributación",
}

ALLY_TYPE_LABELS = {"cliente": "Cliente", "proveedor": "Proveedor", "otro": "Otro"}
PERSON_TYPE_LABELS = {"natural": "Persona natural", "juridica": "Persona jurídica"}
STATUS_LABELS = {"activo": "Activo", "inactivo": "Inactivo"}
ORIGIN_LABELS = {"manual": "Manual", "siigo": "Siigo"}


@dataclass(frozen=True)
class City:
    code: str
    name: str
    state_code: str
    state_name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.state_name})"


@cache
def colombian_cities() -> dict[str, City]:
    """Colombian municipalities from Siigo's catalogue, keyed by DANE code (text)."""
    with CITIES_CSV.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        cities = [
            City(r["CityCode"], r["CityName"], r["StateCode"], r["StateName"])
            for r in rows
            if r["CountryCode"].upper() == "CO"
        ]
    cities.sort(key=lambda c: (c.name, c.state_name))
    return {c.code: c for c in cities}


def _folded(text: str) -> str:
    return " ".join(fold(text).split())


def resolve_city(text: str) -> City:
    """A Colombian city from its DANE code or its name (accents and case ignored).

    Raises ValueError in Spanish when nothing matches or the name is ambiguous.
    """
    cities = colombian_cities()
    wanted = text.strip()
    if wanted in cities:
        return cities[wanted]
    key = _folded(wanted)
    matches = [c for c in cities.values() if _folded(c.name) == key or _folded(c.label) == key]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"No hay un municipio de Colombia llamado «{wanted}»: "
                         "escriba el nombre como en el catálogo o su código DANE (11001).")
    options = ", ".join(f"{c.label} = {c.code}" for c in matches[:8])
    raise ValueError(f"Hay varios municipios llamados «{wanted}»; use el código: {options}.")
