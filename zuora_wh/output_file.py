"""``python -m zuora_wh export``: the billing-run data-source view, out of the warehouse, as Zuora exports it.

    python -m zuora_wh export --out runs.csv                              # every bill run, Zuora's labels
    python -m zuora_wh export --out runs.parquet --headers names          # snake_case names, typed Parquet
    python -m zuora_wh export --out runs.xlsx                             # an Excel workbook
    python -m zuora_wh export --out q1.csv --date-field target_date --from 2026-01-01 --to 2026-03-31 \\
        --status Posted --status Error --entity Global

The columns are the data source's: every Billing Run field, then every Entity field, under Zuora's labels
(``Billing Run: Billing Run Number``, ..., ``Entity: Name``) or our column names. CSV is written the way Zuora
writes it: nulls as empty fields, datetimes in ISO 8601 in the tenant's time zone with its offset
(``2025-03-09T05:00:00-07:00``; a datetime at exactly midnight as the bare date, as Zuora does), and text that a
spreadsheet would run as a formula (starting with = + - @ ;) behind Zuora's guard apostrophe. Such a file is
itself a valid export: a folder holding it builds the same warehouse. The Excel workbook holds the same text,
with counts as numbers; Parquet holds typed columns, datetimes in UTC.

--from and --to are days in the tenant's time zone (the zone the warehouse was built with, ZUORA_TENANT_TIMEZONE),
both inclusive, on --date-field (default: created_at, the day the run was created).

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

from zuora_wh.columns import BILLING_RUN_FIELDS, ENTITY_FIELDS, Field, csv_injection_characters, statuses
from zuora_wh.errors import UsageError
from zuora_wh.sql import quote_identifier, quote_string

FIELDS: tuple[Field, ...] = BILLING_RUN_FIELDS + ENTITY_FIELDS
DATE_FIELDS = {f.column: f.kind for f in BILLING_RUN_FIELDS if f.kind in ("date", "datetime")}
DEFAULT_DATE_FIELD = "created_at"
FORMATS = (".csv", ".parquet", ".xlsx")
EXCEL_MAX_ROWS = 1_048_575  # a worksheet's rows, less the header


def _local(column: str, tz: str) -> str:
    """A UTC timestamp column as the tenant's wall-clock time."""
    return f"timezone({quote_string(tz)}, timezone('UTC', {column}))"


def _text_value(f: Field, tz: str, guard: bool) -> str:
    """The SQL that writes one field as text, as Zuora's CSV does."""
    c = quote_identifier(f.column)
    if f.kind == "datetime":
        local = _local(c, tz)
        offset = f"cast(epoch({local}) - epoch({c}) as integer)"
        sign = f"case when {offset} < 0 then '-' else '+' end"
        hours = f"lpad(cast(abs({offset}) // 3600 as varchar), 2, '0')"
        minutes = f"lpad(cast(abs({offset}) % 3600 // 60 as varchar), 2, '0')"
        micros = f"microsecond({local}) % 1000000"
        frac = f"case when {micros} <> 0 then '.' || lpad(cast({micros} as varchar), 6, '0') else '' end"
        midnight = f"{local} = date_trunc('day', {local})"
        return (
            f"case when {midnight} then strftime({local}, '%Y-%m-%d') "
            f"else strftime({local}, '%Y-%m-%dT%H:%M:%S') || {frac} || {sign} || {hours} || ':' || {minutes} end"
        )
    if f.kind == "date":
        return f"strftime({c}, '%Y-%m-%d')"
    if f.kind == "integer":
        return c if not guard else f"cast({c} as varchar)"
    if not guard:
        return c
    marks = ", ".join(quote_string(ch) for ch in csv_injection_characters())
    return f"case when left({c}, 1) in ({marks}) then '''' || {c} else {c} end"


def normalise_status(text: str) -> str:
    key = text.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    for status in statuses():
        if status.lower() == key:
            return status
    raise UsageError(f"unknown status {text!r}; use one of: {', '.join(statuses())}")


def build_query(args, tz: str, entities: list[tuple[str, str]], tenants: list[str] = ()) -> tuple[str, list]:
    """The SELECT of the export, with its parameters. ``entities``: (ID, name) of every entity in the warehouse,
    to refuse an --entity that names none; ``tenants``: the warehouse's tenants (an export is one tenant's, as
    Zuora's are: with several, --tenant must name one)."""
    where, params = [], []
    tenant = getattr(args, "tenant", None)
    if tenant is None and len(tenants) > 1:
        raise UsageError(
            f"this warehouse holds {len(tenants)} tenants ({', '.join(tenants)}): an export is one "
            "tenant's, name it with --tenant"
        )
    if tenant is not None:
        if tenants and tenant not in tenants:
            raise UsageError(f"no tenant {tenant!r} in the warehouse; its tenants are: {', '.join(tenants)}")
        where.append("tenant = ?")
        params.append(tenant)
    if args.date_field:
        column = quote_identifier(args.date_field)
        day = f"cast({_local(column, tz)} as date)" if DATE_FIELDS[args.date_field] == "datetime" else column
        if args.date_from:
            where.append(f"{day} >= ?")
            params.append(args.date_from)
        if args.date_to:
            where.append(f"{day} <= ?")
            params.append(args.date_to)
    if args.status:
        where.append(f"status in ({', '.join('?' for _ in args.status)})")
        params += [normalise_status(s) for s in args.status]
    if args.entity:
        known = {value for pair in entities for value in pair if value}
        unknown = [e for e in args.entity if e not in known]
        if unknown:
            names = ", ".join(sorted(name for _, name in entities if name)) or "none: the warehouse has no entity"
            raise UsageError(f"no entity {', '.join(map(repr, unknown))} in the warehouse; its entities are: {names}")
        marks = ", ".join("?" for _ in args.entity)
        where.append(f"(entity_id in ({marks}) or entity_name in ({marks}))")
        params += list(args.entity) * 2
    suffix = args.out.suffix.lower()
    names = args.headers == "labels"
    select = ", ".join(
        (quote_identifier(f.column) if suffix == ".parquet" else _text_value(f, tz, guard=suffix == ".csv"))
        + f" as {quote_identifier(f.header_label if names else f.column)}"
        for f in FIELDS
    )
    sql = f"select {select} from marts.fct_billing_runs"
    if where:
        sql += " where " + " and ".join(where)
    return sql + " order by billing_run_number, billing_run_id", params


