"""Command line for scheduled jobs and analysts: ``python -m core --help``.

Exit codes of ``import-siigo`` (documented in the README for cron):
0 done, 1 anything else, 2 configuration, 3 credentials, 4 Siigo unavailable,
5 another import is running.

The user commands (``create-user``, ``list-users``, ``set-role``, ``set-password``,
``unlock-user``) run on the server with the database at hand, so they act as the
built-in administrador ``accounts.CONSOLE_ADMIN``; the very first user is the
bootstrap and must be an administrador. ``backup`` and ``restore`` work on
SQLite only and exit 2 on PostgreSQL (use pg_dump / pg_restore there).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import re
import sys
from pathlib import Path

from core.allies import AllyFilters
from core.db import make_engine
from core.settings import SettingsError, load_settings

EXIT_OK, EXIT_OTHER, EXIT_CONFIG, EXIT_CREDENTIALS, EXIT_UNAVAILABLE, EXIT_BUSY = range(6)


class _SpanishParser(argparse.ArgumentParser):
    """argparse with its usage errors said in Spanish, on one line."""

    def error(self, message: str):
        choice = re.search(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)",
                           message)
        if choice:
            text = f"{choice[1]}: «{choice[2]}» no es válido; use uno de: {choice[3]}."
        elif message.startswith("the following arguments are required"):
            text = "faltan argumentos: " + message.split(": ", 1)[1] + "."
        elif "invalid int value" in message:
            text = message.split(":", 1)[0].replace("argument ", "") + " debe ser un número entero."
        else:
            text = message
        self.exit(2, f"Error: {text} Vea python -m core --help.\n")


def _parser() -> argparse.ArgumentParser:
    parser = _SpanishParser(prog="python -m core", description="Aliados por consola.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMANDO")

    sandbox = commands.add_parser("sandbox", help="Sirve el sandbox local de la API de Siigo.")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--customers", type=int, default=300, help="Terceros a servir.")
    sandbox.add_argument("--seed", type=int, default=7)
    sandbox.add_argument("--rpm", type=int, default=0, help="Límite de peticiones por minuto.")

    imp = commands.add_parser("import-siigo", help="Importa los terceros desde Siigo.")
    imp.add_argument("--yes", action="store_true", help="Aplica sin preguntar (para cron).")
    mode = imp.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="Importación completa.")
    mode.add_argument("--incremental", action="store_true",
                      help="Solo lo actualizado desde la última importación (por defecto).")
    imp.add_argument("--deactivate-missing", action="store_true",
                     help="Marca inactivos los aliados que Siigo ya no tiene (solo completa).")

    exp = commands.add_parser("export", help="Exporta los aliados a Excel o CSV.")
    exp.add_argument("--format", choices=("xlsx", "csv"), required=True)
    exp.add_argument("--out", type=Path, required=True)
    exp.add_argument("--type", dest="ally_type", choices=("cliente", "proveedor", "otro"))
    exp.add_argument("--status", choices=("activo", "inactivo"))
    exp.add_argument("--search")
    exp.add_argument("--city", dest="city_code", help="Municipio: nombre o código DANE.")
    exp.add_argument("--origin", choices=("manual", "siigo"))

    _add_user_commands(commands)

    backup = commands.add_parser(
        "backup", help="Copia de seguridad de la base SQLite (la aplicación puede seguir en uso)."
    )
    backup.add_argument("--out", type=Path, required=True, help="Archivo de la copia.")
    backup.add_argument("--overwrite", action="store_true",
                        help="Reemplaza el archivo si ya existe.")
    restore = commands.add_parser(
        "restore", help="Restaura la base SQLite desde una copia (guarda antes la actual)."
    )
    restore.add_argument("--from", dest="source", type=Path, required=True,
                         help="Copia a restaurar.")
    restore.add_argument("--yes", action="store_true",
                         help="Confirma que la base actual se reemplaza por la copia.")
    return parser


_CONSOLE_NOTE = (
    "Se ejecuta en el servidor con acceso a la base de datos, por eso actúa como el "
    "administrador de consola (no pide credenciales)."
)


def _add_user_commands(commands) -> None:
    from core.permissions import ROLES

    create = commands.add_parser(
        "create-user", help="Crea un usuario.",
        description="Crea un usuario. El primero debe ser administrador. " + _CONSOLE_NOTE
        + " La contraseña se pide en la terminal o se lee de la entrada estándar con "
        "--password-stdin; nunca como argumento.",
    )
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--display-name", default="")
    create.add_argument("--password-stdin", action="store_true",
                        help="Lee la contraseña de la entrada estándar (para scripts).")

    commands.add_parser("list-users", help="Lista los usuarios.", description=_CONSOLE_NOTE)

    role = commands.add_parser("set-role", help="Cambia el rol de un usuario.",
                               description=_CONSOLE_NOTE)
    role.add_argument("--username", required=True)
    role.add_argument("--role", choices=ROLES, required=True)

    password = commands.add_parser(
        "set-password", help="Cambia la contraseña de un usuario (y lo desbloquea).",
        description=_CONSOLE_NOTE,
    )
    password.add_argument("--username", required=True)
    password.add_argument("--password-stdin", action="store_true",
                          help="Lee la contraseña de la entrada estándar (para scripts).")

    unlock = commands.add_parser("unlock-user", help="Desbloquea una cuenta bloqueada.",
                                 description=_CONSOLE_NOTE)
    unlock.add_argument("--username", required=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    handlers = {
        "sandbox": _sandbox, "import-siigo": _import, "export": _export,
        "create-user": _create_user, "list-users": _list_users, "set-role": _set_role,
        "set-password": _set_password, "unlock-user": _unlock_user,
        "backup": _backup, "restore": _restore,
    }
    try:
        return handlers[args.command](args)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_CONFIG)


def _fail(message: str, code: int) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return code


def _sandbox(args) -> int:
    from core.siigo.sandbox import serve

    def announce(server) -> None:
        # The sandbox's credentials are invented and public: printing them is the point.
        limit = f"{args.rpm} por minuto" if args.rpm else "sin límite"
        print(
            f"Sandbox de Siigo en {server.base_url} con {args.customers} terceros "
            f"(peticiones: {limit}). Para usarlo desde la aplicación:\n"
            f"  export SIIGO_BASE_URL={server.base_url}\n"
            f"  export SIIGO_USERNAME={server.username}\n"
            f"  export SIIGO_ACCESS_KEY={server.access_key}\n"
            "Cualquier SIIGO_PARTNER_ID de 3 a 100 letras o dígitos sirve. Ctrl+C lo detiene.",
            flush=True,
        )

    serve(host=args.host, port=args.port, n_customers=args.customers, seed=args.seed,
          requests_per_minute=args.rpm, on_ready=announce)
    return EXIT_OK


def _import(args) -> int:
    from core.importer import FULL, INCREMENTAL, apply_import, build_client, preview_import
    from core.locks import ImportBusyError
    from core.permissions import SCHEDULER
    from core.siigo.errors import (
        SiigoAuthError, SiigoConfigError, SiigoError, SiigoUnavailableError,
    )

    settings = load_settings()
    try:
        engine = make_engine(settings.DATABASE_URL)
        client = build_client(settings)
        mode = FULL if args.full else INCREMENTAL
        preview = preview_import(engine, client, actor=SCHEDULER, mode=mode)
    except SiigoConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except SiigoAuthError as exc:
        return _fail(str(exc), EXIT_CREDENTIALS)
    except SiigoUnavailableError as exc:
        return _fail(str(exc), EXIT_UNAVAILABLE)
    except ImportBusyError as exc:
        return _fail(str(exc), EXIT_BUSY)
    except SiigoError as exc:
        return _fail(str(exc), EXIT_OTHER)

    if preview.note:
        print(preview.note)
    print(f"Modo: {preview.mode}. Terceros leídos de Siigo: {preview.fetched}.")
    print(f"  Nuevos: {len(preview.new)}")
    print(f"  Con cambios: {len(preview.changed)} (conflictos: {len(preview.conflicts)})")
    print(f"  Sin cambios: {preview.unchanged}"
          + (f" (con cambios hechos aquí que se conservan: {preview.kept_local})"
             if preview.kept_local else ""))
    print(f"  Rechazados: {len(preview.rejected)}")
    for rejection in preview.rejected[:20]:
        print(f"    - {rejection.name or rejection.siigo_id} ({rejection.document}): "
              f"{rejection.reason}")
    if preview.mode == FULL:
        print(f"  Ya no están en Siigo: {len(preview.missing)}")
    if not args.yes:
        print("Vista previa solamente: agregue --yes para aplicar la importación.")
        return EXIT_OK
    try:
        run = apply_import(
            engine, preview, actor=SCHEDULER,
            missing_action="deactivate" if args.deactivate_missing else "keep",
        )
    except ImportBusyError as exc:
        return _fail(str(exc), EXIT_BUSY)
    except Exception as exc:  # the apply already recorded the failed run
        return _fail(str(exc), EXIT_OTHER)
    print(f"Importación aplicada: {run.created} nuevos, {run.updated} actualizados, "
          f"{run.unchanged} sin cambios, {run.rejected} rechazados, "
          f"{run.deactivated} marcados inactivos.")
    return EXIT_OK


def _export(args) -> int:
    from core.export import export_csv, export_xlsx

    from core.allies import count_allies
    from core.catalogs import resolve_city

    city_code = None
    if args.city_code:
        try:
            city_code = resolve_city(args.city_code).code
        except ValueError as exc:
            return _fail(str(exc), EXIT_CONFIG)
    settings = load_settings()
    engine = make_engine(settings.DATABASE_URL)
    filters = AllyFilters(search=args.search, ally_type=args.ally_type, status=args.status,
                          city_code=city_code, origin=args.origin)
    data = export_xlsx(engine, filters) if args.format == "xlsx" else export_csv(engine, filters)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
    except OSError as exc:
        return _fail(f"No se pudo escribir {args.out}: {exc.strerror}. Revise la ruta.", EXIT_OTHER)
    count = count_allies(engine, filters)
    print(f"Exportado{'' if count == 1 else 's'} {count} aliado{'' if count == 1 else 's'} "
          f"a {args.out}.")
    return EXIT_OK


def _read_password(args) -> str:
    """The new password from stdin (--password-stdin) or typed twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.read().removesuffix("\n").removesuffix("\r")
    first = getpass.getpass("Contraseña: ")
    if getpass.getpass("Repita la contraseña: ") != first:
        raise ValueError("Las contraseñas no coinciden; vuelva a intentarlo.")
    return first


