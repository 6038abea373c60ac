"""The options several commands share, and how the command line resolves them (the warehouse and export folders)."""

from __future__ import annotations

import os
from pathlib import Path

from zuora_wh.errors import BuildBusy, UsageError
from zuora_wh.warehouse import build_db_path

EXPORT_DIR_HELP = "folder of Zuora export files (default: $ZUORA_EXPORT_DIR, or the embedded demo when unset)"
NO_WAIT_HELP = f"when another build holds the warehouse folder, exit at once with code {BuildBusy.exit_code}"
REPLACE_HELP = "publish even though the served warehouse was built from another input (it is replaced)"


def add_export_dir(p) -> None:
    p.add_argument("--export-dir", help=EXPORT_DIR_HELP)


def add_no_wait(p) -> None:
    p.add_argument("--no-wait", action="store_true", help=NO_WAIT_HELP)


def add_replace(p) -> None:
    p.add_argument("--replace", action="store_true", help=REPLACE_HELP)


def warehouse_dir(args) -> Path:
    return Path(args.warehouse_dir).resolve()


def export_dir(args) -> Path | None:
    """The export folder, from --export-dir, else ZUORA_EXPORT_DIR, else None (the demo)."""
    given, source = args.export_dir, "--export-dir"
    if given is None:
        given, source = os.environ.get("ZUORA_EXPORT_DIR") or None, "ZUORA_EXPORT_DIR"
    if given is None:
        return None
    path = Path(given).expanduser().resolve()
    if path.is_file():
        raise UsageError(
            f"{given}: this is a file, not a folder (given by {source}); name the folder that holds the export files"
        )
    if not path.is_dir():
        raise UsageError(f"{given}: no such folder (given by {source}); name a folder of Zuora export files")
    return path


def last_build(args) -> tuple[Path, Path | None, Path]:
    """(warehouse folder, export folder, build file) of the input the arguments name, which must have been built."""
    folder, exports = warehouse_dir(args), export_dir(args)
    build_db = build_db_path(folder, exports)
    if not build_db.exists():
        raise UsageError(f"no build at {build_db}: run 'make build' (python -m zuora_wh build) first")
    return folder, exports, build_db
