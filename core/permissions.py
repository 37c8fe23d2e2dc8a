"""Roles and what each may do. Every write in ``core`` checks it.

- lector: browse, filter, export.
- editor: also create, edit, delete, restore and import.
- administrador: also manage users and settings.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("lector", "editor", "administrador")
ROLE_LABELS = {"lector": "Lector", "editor": "Editor", "administrador": "Administrador"}

# The lowest role allowed to do each action; roles are ordered as in ROLES.
_MINIMUM_ROLE = {
    "browse": "lector",
    "export": "lector",
    "create": "editor",
    "edit": "editor",
    "delete": "editor",
    "restore": "editor",
    "import": "editor",
    "manage_users": "administrador",
    "settings": "administrador",
}
ACTION_LABELS = {
    "browse": "consultar aliados",
    "export": "exportar",
    "create": "crear aliados",
    "edit": "editar aliados",
    "delete": "eliminar aliados",
    "restore": "restaurar aliados",
    "import": "importar desde Siigo",
    "manage_users": "administrar usuarios",
    "settings": "cambiar la configuración",
}


@dataclass(frozen=True)
class Actor:
    """Who is doing something: a signed-in user or a scheduled job."""

    username: str
    role: str
    display_name: str = ""

    @property
    def label(self) -> str:
        return self.display_name or self.username


# Scheduled imports (cron) act as this editor; whoever can run them already
# has the server and its database, so no password is asked.
SCHEDULER = Actor("programado", "editor", "Tarea programada")


class PermissionDeniedError(PermissionError):
    def __init__(self, actor: Actor | None, action: str):
        self.actor = actor
        self.action = action
        what = ACTION_LABELS.get(action, action)
        if actor is None:
            message = f"Inicie sesión para {what}."
        else:
            role = ROLE_LABELS.get(actor.role, actor.role)
            message = (
                f"Su rol ({role}) no permite {what}. "
                "Si lo necesita, pídale a un administrador que cambie su rol."
            )
        super().__init__(message)


def can(actor: Actor | None, action: str) -> bool:
    if actor is None or actor.role not in ROLES:
        return False
    return ROLES.index(actor.role) >= ROLES.index(_MINIMUM_ROLE[action])


def require(actor: Actor | None, action: str) -> None:
    """Raise PermissionDeniedError unless ``actor`` may do ``action``."""
    if not can(actor, action):
        raise PermissionDeniedError(actor, action)
