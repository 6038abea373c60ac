"""``python -m zuora_wh export``: the billing-run data-source view, out of the warehouse, as Zuora exports it.

    python -m zuora_wh export --out runs.csv                              # every bill run, Zuora's labels
    python -m zuora_wh export --out runs.parquet --headers names          # snake_case names, typed Parquet
    python -m zuora_wh export --out q1.csv --date-field target_date --from 2026-01-01 --to 2026-03-31 \\
        --status Posted --status Error --entity Global

The columns are the data source's: every Billing Run field, then every Entity field, under Zuora's labels
(``Billing Run: Billing Run Number``, ..., ``Entity: Name``) or our column names. CSV is written the way Zuora
writes it: nulls as empty fields, datetimes in ISO 8601 with their offset (UTC, ``+00:00``), and text that a
spreadsheet would run as a formula (starting with = + - @ ;) behind Zuora's guard apostrophe. Such a file is
itself a valid export: point ZUORA_EXPORT_DIR at its folder and it builds the same warehouse.

The export reads the published warehouse read-only, so it never blocks a build, and writes its file
atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from zuora_wh.columns import BILLING_RUN_FIELDS, ENTITY_FIELDS, Field
from zuora_wh.sql import quote_identifier, quote_string

FIELDS: tuple[Field, ...] = BILLING_RUN_FIELDS + ENTITY_FIELDS
DATE_FIELDS = {f.column: f.kind for f in BILLING_RUN_FIELDS if f.kind in ("date", "datetime")}
GUARDED = ("=", "+", "-", "@", ";")


def _csv_value(f: Field) -> str:
    """The SQL that writes one field as Zuora's CSV does."""
    c = quote_identifier(f.column)
    if f.kind == "datetime":
        frac = f"case when microsecond({c}) % 1000000 <> 0 then '.' || lpad(cast(microsecond({c}) % 1000000 as varchar), 6, '0') else '' end"  # noqa: E501
        return f"strftime({c}, '%Y-%m-%dT%H:%M:%S') || {frac} || '+00:00'"
    if f.kind == "date":
        return f"strftime({c}, '%Y-%m-%d')"
    if f.kind == "integer":
        return f"cast({c} as varchar)"
    guard = ", ".join(quote_string(ch) for ch in GUARDED)
    return f"case when left({c}, 1) in ({guard}) then '''' || {c} else {c} end"


def build_query(args) -> tuple[str, list]:
    """The SELECT of the export, with its parameters."""
    where, params = [], []
    if args.date_field:
        column = quote_identifier(args.date_field)
        if args.date_from:
            where.append(f"{column} >= ?")
            params.append(args.date_from)
        if args.date_to:
            # inclusive: the whole last day
            where.append(f"{column} < ? + interval 1 day")
            params.append(args.date_to)
    if args.status:
        where.append(f"status in ({', '.join('?' for _ in args.status)})")
        params += [normalise_status(s) for s in args.status]
    if args.entity:
        marks = ", ".join("?" for _ in args.entity)
        where.append(f"(entity_id in ({marks}) or entity_name in ({marks}))")
        params += list(args.entity) * 2
    csv = args.out.suffix.lower() != ".parquet"
    select = ", ".join(
        f"{_csv_value(f) if csv else quote_identifier(f.column)} as {quote_identifier(f.header_label if args.headers == 'labels' else f.column)}"  # noqa: E501
        for f in FIELDS
    )
    sql = f"select {select} from marts.fct_billing_runs"
    if where:
        sql += " where " + " and ".join(where)
    return sql + " order by billing_run_number", params


def normalise_status(text: str) -> str:
    from zuora_wh.columns import STATUSES

    key = text.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    for status in STATUSES:
        if status.lower() == key:
            return status
    raise SystemExit(f"error: unknown status {text!r}; use one of: {', '.join(STATUSES)}")


def export(args) -> int:
    db = Path(args.db) if args.db else Path(args.warehouse_dir) / "zuora.duckdb"
    if not db.exists():
        print(f"error: no warehouse at {db}: run 'make build' first", file=sys.stderr)
        return 2
    if args.date_field and not (args.date_from or args.date_to):
        print("error: --date-field needs --from and/or --to", file=sys.stderr)
        return 2
    if (args.date_from or args.date_to) and not args.date_field:
        args.date_field = "created_at"
    sql, params = build_query(args)
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    started = time.monotonic()
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(f"select count(*) from ({sql})", params).fetchone()[0]
        print(f"exporting {rows:,} bill runs to {out} ...", file=sys.stderr, flush=True)
        if sys.stderr.isatty() or args.progress:
            # DuckDB's own progress bar, shown for queries that run longer than a moment.
            con.execute("set enable_progress_bar = true")
            con.execute("set enable_progress_bar_print = true")
        fmt = "(format parquet, compression zstd)" if out.suffix.lower() == ".parquet" else "(format csv, header true)"
        con.execute(f"copy ({sql}) to {quote_string(str(tmp))} {fmt}", params)
        os.replace(tmp, out)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    print(f"wrote {rows:,} bill runs to {out} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write the billing-run data-source view to CSV or Parquet",
        description=__doc__.split("\n\n")[0],
        epilog="The output format follows the file's extension: .parquet, else CSV.",
    )
    p.add_argument("--out", type=Path, required=True, help="file to write (.csv or .parquet)")
    p.add_argument(
        "--headers",
        choices=("labels", "names"),
        default="labels",
        help="Zuora's column labels (Billing Run: Status, the default) or our column names (status)",
    )
    p.add_argument("--date-field", choices=sorted(DATE_FIELDS), help="the date field --from/--to filter on")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first day, YYYY-MM-DD (inclusive)")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive)")
    p.add_argument("--status", action="append", help="only this status (API value or UI label); repeatable")
    p.add_argument("--entity", action="append", help="only this entity, by ID or name; repeatable")
    p.add_argument("--db", help="the DuckDB file to read (default: zuora.duckdb of --warehouse-dir)")
    p.add_argument("--progress", action="store_true", help="show DuckDB's progress bar even when not on a terminal")
    p.set_defaults(func=export)
