"""Exception tree for the Siigo integration.

Every exception carries a Spanish, user-facing sentence in ``.message`` that says what
happened and what the user can do; ``str(exc)`` returns exactly that sentence. The
optional ``.status`` holds the HTTP status (``None`` when no response arrived) and
``.code`` the Siigo error ``Code`` from the error envelope (``None`` when absent).

Messages never contain the access key or the access token.

::

    SiigoError(Exception)
     ├─ SiigoConfigError       missing base URL / username / access key / Partner-Id,
     │                         or a Partner-Id with a bad format.
     ├─ SiigoAuthError         any 4xx from /auth, or a 401 that persists after one
     │                         re-authentication.
     ├─ SiigoUnavailableError  5xx, timeouts or connection errors after all retries,
     │                         a 429 whose wait exceeds the cap, or too many failed
     │                         requests in a row.
     └─ SiigoProtocolError     unexpected response shape or any other 4xx
                               (e.g. 400 header_required, 404 not_found).
"""

from __future__ import annotations

__all__ = [
    "SiigoError",
    "SiigoConfigError",
    "SiigoAuthError",
    "SiigoUnavailableError",
    "SiigoProtocolError",
]


class SiigoError(Exception):
    """Base class of all Siigo errors. ``str(exc)`` is the Spanish ``message``."""

    default_message = "Ocurrió un error al comunicarse con Siigo."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.code = code
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, "
            f"status={self.status!r}, code={self.code!r})"
        )


class SiigoConfigError(SiigoError):
    """The connection settings are incomplete or malformed."""

    default_message = (
        "La conexión con Siigo no está configurada. Configure la URL, el usuario API, "
        "la llave de acceso y el Partner-Id en la configuración de la integración."
    )


class SiigoAuthError(SiigoError):
    """Siigo rejected the credentials."""

    default_message = (
        "Siigo rechazó las credenciales. Por favor revise el usuario y la llave de acceso "
        "del usuario API en Siigo Nube."
    )


class SiigoUnavailableError(SiigoError):
    """Siigo could not be reached or kept failing."""

    default_message = (
        "Siigo no está disponible en este momento. Por favor inténtelo más tarde."
    )


class SiigoProtocolError(SiigoError):
    """Siigo answered something the client does not understand or a request error."""

    default_message = (
        "Siigo respondió de una forma inesperada. Por favor comuníquese con soporte "
        "técnico/TI."
    )