def _user_command(action) -> int:
    """Run one accounts call, turning its errors into a one-line Spanish reason."""
    from core.accounts import AccountError, UserNotFoundError
    from core.permissions import PermissionDeniedError

    try:
        return action()
    except (AccountError, UserNotFoundError, PermissionDeniedError, ValueError) as exc:
        return _fail(str(exc), EXIT_OTHER)
    except (EOFError, KeyboardInterrupt):
        return _fail("No se recibió la contraseña.", EXIT_OTHER)


def _create_user(args) -> int:
    from core import accounts

    def action() -> int:
        engine = make_engine(load_settings().DATABASE_URL)
        bootstrap = accounts.count_users(engine) == 0
        if bootstrap and args.role != accounts.ADMIN:
            return _fail("El primer usuario debe ser administrador: use --role administrador.",
                         EXIT_OTHER)
        password = _read_password(args)
        user = accounts.create_user(
            engine, username=args.username, password=password, role=args.role,
            display_name=args.display_name, actor=None if bootstrap else accounts.CONSOLE_ADMIN,
        )
        print(f"Usuario «{user.username}» creado con rol {user.role_label}.")
        return EXIT_OK

    return _user_command(action)


def _list_users(args) -> int:
    from core import accounts

    def action() -> int:
        engine = make_engine(load_settings().DATABASE_URL)
        users = accounts.list_users(engine, actor=accounts.CONSOLE_ADMIN)
        if not users:
            print("No hay usuarios. Cree el primero con: python -m core create-user "
                  "--username USUARIO --role administrador")
        for user in users:
            state = "activo" if user.active else "inactivo"
            if user.is_locked():
                state += ", bloqueado"
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at \
                else "nunca"
            print(f"{user.username}\t{user.role_label}\t{state}\túltimo ingreso: {last}\t"
                  f"{user.display_name}")
        return EXIT_OK

    return _user_command(action)


