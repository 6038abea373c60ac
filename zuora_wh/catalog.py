"""``make catalog``: write the blocks of YAML and Markdown that list the data source's fields, from the one list
of them (``FIELDS`` in zuora_wh/columns.py).

dbt's YAML cannot be computed when dbt parses it, yet dbt needs each model's columns written out (for the docs,
the contracts and the seeds' types). The lists that are the fields and nothing more (staging, the int models, the
quarantine's raw values, the seeds) are generated here, between marker lines, and never edited by hand (the SQL
is, and tests/python/test_columns.py keeps the two in step):

    # >>> make catalog: NAME
    ...generated...
    # <<< make catalog: NAME

``python -m zuora_wh.catalog`` rewrites every block; ``--check`` only says which are out of date (exit 1), which
``tests/python/test_columns.py`` runs. The marts' YAML is not generated (each column there carries the tests of
its field's rules, written by hand), except the daily model's count per status, one column per status.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from zuora_wh.columns import (
    BILLING_RUN_EXPORT_FIELDS,
    ENTITY_FIELDS,
    ENTITY_ID,
    MART_COLUMNS,
    Field,
    status_column,
    statuses,
)
from zuora_wh.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
TYPES = {
    "id": "varchar (32 lowercase hex)",
    "text": "varchar",
    "status": "varchar (API values)",
    "run_type": "varchar (`Regular`, `CatchUp`)",
    "date": "date",
    "datetime": "timestamp (UTC)",
    "integer": "bigint",
}


def _in_mart_order(fields: tuple[Field, ...]) -> list[Field]:
    return sorted(fields, key=lambda f: MART_COLUMNS.index(f.column))


def _doc_columns(fields: tuple[Field, ...], indent: str) -> list[str]:
    out = []
    for f in _in_mart_order(fields):
        out += [f"{indent}- name: {f.column}", f"{indent}  description: '{{{{ doc(\"{f.column}\") }}}}'"]
    return out


def _text_columns(fields: tuple[Field, ...], indent: str) -> list[str]:
    """Staging keeps the cleaned text of each field it types (dates, datetimes, counts) for the int model's checks."""
    out = []
    for f in _in_mart_order(fields):
        if f.kind in ("date", "datetime", "integer"):
            out += [f"{indent}- name: {f.column}_text", f"{indent}  description: '{{{{ doc(\"field_text\") }}}}'"]
    return out


def _raw_columns(fields: tuple[Field, ...], indent: str) -> list[str]:
    """The quarantine shows each field as written: text, whatever its type."""
    out = []
    for f in _in_mart_order(fields):
        out += [
            f"{indent}- name: {f.column}",
            f"{indent}  description: '{{{{ doc(\"raw_value\") }}}}'",
            f"{indent}  data_type: varchar",
        ]
    return out


def _seed_columns(fields: tuple[Field, ...], indent: str) -> list[str]:
    out = []
    for f in fields:
        out += [
            f'{indent}- name: "{f.header_label}"',
            f"{indent}  description: \"Zuora's field {f.header_label} (API name {f.header_api}), as text exactly as "
            f'written in the export; staging column `{f.column}`."',
        ]
    return out


def _seed_types(fields: tuple[Field, ...], indent: str) -> list[str]:
    return [f'{indent}"{f.header_label}": string' for f in fields]  # text on both engines (DuckDB: varchar)


def _readme_table(_: tuple[Field, ...], indent: str) -> list[str]:
    rows = [f"{indent}| Zuora label | API name | column | type |", f"{indent}|---|---|---|---|"]
    # the entity's ID is in the bill run's export already: every field once
    for f in _in_mart_order(BILLING_RUN_EXPORT_FIELDS + tuple(f for f in ENTITY_FIELDS if f != ENTITY_ID)):
        rows.append(f"{indent}| {f.header_label} | {f.header_api} | `{f.column}` | {TYPES[f.kind]} |")
    return rows


