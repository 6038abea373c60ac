"""Scale benchmark: dbt on DuckDB against the same transformation written as plain DuckDB SQL.

    python bench/run.py                       # 1M and 10M bill runs (make bench)
    python bench/run.py --sizes 100000        # a quick look

For each size it generates an export folder (10 overlapping files), then measures, each in a fresh process:
- the full build (`python -m zuora_wh build --full-refresh --no-publish`): wall time, the models-only time
  (sum of the model nodes' execution times in dbt's run_results.json) and peak memory (max RSS);
- an incremental build after a 1% re-export (one new file, 1% of runs changed, 0.1% new runs);
- the baseline: the same read, clean, dedupe, join and write as one plain DuckDB SQL script (below), run by
  the same Python in a child process on the same files, with the same memory limit.
It prints the ratios (dbt ÷ baseline) and writes them to bench/results.md with the machine's cores and memory.
Nothing here is a test: timings on a shared machine vary, so they are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, ENTITY_FIELDS  # noqa: E402
from zuora_wh.generate import write_demo_files, write_demo_reexport  # noqa: E402
from zuora_wh.warehouse import build_db_path  # noqa: E402

MEMORY_LIMIT = "3GB"
FILES = 10

# The baseline: plain DuckDB SQL doing the core of what the dbt project does (all-text read of every file, the
# same cleaning and parsing functions, latest version per bill run, left join to the entities, write a table),
# written as one would by hand. It does not do what the project adds on top: row-level checks and the
# quarantine, file and row lineage, the parsed-versions table that makes builds incremental, the
# reconciliation, the contracts and the data tests.
BASELINE_SQL = """
set TimeZone = 'UTC';
set memory_limit = '{memory_limit}';
set temp_directory = '{temp_dir}';
create or replace macro clean(x) as
    case when trim(x) = '' then null
         when left(trim(x), 1) = '''' and length(trim(x)) > 1 and instr('=+-@;', substr(trim(x), 2, 1)) > 0
             then substr(trim(x), 2)
         else trim(x) end;
create or replace macro ts(x) as coalesce(
    timezone('UTC', coalesce(
        try_strptime(regexp_replace(clean(x), '[Zz]$', '+00:00'), '%Y-%m-%dT%H:%M:%S%z'),
        try_strptime(regexp_replace(clean(x), '[Zz]$', '+00:00'), '%Y-%m-%dT%H:%M:%S.%f%z'))),
    timezone('UTC', timezone('America/Los_Angeles', coalesce(
        try_strptime(clean(x), '%Y-%m-%d'), try_strptime(clean(x), '%Y-%m-%dT%H:%M:%S'),
        try_strptime(clean(x), '%m/%d/%Y')))));
create or replace macro dt(x) as cast(coalesce(
    try_strptime(clean(x), '%Y-%m-%d'), try_strptime(clean(x), '%m/%d/%Y')) as date);
create or replace macro int_(x) as
    case when regexp_full_match(clean(x), '-?[0-9]{{1,18}}') then cast(clean(x) as bigint) end;
create or replace macro status_(x) as case replace(replace(replace(lower(clean(x)), ' ', ''), '_', ''), '-', '')
    when 'pending' then 'Pending' when 'processing' then 'Processing' when 'completed' then 'Completed'
    when 'error' then 'Error' when 'canceled' then 'Canceled' when 'posted' then 'Posted'
    when 'postinprogress' then 'PostInProgress' when 'cancelinprogress' then 'CancelInProgress'
    when 'removeinprogress' then 'RemoveInProgress' when 'paused' then 'Paused' else clean(x) end;
create or replace table runs as
with raw as (
    select * from read_csv({run_files}, header = true, auto_detect = false, all_varchar = true, filename = true,
        columns = {{{run_columns}}})
),
typed as (
    select {run_fields}, filename
    from raw
),
ranked as (
    select *, row_number() over (partition by billing_run_id order by updated_at desc nulls last, filename desc) as rk
    from typed
),
entities as (
    select clean("Entity: ID") as entity_id, clean("Entity: Name") as entity_name,
        clean("Entity: Display Name") as entity_display_name, ts("Entity: Updated Date") as entity_updated_at
    from read_csv({entity_files}, header = true, auto_detect = false, all_varchar = true,
        columns = {{{entity_columns}}})
)
select r.* exclude (rk, filename), e.entity_name, e.entity_display_name, e.entity_updated_at,
    r.total_time_ms / 1000.0 as processing_seconds, epoch(r.started_at) - epoch(r.created_at) as queue_wait_seconds,
    r.status = 'Error' as is_failed
from ranked r left join entities e on r.entity_id = e.entity_id
where r.rk = 1;
select count(*) from runs;
"""


def _columns(fields) -> str:
    """The files' columns for read_csv, every one text: the fields' labels (zuora_wh/columns.py)."""
    return ", ".join(f"'{f.header_label}': 'VARCHAR'" for f in fields)


# How the baseline types each kind of field (the macros of BASELINE_SQL).
BASELINE_PARSER = {
    "id": "clean",
    "text": "clean",
    "run_type": "clean",
    "status": "status_",
    "date": "dt",
    "datetime": "ts",
    "integer": "int_",
}


def _typed(fields) -> str:
    """Every field typed by the baseline's parser for its kind, under its column name."""
    return ",\n        ".join(f'{BASELINE_PARSER[f.kind]}("{f.header_label}") as {f.column}' for f in fields)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` in a fresh child of a fresh process; return (wall seconds, peak RSS in MiB, output)."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "w = time.perf_counter() - t; "
        "print(r.stdout[-20000:] + r.stderr[-20000:]); "
        "print('@@', w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout
    *text, last = out.rstrip().split("\n")
    _, wall, rss_kib, rc = last.split()
    if rc != "0":
        raise SystemExit(f"benchmark step failed ({' '.join(cmd)}):\n" + "\n".join(text[-60:]))
    return float(wall), int(rss_kib) / 1024, "\n".join(text)


def model_seconds(warehouse: Path, export_dir: Path) -> dict[str, float]:
    """Execution time of each model node of the last build (from dbt's run_results.json)."""
    target = build_db_path(warehouse.resolve(), export_dir.resolve()).parent / "target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")}


def build(export_dir: Path, warehouse: Path, full_refresh: bool) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "zuora_wh",
        "--warehouse-dir",
        str(warehouse),
        "build",
        "--export-dir",
        str(export_dir),
        "--no-publish",
        *(["--full-refresh"] if full_refresh else []),
    ]
    env = {"ZUORA_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT, "ZUORA_DUCKDB_TEMP_DIR": str(warehouse / "tmp")}
    wall, rss, _ = timed(cmd, env)
    per_model = model_seconds(warehouse, export_dir)
    return {"wall": wall, "models": sum(per_model.values()), "per_model": per_model, "rss": rss}


def baseline(export_dir: Path, work: Path) -> dict:
    runs = sorted(str(p) for p in export_dir.glob("zuora_billing_run_export*.csv"))
    sql = BASELINE_SQL.format(
        memory_limit=MEMORY_LIMIT,
        temp_dir=work / "tmp",
        run_files=runs,
        entity_files=[str(export_dir / "zuora_entity_export.csv")],
        run_columns=_columns(BILLING_RUN_EXPORT_FIELDS),
        entity_columns=_columns(ENTITY_FIELDS),
        run_fields=_typed(BILLING_RUN_EXPORT_FIELDS),
    )
    script = work / "baseline.sql"
    script.write_text(sql)
    db = work / "baseline.duckdb"
    db.unlink(missing_ok=True)
    code = f"import duckdb; con = duckdb.connect({str(db)!r}); con.execute(open({str(script)!r}).read())"
    wall, rss, _ = timed([sys.executable, "-c", code])
    return {"wall": wall, "rss": rss}


def run_size(n: int, work: Path) -> dict:
    export_dir, warehouse = work / f"exports_{n}", work / f"warehouse_{n}"
    shutil.rmtree(warehouse, ignore_errors=True)
    if not (export_dir / ".complete").exists():
        shutil.rmtree(export_dir, ignore_errors=True)
        print(f"[{n:,}] generating {FILES} overlapping exports ...", flush=True)
        write_demo_files(export_dir, bill_runs=n, files=FILES, overlap=0.02, progress=True, workers=os.cpu_count() or 1)
        (export_dir / ".complete").touch()
    for stale in export_dir.glob("*reexport*.csv"):
        stale.unlink()
    size_mb = sum(p.stat().st_size for p in export_dir.glob("*.csv")) / 2**20
    print(f"[{n:,}] {size_mb:,.0f} MiB of CSV; baseline ...", flush=True)
    base = baseline(export_dir, work)
    print(f"[{n:,}] baseline {base['wall']:.1f}s; dbt full build ...", flush=True)
    full = build(export_dir, warehouse, full_refresh=True)
    print(f"[{n:,}] full {full['wall']:.1f}s (models {full['models']:.1f}s); 1% re-export ...", flush=True)
    write_demo_reexport(export_dir, n, share=0.01, new_runs=n // 1000, name="zuora_billing_run_export_reexport.csv")
    incr = build(export_dir, warehouse, full_refresh=False)
    print(f"[{n:,}] incremental {incr['wall']:.1f}s (models {incr['models']:.1f}s)", flush=True)
    (export_dir / "zuora_billing_run_export_reexport.csv").unlink()
    return {"n": n, "csv_mb": size_mb, "base": base, "full": full, "incr": incr}


def report(results: list[dict]) -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores, {mem:.0f} GiB memory, {platform.platform()}, Python "
        f"{platform.python_version()}; DuckDB memory_limit {MEMORY_LIMIT}. Written by `make bench` "
        f"(bench/run.py) on {time.strftime('%Y-%m-%d')}.",
        "",
        "| bill runs | CSV MiB | baseline s | dbt build s | models s | models ÷ baseline "
        "| peak RSS MiB (dbt / baseline) | incremental s (1% re-export) | incremental ÷ full |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['csv_mb']:,.0f} | {r['base']['wall']:.1f} | {r['full']['wall']:.1f} | "
            f"{r['full']['models']:.1f} | {r['full']['models'] / r['base']['wall']:.2f} | "
            f"{r['full']['rss']:,.0f} / {r['base']['rss']:,.0f} | {r['incr']['wall']:.1f} | "
            f"{r['incr']['wall'] / r['full']['wall']:.2f} |"
        )
    lines += ["", "Where the models' time goes (full build, seconds):", ""]
    for r in results:
        top = sorted(r["full"]["per_model"].items(), key=lambda kv: -kv[1])[:4]
        lines.append(f"- {r['n']:,} bill runs: " + ", ".join(f"{name} {sec:.1f}" for name, sec in top))
    lines += [
        "",
        "Goals at 10M bill runs: models ÷ baseline ≤ 1.5; peak memory < 4 GiB; incremental ÷ full < 0.2.",
        "dbt build time includes checking every export file, dbt's own start-up and parsing, and every data test.",
        "The baseline does the core only (read, clean, parse, dedupe, join, write). The models also run every",
        "row-level check, keep the raw values of rejected rows, find IDs repeated within a file with other values",
        "(a window over every row), store every parsed version for incremental builds, and reconcile every file:",
        "int_zuora__billing_run_versions carries most of that extra work.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "data")
    p.add_argument("--output", type=Path, default=ROOT / "bench" / "results.md")
    args = p.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "tmp").mkdir(exist_ok=True)
    results = [run_size(n, args.work_dir) for n in args.sizes]
    text = report(results)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
