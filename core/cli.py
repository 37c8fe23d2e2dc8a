"""Command line for scheduled jobs and analysts: ``python -m core --help``.

Exit codes of ``import-siigo`` (documented in the README for cron):
0 done, 1 anything else, 2 configuration, 3 credentials, 4 Siigo unavailable,
5 another import is running.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.allies import AllyFilters
from core.db import make_engine
from core.settings import load_settings

EXIT_OK, EXIT_OTHER, EXIT_CONFIG, EXIT_CREDENTIALS, EXIT_UNAVAILABLE, EXIT_BUSY = range(6)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Aliados por consola.")
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
    exp.add_argument("--city", dest="city_code")
    exp.add_argument("--origin", choices=("manual", "siigo"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    handlers = {"sandbox": _sandbox, "import-siigo": _import, "export": _export}
    return handlers[args.command](args)


def _fail(message: str, code: int) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return code


def _sandbox(args) -> int:
    from core.siigo.sandbox import serve

    serve(host=args.host, port=args.port, n_customers=args.customers, seed=args.seed,
          requests_per_minute=args.rpm)
    return EXIT_OK


def _import(args) -> int:
    from core.importer import FULL, INCREMENTAL, apply_import, build_client, preview_import
    from core.locks import ImportBusyError
    from core.siigo.errors import (
        SiigoAuthError, SiigoConfigError, SiigoError, SiigoUnavailableError,
    )

    settings = load_settings()
    trigger = "programado" if args.yes else "usuario"
    try:
        engine = make_engine(settings.DATABASE_URL)
        client = build_client(settings)
        mode = FULL if args.full else INCREMENTAL
        preview = preview_import(engine, client, mode=mode, trigger=trigger)
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
    print(f"  Sin cambios: {preview.unchanged}")
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
            engine, preview, trigger=trigger,
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

    settings = load_settings()
    engine = make_engine(settings.DATABASE_URL)
    filters = AllyFilters(search=args.search, ally_type=args.ally_type, status=args.status,
                          city_code=args.city_code, origin=args.origin)
    data = export_xlsx(engine, filters) if args.format == "xlsx" else export_csv(engine, filters)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
    except OSError as exc:
        return _fail(f"No se pudo escribir {args.out}: {exc.strerror}. Revise la ruta.", EXIT_OTHER)
    print(f"Exportados los aliados a {args.out}.")
    return EXIT_OK