def _check_args(args) -> None:
    if args.out.suffix.lower() not in FORMATS:
        raise UsageError(f"{args.out}: the output format follows the extension, one of {', '.join(FORMATS)}")
    if args.date_field and not (args.date_from or args.date_to):
        raise UsageError("--date-field needs --from and/or --to")
    if (args.date_from or args.date_to) and not args.date_field:
        args.date_field = DEFAULT_DATE_FIELD
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise UsageError(f"--from {args.date_from} is after --to {args.date_to}: no day is in that range")


def export(args) -> int:
    _check_args(args)
    db = Path(args.db) if args.db else Path(args.warehouse_dir) / "zuora.duckdb"
    if not db.exists():
        raise UsageError(f"no warehouse at {db}: run 'make build' first")
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    started = time.monotonic()
    con = duckdb.connect(str(db), read_only=True)
    try:
        try:
            (tz,) = con.execute("select tenant_timezone from audit.audit_warehouse_build").fetchone()
        except duckdb.CatalogException:
            raise UsageError(
                f"{db} was built by an older version (no audit.audit_warehouse_build): build it again"
            ) from None
        entities = con.execute("select entity_id, entity_name from marts.dim_entities").fetchall()
        tenant_rows = con.execute("select distinct tenant from marts.fct_billing_runs order by 1").fetchall()
        sql, params = build_query(args, tz, entities, [t for (t,) in tenant_rows])
        rows = con.execute(f"select count(*) from ({sql})", params).fetchone()[0]
        if rows == 0:
            print("warning: no bill run matches the filters; writing the header only", file=sys.stderr)
        print(f"exporting {rows:,} bill runs to {out} ...", file=sys.stderr, flush=True)
        if sys.stderr.isatty() or args.progress:
            # DuckDB's own progress bar, shown for queries that run longer than a moment.
            con.execute("set enable_progress_bar = true")
            con.execute("set enable_progress_bar_print = true")
        suffix = out.suffix.lower()
        if suffix == ".xlsx":
            if rows > EXCEL_MAX_ROWS:
                raise UsageError(
                    f"{rows:,} bill runs do not fit in one worksheet ({EXCEL_MAX_ROWS:,} rows): "
                    "filter the export, or write .csv or .parquet"
                )
            _write_excel(con, sql, params, tmp)
        else:
            fmt = "(format parquet, compression zstd)" if suffix == ".parquet" else "(format csv, header true)"
            con.execute(f"copy ({sql}) to {quote_string(str(tmp))} {fmt}", params)
        os.replace(tmp, out)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    print(f"wrote {rows:,} bill runs to {out} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


def _write_excel(con, sql: str, params: list, path: Path) -> None:
    """One worksheet, written as it streams out of DuckDB (XlsxWriter's constant-memory mode)."""
    import xlsxwriter

    cursor = con.execute(sql, params)
    header = [d[0] for d in cursor.description]
    with xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
    ) as book:
        sheet = book.add_worksheet("Billing Run")
        sheet.write_row(0, 0, header)
        row = 1
        while batch := cursor.fetchmany(10_000):
            for values in batch:
                sheet.write_row(row, 0, ["" if v is None else v for v in values])
                row += 1


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write the billing-run data-source view to CSV, Parquet or Excel",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
    )
    p.add_argument("--out", type=Path, required=True, help="file to write: .csv, .parquet or .xlsx")
    p.add_argument(
        "--headers",
        choices=("labels", "names"),
        default="labels",
        help="Zuora's column labels (Billing Run: Status, the default) or our column names (status)",
    )
    p.add_argument(
        "--date-field",
        choices=sorted(DATE_FIELDS),
        help=f"the date field --from/--to filter on (default: {DEFAULT_DATE_FIELD})",
    )
    p.add_argument(
        "--from",
        dest="date_from",
        type=date.fromisoformat,
        help="first day, YYYY-MM-DD in the tenant's time zone (inclusive)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        type=date.fromisoformat,
        help="last day, YYYY-MM-DD in the tenant's time zone (inclusive)",
    )
    p.add_argument("--status", action="append", help="only this status (API value or UI label); repeatable")
    p.add_argument("--entity", action="append", help="only this entity, by ID or name; repeatable")
    p.add_argument("--tenant", help="the tenant to export (needed when the warehouse holds several)")
    p.add_argument("--db", help="the DuckDB file to read (default: zuora.duckdb of --warehouse-dir)")
    p.add_argument("--progress", action="store_true", help="show DuckDB's progress bar even when not on a terminal")
    p.set_defaults(func=export)
