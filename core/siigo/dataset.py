"""Deterministic, realistic Siigo "terceros" (CustomerOut objects, spec section 2.5).

``generate_customers(n, seed)`` returns the same list for the same arguments. The records
imitate real captures: Colombian names with accents and ñ, NITs with valid DIAN check
digits, one NIT with two branch offices, cities from ``core/data/siigo_cities.csv`` with
text codes (``05001``), mixed ``Co``/``CO`` country codes, and optional keys left out
instead of sent as null. Every name, e-mail and phone number is invented.
"""

from __future__ import annotations

import csv
import functools
import random
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

from stdnum.co import nit as co_nit


__all__ = [
    "CITIES_CSV",
    "ID_TYPES",
    "FISCAL_RESPONSIBILITIES",
    "DATASET_NOW",
    "colombian_cities",
    "find_city",
    "generate_customers",
    "CustomerFactory",
]

CITIES_CSV = Path(__file__).resolve().parent.parent / "data" / "siigo_cities.csv"

#: Reference "now" of the generated data set; every ``metadata`` timestamp is before it.
DATASET_NOW = datetime(2025, 6, 2, 15, 30, 0, tzinfo=timezone.utc)

ID_TYPES: dict[str, str] = {
    "13": "Cédula de ciudadanía",
    "31": "NIT",
    "22": "Cédula de extranjería",
    "42": "Documento de identificación extranjero",
    "50": "NIT de otro país",
    "R-00-PN": "No obligado a registrarse en el RUT PN",
    "91": "NUIP",
    "41": "Pasaporte",
    "47": "Permiso especial de permanencia PEP",
    "11": "Registro civil",
    "43": "Sin identificación del exterior o para uso definido por la DIAN",
    "21": "Tarjeta de extranjería",
    "12": "Tarjeta de identidad",
    "89": "Salvoconducto de permanencia",
    "48": "Permiso protección temporal PPT",
}

FISCAL_RESPONSIBILITIES: dict[str, str] = {
    "R-99-PN": "No aplica - Otros",
    "O-13": "Gran contribuyente",
    "O-15": "Autorretenedor",
    "O-23": "Agente de retención IVA",
    "O-47": "Régimen simple de tributación",
}

_FIRST_NAMES = [
    "José", "María", "Ángela", "Sebastián", "Martín", "Lucía", "Andrés", "Camila",
    "Julián", "Valentina", "Nicolás", "Sofía", "Tomás", "Mónica", "Iván", "Paula",
    "Óscar", "Verónica", "Héctor", "Natalia", "Raúl", "Juliana", "Germán", "Begoña",
    "Jesús", "Ramón", "Inés", "Simón", "Joaquín", "Daniela", "Felipe", "Carolina",
    "Luis", "Ana", "Jorge", "Diana", "Fabián", "Marisol", "Rubén", "Yesenia",
]
_SECOND_NAMES = [
    "Alejandro", "Fernanda", "José", "Lucía", "Andrés", "Patricia", "Esteban", "Inés",
    "Eduardo", "Milena", "Ángel", "Cristina", "Iñaki", "Sofía",
]
_LAST_NAMES = [
    "Muñoz", "Peña", "Ibáñez", "Castaño", "Londoño", "Ordóñez", "Gómez", "Rodríguez",
    "Martínez", "Hernández", "García", "López", "Pérez", "Sánchez", "Ramírez", "Díaz",
    "Vásquez", "Jiménez", "Núñez", "Quiñones", "Ospina", "Restrepo", "Cárdenas", "Giraldo",
    "Ríos", "Zuluaga", "Montaña", "Beltrán", "Cañas", "Salazar", "Rincón", "Patiño",
    "Avendaño", "Arango", "Cortés", "Mejía", "Echeverri", "Acuña", "Guzmán", "Yepes",
]
_COMPANY_KINDS = [
    "Distribuidora", "Comercializadora", "Inversiones", "Ferretería", "Transportes",
    "Confecciones", "Laboratorios", "Agropecuaria", "Constructora", "Soluciones",
    "Importadora", "Panadería", "Servicios Integrales", "Logística", "Café",
]
_COMPANY_CORES = [
    "Andina", "del Caribe", "La Montaña", "El Ñandú", "Peñalisa", "Los Cañaverales",
    "Santa Bárbara", "del Pacífico", "Río Magdalena", "Sabana", "Nevado del Ruiz",
    "La Española", "Orinoquía", "El Porvenir", "San Andrés", "Guadalupe", "Cafetera",
    "Bahía Solano", "Tequendama", "La Candelaria", "Chicamocha", "Macarena",
]
_COMPANY_SUFFIXES = ["S.A.S.", "S.A.S.", "S.A.S.", "S.A.", "Ltda.", "y Cía. S. en C."]
_STREETS = ["Calle", "Cra.", "Carrera", "Av.", "Diagonal", "Transversal", "CL", "KR"]
_EMAIL_DOMAINS = [
    "example.com", "example.co", "example.net", "correo.example.com", "mail.example.co",
]
_POPULAR_CITIES = [
    "11001", "05001", "76001", "08001", "68001", "13001", "19001", "66001", "17001",
    "54001", "73001", "52001",
]
# Landline area digit for "60x" numbers by department code.
_LANDLINE_AREA = {
    "11": "1", "25": "1", "05": "4", "76": "2", "19": "2", "52": "2", "08": "5",
    "13": "5", "68": "7", "54": "7", "66": "6", "17": "6", "73": "8",
}


