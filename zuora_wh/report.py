"""``python -m zuora_wh report``: the one-screen summary of a build (files read, rows loaded, rejected by reason,
superseded, what it was built from and as of when); with ``--html``, the bill-run health page (``html_report``)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from zuora_wh import options
from zuora_wh.errors import UsageError
from zuora_wh.warehouse import served_db

# The warning test of the bill run numbers that several IDs share (models/marts/_marts__models.yml): when the dbt run
# that built the warehouse ran it and it found none, the summary does not look for them again (a scan of every
# run's number: 1 s at 10M bill runs).
SHARED_NUMBERS_TEST = "fct_billing_runs__billing_run_number_is_unique_per_tenant"


def no_shared_numbers(run_results: Path) -> bool:
    """Whether the dbt run that wrote ``run_results`` ran SHARED_NUMBERS_TEST, and it passed."""
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return False
    return any(r["unique_id"].split(".")[2] == SHARED_NUMBERS_TEST and r["status"] == "pass" for r in results)


def summary(db: Path, run_results: Path | None = None) -> str:
    """The summary of the warehouse ``db``; ``run_results``: the dbt run that just built it (SHARED_NUMBERS_TEST)."""
    with duckdb.connect(str(db), read_only=True) as con:
        files = con.execute(
            "select source_file, record_type, file_format, rows_read, rows_loaded, rows_rejected, rows_superseded, "
            "rows_unaccounted from audit.audit_export_file_reconciliation order by source_file, record_type"
        ).fetchall()
        reasons = con.execute(
            "select reason, count(*) from ("
            "  select unnest(string_split(reject_reasons, ',')) as reason from audit.audit_billing_run_rejects"
            "  union all"
            "  select 'entity: ' || unnest(string_split(reject_reasons, ',')) from audit.audit_entity_rejects"
            ") group by 1 order by 2 desc, 1"
        ).fetchall()
        shared = []
        if run_results is None or not no_shared_numbers(run_results):
            # per tenant, as the test (each tenant numbers its own runs); the numbers first: listing the IDs of
            # every number would take seconds at 1M runs
            shared = con.execute(
                "select case when tenant = 'default' then '' else tenant || ' ' end || billing_run_number, "
                "string_agg(billing_run_id, ', ' order by billing_run_id) "
                "from marts.fct_billing_runs where (tenant, billing_run_number) in ("
                "  select (tenant, billing_run_number) from marts.fct_billing_runs group by all having count(*) > 1"
                ") group by tenant, billing_run_number order by 1"
            ).fetchall()
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
        # (a warehouse built by an older version has neither table)
        ignored = []
        if "raw.ignored_files" in tables:
            ignored = con.execute("select file, reason from raw.ignored_files order by 1").fetchall()
        unavailable = []
        if "raw.unavailable_fields" in tables:
            unavailable = con.execute(
                "select coalesce(tenant, 'default'), field, reason from raw.unavailable_fields order by all"
            ).fetchall()
        info = None
        if "audit.audit_warehouse_build" in tables:
            info = con.execute("select built_from, built_at, data_as_of from audit.audit_warehouse_build").fetchone()
        runs, unknown = con.execute(
            "select count(*), count(*) filter (where has_unknown_entity) from marts.fct_billing_runs"
        ).fetchone()
    if info is not None and info[0] != "demo":  # paths relative to the export folder: short, and what users know
        prefix = info[0].rstrip("/") + "/"
        files = [(f[0].removeprefix(prefix), *f[1:]) for f in files]
        ignored = [(f.removeprefix(prefix), reason) for f, reason in ignored]
    width = max([len(f[0]) for f in files] + [10])
    fwidth = max([len(f[2]) for f in files] + [6])
    lines = [
        f"{'file':<{width}}  {'format':<{fwidth}}  {'records':<11} {'read':>9} {'loaded':>9} {'rejected':>9} "
        f"{'superseded':>10}"
    ]
    for file, record_type, file_format, read, loaded, rejected, superseded, unaccounted in files:
        flag = f"  UNACCOUNTED {unaccounted}" if unaccounted else ""
        lines.append(
            f"{file:<{width}}  {file_format:<{fwidth}}  {record_type:<11} {read:>9,} {loaded:>9,} {rejected:>9,} "
            f"{superseded:>10,}{flag}"
        )
    total = [sum(f[i] for f in files if f[1] == "billing_run") for i in range(3, 7)]
    lines.append(
        f"{len(files)} file records; bill runs: {total[0]:,} rows read, {total[1]:,} loaded, {total[2]:,} rejected, "
        f"{total[3]:,} superseded; fct_billing_runs holds {runs:,} bill runs, {unknown:,} with an unknown entity"
    )
    if reasons:
        lines.append("rejected, by reason (a row can have several): " + ", ".join(f"{r} {n:,}" for r, n in reasons))
        lines.append(
            "see audit.audit_billing_run_rejects and audit.audit_entity_rejects for the rows, their files and values"
        )
    if info is not None:
        as_of = (
            "no bill run" if info[2] is None else f"data as of {info[2]:%Y-%m-%d %H:%M:%S} UTC (latest Updated Date)"
        )
        lines.append(f"input: {info[0]}; built {info[1]:%Y-%m-%d %H:%M:%S} UTC; {as_of}")
    if ignored:
        lines.append(f"ignored, not exports: {', '.join(file for file, _ in ignored)}")
    by_reason: dict[tuple[str, str], list[str]] = {}
    for tenant, field, reason in unavailable:
        by_reason.setdefault((tenant, reason), []).append(field)
    for (tenant, reason), fields in by_reason.items():
        shown = ", ".join(fields[:3]) + (f" and {len(fields) - 3} more" if len(fields) > 3 else "")
        lines.append(f"tenant {tenant}: no {shown}: {reason}; the column{'s are' if len(fields) > 1 else ' is'} empty")
    if shared:
        shown = "; ".join(f"{number} ({ids})" for number, ids in shared[:5])
        more = f"; and {len(shared) - 5} more" if len(shared) > 5 else ""
        lines.append(
            f"warning: {len(shared):,} bill run number(s) shared by several IDs, each kept as its own bill run: "
            f"{shown}{more}"
        )
    return "\n".join(lines)


def report(args) -> int:
    db = served_db(options.warehouse_dir(args))
    if not db.exists():
        raise UsageError(f"no warehouse at {db}: run 'make build' first")
    print(summary(db))
    if args.html:
        from zuora_wh.html_report import write

        written = write(db, Path(args.html).expanduser().resolve())
        print(f"report: {written[0]} (and {len(written) - 1} PNG charts beside it)")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="the summary of the published build: files, rows loaded, rejected, superseded")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write the bill-run health page (charts, stuck runs) to FILE, and a PNG of each chart beside it",
    )
    p.set_defaults(func=report)