def _set_role(args) -> int:
    from core import accounts

    def action() -> int:
        engine = make_engine(load_settings().DATABASE_URL)
        user = accounts.set_role(engine, args.username, args.role, actor=accounts.CONSOLE_ADMIN)
        print(f"Usuario «{user.username}» ahora tiene el rol {user.role_label}.")
        return EXIT_OK

    return _user_command(action)


def _set_password(args) -> int:
    from core import accounts

    def action() -> int:
        engine = make_engine(load_settings().DATABASE_URL)
        password = _read_password(args)
        user = accounts.set_password(engine, args.username, password,
                                     actor=accounts.CONSOLE_ADMIN)
        print(f"Contraseña de «{user.username}» cambiada.")
        return EXIT_OK

    return _user_command(action)


def _unlock_user(args) -> int:
    from core import accounts

    def action() -> int:
        engine = make_engine(load_settings().DATABASE_URL)
        user = accounts.unlock_user(engine, args.username, actor=accounts.CONSOLE_ADMIN)
        print(f"Cuenta «{user.username}» desbloqueada.")
        return EXIT_OK

    return _user_command(action)


def _backup(args) -> int:
    from core.backup import BackupError, UnsupportedDatabaseError, backup_database

    try:
        result = backup_database(load_settings().DATABASE_URL, args.out,
                                 overwrite=args.overwrite)
    except UnsupportedDatabaseError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except BackupError as exc:
        return _fail(str(exc), EXIT_OTHER)
    print(f"Copia de seguridad guardada en {result}.")
    return EXIT_OK


def _restore(args) -> int:
    from core.backup import BackupError, UnsupportedDatabaseError, restore_database

    try:
        result = restore_database(load_settings().DATABASE_URL, args.source, confirm=args.yes)
    except UnsupportedDatabaseError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except BackupError as exc:
        return _fail(str(exc), EXIT_OTHER)
    print(f"Base de datos restaurada desde {args.source}. "
          f"La base anterior quedó guardada en {result.safety_copy}.")
    return EXIT_OK
