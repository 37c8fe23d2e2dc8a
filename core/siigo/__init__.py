"""Siigo Nube integration: HTTP client, local sandbox server and demo data set.

Submodules:

- :mod:`core.siigo.errors`: the exception tree (Spanish user messages).
- :mod:`core.siigo.client`: :class:`~core.siigo.client.SiigoClient` on ``requests``.
- :mod:`core.siigo.sandbox`: :class:`~core.siigo.sandbox.SandboxServer`, a local emulator.
- :mod:`core.siigo.dataset`: deterministic realistic terceros.
"""

from core.siigo.errors import (
    SiigoAuthError,
    SiigoConfigError,
    SiigoError,
    SiigoProtocolError,
    SiigoUnavailableError,
)

__all__ = [
    "SiigoError",
    "SiigoConfigError",
    "SiigoAuthError",
    "SiigoUnavailableError",
    "SiigoProtocolError",
]
