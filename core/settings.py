"""Settings shared by the app and the command line.

Each value comes from an environment variable or, failing that, from a key of
the same name in ``.streamlit/secrets.toml``; the environment wins.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'aliados.sqlite'}"

SETTING_NAMES = (
    "DATABASE_URL",
    "SIIGO_BASE_URL",
    "SIIGO_USERNAME",
    "SIIGO_ACCESS_KEY",
    "SIIGO_PARTNER_ID",
    "SIIGO_REQUESTS_PER_MINUTE",
    "SESSION_IDLE_MINUTES",
    "AUTH_MODE",
)
SECRET_NAMES = frozenset({"SIIGO_ACCESS_KEY"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    DATABASE_URL: str = DEFAULT_DATABASE_URL
    SIIGO_BASE_URL: str = "https://api.siigo.com"
    SIIGO_USERNAME: str = ""
    SIIGO_ACCESS_KEY: str = Field(default="", repr=False)
    SIIGO_PARTNER_ID: str = "AliadosDashboard"
    SIIGO_REQUESTS_PER_MINUTE: int = 100
    SESSION_IDLE_MINUTES: int = 30
    AUTH_MODE: str = "local"  # "local" (passwords here) or "oidc" (st.login)

    @field_validator("AUTH_MODE")
    @classmethod
    def _known_auth_mode(cls, value: str) -> str:
        if value not in ("local", "oidc"):
            raise ValueError("auth mode")
        return value

    @property
    def siigo_configured(self) -> bool:
        return bool(self.SIIGO_BASE_URL and self.SIIGO_USERNAME and self.SIIGO_ACCESS_KEY)


@dataclass(frozen=True)
class SettingSource:
    name: str
    value: str
    origin: str  # "entorno", "secrets.toml" or "valor por defecto"


_EXPECTED = {
    "SIIGO_REQUESTS_PER_MINUTE": "un número entero de peticiones por minuto (por ejemplo 100)",
    "SESSION_IDLE_MINUTES": "un número entero de minutos (por ejemplo 30)",
    "AUTH_MODE": "local u oidc",
}


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message says which and how to fix it."""


def _read_secrets(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"El archivo {path} no es TOML válido ({exc}). Corríjalo: cada ajuste va en una "
            'línea de la forma NOMBRE = "valor".'
        ) from None
    return {key: value for key, value in data.items() if key in SETTING_NAMES}


def load_settings(secrets_path: Path | None = None) -> Settings:
    """Build the settings: environment first, then secrets.toml, then defaults.

    Raises SettingsError, in Spanish, naming the setting that is wrong.
    """
    from_file = _read_secrets(secrets_path or DEFAULT_SECRETS_PATH)
    from_env = {name: os.environ[name] for name in SETTING_NAMES if name in os.environ}
    try:
        return Settings(**{**from_file, **from_env})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            origin = "variable de entorno" if name in from_env else "secrets.toml"
            expected = _EXPECTED.get(name, "otro valor")
            problems.append(f"{name} ({origin}) debe ser {expected}")
        raise SettingsError("Ajuste no válido: " + "; ".join(problems) + ".") from None


def describe_sources(secrets_path: Path | None = None) -> list[SettingSource]:
    """Where each setting comes from, with secrets masked, for the settings page."""
    from_file = _read_secrets(secrets_path or DEFAULT_SECRETS_PATH)
    settings = load_settings(secrets_path)
    rows = []
    for name in SETTING_NAMES:
        if name in os.environ:
            origin = "entorno"
        elif name in from_file:
            origin = "secrets.toml"
        else:
            origin = "valor por defecto"
        value = str(getattr(settings, name))
        if name in SECRET_NAMES:
            value = mask_secret(value)
        rows.append(SettingSource(name, value, origin))
    return rows


def mask_secret(value: str) -> str:
    """Show that a secret is set without revealing it."""
    if not value:
        return "(sin configurar)"
    return "•" * 8 + " (configurada)"