def _status_columns(_: tuple[Field, ...], indent: str) -> list[str]:
    """The daily model's count of runs per status, one column per status of the rule ``statuses``."""
    out = []
    for status in statuses():
        out += [
            f"{indent}- name: {status_column(status)}",
            f"{indent}  description: The number of bill runs created that day whose status is now {status}.",
            f"{indent}  data_type: bigint",
            f"{indent}  constraints:",
            f"{indent}    - type: not_null",
        ]
    return out


STAGING_YML = "models/staging/zuora/_zuora__models.yml"
INT_YML = "models/intermediate/_int_zuora__models.yml"
AUDIT_YML = "models/audit/_audit__models.yml"
SEEDS_YML = "seeds/_zuora__seeds.yml"

# block name -> (file, the fields, how each is written)
BLOCKS: dict[str, tuple[str, tuple[Field, ...], Callable[[tuple[Field, ...], str], list[str]]]] = {
    "stg_zuora__billing_runs": (STAGING_YML, BILLING_RUN_EXPORT_FIELDS, _doc_columns),
    "stg_zuora__billing_runs text": (STAGING_YML, BILLING_RUN_EXPORT_FIELDS, _text_columns),
    "stg_zuora__entities": (STAGING_YML, ENTITY_FIELDS, _doc_columns),
    "stg_zuora__entities text": (STAGING_YML, ENTITY_FIELDS, _text_columns),
    "int_zuora__billing_run_versions": (INT_YML, BILLING_RUN_EXPORT_FIELDS, _doc_columns),
    "int_zuora__entity_versions": (INT_YML, ENTITY_FIELDS, _doc_columns),
    "audit_billing_run_rejects": (AUDIT_YML, BILLING_RUN_EXPORT_FIELDS, _raw_columns),
    "audit_entity_rejects": (AUDIT_YML, ENTITY_FIELDS, _raw_columns),
    "zuora_billing_run_export columns": (SEEDS_YML, BILLING_RUN_EXPORT_FIELDS, _seed_columns),
    "zuora_entity_export columns": (SEEDS_YML, ENTITY_FIELDS, _seed_columns),
    "zuora_billing_run_export types": ("dbt_project.yml", BILLING_RUN_EXPORT_FIELDS, _seed_types),
    "zuora_entity_export types": ("dbt_project.yml", ENTITY_FIELDS, _seed_types),
    "column mapping": ("README.md", (), _readme_table),
    "fct_billing_run_daily statuses": ("models/marts/_marts__models.yml", (), _status_columns),
}


def _markers(path: str, name: str) -> tuple[str, str]:
    if path.endswith(".md"):
        return f"<!-- >>> make catalog: {name} -->", f"<!-- <<< make catalog: {name} -->"
    return f"# >>> make catalog: {name}", f"# <<< make catalog: {name}"


def render(text: str, path: str, name: str) -> str:
    """``text`` with the block ``name`` written anew (its marker lines say where, and how far to indent)."""
    begin, end = _markers(path, name)
    match = re.search(rf"^([ \t]*){re.escape(begin)}\n(.*?)^[ \t]*{re.escape(end)}$", text, flags=re.M | re.S)
    if match is None:
        raise UsageError(f"{path}: no block {name!r} (marker lines {begin!r} ... {end!r})")
    indent = match.group(1)
    _, fields, write = BLOCKS[name]
    body = "\n".join(write(fields, indent)) + "\n"
    return text[: match.start(2)] + body + text[match.end(2) :]


def update(check: bool = False) -> list[str]:
    """Write every block (or, with ``check``, only compare); returns the files that were, or are, out of date."""
    stale = []
    for path in dict.fromkeys(path for path, _, _ in BLOCKS.values()):
        file = ROOT / path
        before = file.read_text()
        after = before
        for name, (block_path, _, _) in BLOCKS.items():
            if block_path == path:
                after = render(after, path, name)
        if after != before:
            stale.append(path)
            if not check:
                file.write_text(after)
    return stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zuora_wh.catalog", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only say which files are out of date (exit 1 if any)")
    args = p.parse_args(argv)
    stale = update(check=args.check)
    for path in stale:
        print(f"{path}: {'out of date: run make catalog' if args.check else 'written'}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