@functools.lru_cache(maxsize=1)
def _load_cities() -> tuple[dict[str, str], ...]:
    with CITIES_CSV.open(encoding="utf-8", newline="") as handle:
        return tuple(dict(row) for row in csv.DictReader(handle))


def colombian_cities() -> list[dict[str, str]]:
    """Rows of the city CSV whose country code is Colombia (``Co``), codes as text."""
    return [row for row in _load_cities() if row["CountryCode"].lower() == "co"]


@functools.lru_cache(maxsize=8192)
def find_city(country_code: str, state_code: str, city_code: str) -> dict[str, str] | None:
    """Return the CSV row for the given codes (country code case-insensitive) or None."""
    country = country_code.lower()
    for row in _load_cities():
        if (
            row["CityCode"] == city_code
            and row["StateCode"] == state_code
            and row["CountryCode"].lower() == country
        ):
            return row
    return None


@functools.lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch == " "))


def _city_template(row: dict[str, str]) -> dict[str, str]:
    return {
        "country_code": "Co",
        "country_name": row["CountryName"],
        "state_code": row["StateCode"],
        "state_name": row["StateName"],
        "city_code": row["CityCode"],
        "city_name": row["CityName"],
    }


class CustomerFactory:
    """Builds CustomerOut dicts from one ``random.Random`` stream (deterministic)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self._random = self.rng.random
        self.cities = colombian_cities()
        by_code = {row["CityCode"]: row for row in self.cities}
        self.popular = [by_code[code] for code in _POPULAR_CITIES if code in by_code]
        self._used_ids: set[str] = set()
        self._city_tpl = [_city_template(row) for row in self.cities]
        self._popular_tpl = [_city_template(row) for row in self.popular]

    def _pick(self, seq):
        return seq[int(self._random() * len(seq))]

    def _randint(self, low: int, high: int) -> int:
        return low + int(self._random() * (high - low + 1))

    # -- pieces -------------------------------------------------------------------------
    def new_id(self) -> str:
        """A version-4 GUID built from the seeded stream (same text as ``uuid.UUID``)."""
        bits = self.rng.getrandbits(128)
        bits = (bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _unique_number(self, low: int, high: int) -> str:
        while True:
            value = str(self._randint(low, high))
            if value not in self._used_ids:
                self._used_ids.add(value)
                return value

    def _city(self) -> dict[str, str]:
        rng = self.rng
        pool = self._popular_tpl if rng.random() < 0.6 else self._city_tpl
        city = dict(pool[int(self._random() * len(pool))])
        if rng.random() >= 0.7:
            city["country_code"] = "CO"
        return city

    def _street(self) -> str:
        rng = self.rng
        letter = self._pick(["", "", "", "A", "B", "C"])
        suffix = self._pick(["", "", "", " Sur", " Este"])
        text = (
            f"{self._pick(_STREETS)} {self._randint(1, 180)}{letter}{suffix} "
            f"# {self._randint(1, 120)} - {self._randint(1, 99)}"
        )
        extra = rng.random()
        if extra < 0.15:
            text += f" Of. {self._randint(101, 1204)}"
        elif extra < 0.25:
            text += f" Apto {self._randint(101, 2304)}"
        return text

    def _phone(self, state_code: str | None) -> dict[str, str]:
        rng = self.rng
        if rng.random() < 0.6:
            number = f"3{self._pick('0123501')}{self._randint(0, 10**8 - 1):08d}"
        else:
            area = _LANDLINE_AREA.get(state_code or "", self._pick("1245678"))
            number = f"60{area}{self._randint(0, 10**7 - 1):07d}"
        extension = str(self._randint(1, 999)) if rng.random() < 0.2 else ""
        return {"indicative": "57", "number": number, "extension": extension}

    def _email(self, first: str, last: str) -> str:
        local = f"{_ascii(first).split()[0]}.{_ascii(last).split()[0]}".lower()
        if self.rng.random() < 0.3:
            local += str(self._randint(1, 99))
        return f"{local}@{self._pick(_EMAIL_DOMAINS)}"

    def _contact(self, state_code: str | None) -> dict:
        rng = self.rng
        first, last = self._pick(_FIRST_NAMES), self._pick(_LAST_NAMES)
        contact: dict = {"first_name": first, "last_name": last}
        if rng.random() < 0.9:
            contact["email"] = self._email(first, last)
        contact["phone"] = self._phone(state_code) if rng.random() < 0.7 else {}
        return contact

    def _stamp(self, when: datetime) -> str:
        text = when.replace(tzinfo=None).isoformat(timespec="milliseconds")
        text = text[: 20 + self._randint(1, 3)]
        return text + "Z" if self._random() < 0.5 else text

    # -- whole record -------------------------------------------------------------------
    def customer(self, created: datetime, now: datetime = DATASET_NOW) -> dict:
        """One random tercero created at ``created`` (last update between it and ``now``)."""
        rng = self.rng
        is_company = rng.random() < 0.4
        if is_company:
            person_type, code = "Company", "31"
            identification = self._unique_number(800_000_000, 901_999_999)
            kind, core = self._pick(_COMPANY_KINDS), self._pick(_COMPANY_CORES)
            name = [f"{kind} {core} {self._pick(_COMPANY_SUFFIXES)}"]
        else:
            person_type = "Person"
            roll = rng.random()
            if roll < 0.78:
                code = "13"
                identification = self._unique_number(1_000_000, 1_199_999_999)
            elif roll < 0.86:
                code = "31"
                identification = self._unique_number(10_000_000, 99_999_999)
            elif roll < 0.94:
                code = "22"
                identification = self._unique_number(100_000, 9_999_999)
            else:
                code = "41"
                letters = "".join(self._pick("ABCDEFGHJKLMNPRSTUVXYZ") for _ in range(2))
                identification = f"{letters}{self._randint(0, 10**6 - 1):06d}"
            first = self._pick(_FIRST_NAMES)
            if rng.random() < 0.45:
                first += " " + self._pick(_SECOND_NAMES)
            last = f"{self._pick(_LAST_NAMES)} {self._pick(_LAST_NAMES)}"
            name = [first, last]
            if rng.random() < 0.25:
                name = [part.upper() for part in name]
        check_digit = co_nit.calc_check_digit(identification) if identification.isdigit() else "0"

        roll = rng.random()
        kind_type = "Customer" if roll < 0.6 else ("Supplier" if roll < 0.85 else "Other")
        record: dict = {
            "id": self.new_id(),
            "type": kind_type,
            "person_type": person_type,
            "id_type": {"code": code, "name": ID_TYPES[code]},
            "identification": identification,
            "branch_office": 0,
            "check_digit": check_digit,
            "name": name,
        }
        if is_company and rng.random() < 0.3:
            record["commercial_name"] = name[0].split(" S.A")[0].split(" Ltda")[0]
        record["active"] = rng.random() >= 0.1
        record["vat_responsible"] = is_company and rng.random() < 0.6
        if rng.random() < 0.85:
            codes = ["R-99-PN"]
            if is_company and rng.random() < 0.4:
                codes = rng.sample(["O-13", "O-15", "O-23", "O-47"], self._randint(1, 2))
            record["fiscal_responsibilities"] = [
                {"code": c, "name": FISCAL_RESPONSIBILITIES[c]} for c in codes
            ]
        address: dict = {"address": self._street() if rng.random() < 0.95 else ""}
        state_code = None
        if rng.random() < 0.9:
            city = self._city()
            state_code = city["state_code"]
            address["city"] = city
        if rng.random() < 0.4:
            address["postal_code"] = f"{self._randint(5, 99):02d}{self._randint(0, 10**4 - 1):04d}"
        record["address"] = address
        if rng.random() < 0.85:
            record["phones"] = [self._phone(state_code) for _ in range(self._pick((1, 1, 1, 2)))]
        record["contacts"] = [
            self._contact(state_code) for _ in range(self._pick((0, 1, 1, 1, 2, 3)))
        ]
        if rng.random() < 0.08:
            record["comments"] = "Cliente importado desde el sistema anterior."
        metadata = {"created": self._stamp(created)}
        if rng.random() < 0.7:
            span = max(0.0, (now - created).total_seconds())
            metadata["last_updated"] = self._stamp(created + timedelta(seconds=rng.random() * span))
        record["metadata"] = metadata
        return record


def _force_realism(customers: list[dict]) -> None:
    """Make sure the quirks exist even in small data sets (deterministic positions)."""
    n = len(customers)
    if n == 0:
        return
    first = customers[0]
    first.pop("commercial_name", None)
    first.pop("phones", None)
    first["address"] = {"address": first["address"].get("address") or "CL 7A SUR 16 07"}
    first["metadata"].pop("last_updated", None)
    if n > 1:
        second = customers[1]
        second["contacts"] = []
    if n > 2:
        third = customers[2]
        third["contacts"] = [
            {"first_name": "Marcos", "last_name": "Castaño", "email": "marcos.castano@example.co",
             "phone": {}}
        ]
        third["name"] = ["José Ñuflo", "Peña Ibáñez"] if third["person_type"] == "Person" else [
            "Panadería La Española S.A.S."
        ]
    if n > 3:
        fourth = customers[3]
        city = fourth["address"].get("city")
        if city is None or not city["city_code"].startswith("0"):
            fourth["address"]["city"] = {
                "country_code": "Co", "country_name": "Colombia", "state_code": "05",
                "state_name": "Antioquia", "city_code": "05001", "city_name": "Medellín",
            }
    if n > 4:
        # One NIT present twice: branch office 0 and 1 of the same company.
        main_index = n // 2 if n > 8 else 4
        branch_index = main_index - 1
        main = customers[main_index]
        main.update(
            {
                "person_type": "Company",
                "id_type": {"code": "31", "name": ID_TYPES["31"]},
                "identification": "900373115",
                "check_digit": co_nit.calc_check_digit("900373115"),
                "name": ["Distribuidora Andina S.A.S."],
                "branch_office": 0,
            }
        )
        branch = customers[branch_index]
        for key in ("person_type", "id_type", "identification", "check_digit", "name"):
            branch[key] = main[key]
        branch["branch_office"] = 1
        branch["commercial_name"] = "Distribuidora Andina - Sede Norte"


def generate_customers(n: int = 300, seed: int = 7) -> list[dict]:
    """Return ``n`` CustomerOut dicts, newest first by ``metadata.created``.

    The same ``(n, seed)`` always gives the same list. Creation times spread over about
    five years before :data:`DATASET_NOW`.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    factory = CustomerFactory(seed)
    factory._used_ids.add("900373115")
    rng = factory.rng
    mean_step = (5 * 365 * 86400) / max(n, 1)
    created = DATASET_NOW - timedelta(hours=rng.uniform(1, 48))
    customers: list[dict] = []
    for _ in range(n):
        customers.append(factory.customer(created))
        step = max(0.002, rng.expovariate(1.0 / mean_step))
        created -= timedelta(seconds=step)
    _force_realism(customers)
    return customers
