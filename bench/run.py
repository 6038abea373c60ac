"""Scale benchmark: the warehouse's builds against the core of the same job written as plain DuckDB SQL.

    python bench/run.py                       # 1M and 10M bill runs, 3 runs of each (make bench)
    python bench/run.py --sizes 100000 --runs 1   # a quick look

For each size it generates an export folder (10 overlapping files; kept in bench/data/ for the next run), then
measures, each step a whole process (wall time, the peak resident memory of its largest process, and the CPU
seconds of all of them):
- first, a build's fixed part: the full build of a folder of FIXED_SIZE bill runs, what any build costs before the
  data adds to it;
- the baseline: the read, clean, parse, dedupe, join and write of the data source as one plain DuckDB SQL script
  (BASELINE_SQL), run by the same Python on the same files with the same memory limit; and in turn with it, a full
  build into a fresh warehouse folder, published (``python -m zuora_wh build --export-dir ...``), as a user runs it;
- a build with nothing changed (the warehouse is current);
- an incremental build after a 1% re-export (a new file: the newest 1% of the runs one step further, as Zuora's Updated
  Date window brings them, and 0.1% new runs);
- a scheduled refresh, as a scheduler runs it (``python -m zuora_wh refresh --no-metrics``): its extract pulls a 0.1%
  delta from the stand-in for Zuora's API of the tests (tests/python/fake_zuora.py, on 127.0.0.1, its AQuA jobs done
  after two polls 0.1 s apart: Zuora's own job time is not ours to measure), then its build loads it and publishes,
  and the alerts read the result.
Each is run ``--runs`` times, and the medians are reported, with the ratios to the baseline and to the full build
and the time of each step of the full build and of the re-export's as the build printed it, in bench/results.md
(with the date and the machine). Nothing here is a test: timings on a shared machine vary, so they are reported,
never asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "python"))  # the stand-in for Zuora's API

from fake_zuora import FakeZuora, api_record  # noqa: E402

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, BILLING_RUN_FIELDS, ENTITY_FIELDS  # noqa: E402
from zuora_wh.generate import write_demo_files, write_demo_reexport  # noqa: E402
from zuora_wh.tenants import STATE_FILE  # noqa: E402
from zuora_wh.warehouse import build_db_path, memory_limit  # noqa: E402

FILES = 10

# The baseline: plain DuckDB SQL doing the core of what the dbt project does (all-text read of every file, the
# same cleaning and parsing functions, latest version per bill run, left join to the entities, write a table),
# written as one would by hand (its clean() trims every value; the project's zuora_clean_text first lets through the
# values that need no cleaning, a rule of its own: DECISIONLOG, Performance rules). It does not do what the project
# adds on top: row-level checks and the
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


def timed(cmd: list[str], env: dict[str, str] | None = None, ok=(0,)) -> tuple[float, float, float, str]:
    """Run ``cmd`` in a fresh child of a fresh process; return (wall seconds, peak RSS in MiB, CPU seconds, output).
    The CPU seconds are user and system time of the child and every process it waited for (dbt's among them). An
    exit code not in ``ok`` stops the benchmark."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "w = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(r.stdout + r.stderr); "
        "print('@@', w, u.ru_maxrss, u.ru_utime + u.ru_stime, r.returncode)"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout
    *text, last = out.rstrip().split("\n")
    _, wall, rss_kib, cpu, rc = last.split()
    if int(rc) not in ok:
        raise SystemExit(f"benchmark step failed ({' '.join(cmd)}):\n" + "\n".join(text[-60:]))
    return float(wall), int(rss_kib) / 1024, float(cpu), "\n".join(text)


# The build's last lines: "published ... in 16.6s", then "  where the time went: checking the export files 1.0s,
# dbt 13.0s, ..." (zuora_wh.build.Steps).
STEPS = re.compile(r"^published .* in [0-9.]+s\n  where the time went: (.*)$", re.MULTILINE)


def steps_of(output: str) -> dict[str, float]:
    """The seconds of each step a published build printed (none for a build that found the warehouse current)."""
    found = STEPS.search(output)
    if not found:
        return {}
    return {name: float(seconds) for name, seconds in re.findall(r"([^,]+?) ([0-9.]+)s(?:, |$)", found.group(1))}


def model_seconds(warehouse: Path, export_dir: Path) -> dict[str, float]:
    """Execution time of each model node of the last build (from dbt's run_results.json)."""
    target = build_db_path(warehouse.resolve(), export_dir.resolve()).parent / "target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")}


def _env(warehouse: Path) -> dict[str, str]:
    """The settings of every build: one spill folder for all (the baseline's), since dbt parses the project again
    when a setting of its profile changes, and the builds of every size then share one parse. The memory limit is
    the one a build sets itself (``build_memory_limit``), which the baseline is given too."""
    return {"ZUORA_DUCKDB_TEMP_DIR": str(warehouse.parent / "tmp")}


def build_memory_limit(export_dir: Path) -> str:
    """The memory limit a build of the folder sets (``zuora_wh.warehouse.memory_limit``: the user's
    ZUORA_DUCKDB_MEMORY_LIMIT, else from the rows of its export files), for the baseline: the generated files hold
    one row on each line after the header."""
    rows = 0
    for path in export_dir.glob("*.csv"):
        with path.open("rb") as fh:
            rows += sum(chunk.count(b"\n") for chunk in iter(lambda fh=fh: fh.read(1 << 24), b"")) - 1
    return memory_limit(rows)


def zuora_wh(warehouse: Path, command: str, export_dir: Path, *more: str) -> list[str]:
    """The command line of ``python -m zuora_wh COMMAND`` on the warehouse folder and the export folder."""
    return [
        sys.executable,
        "-m",
        "zuora_wh",
        "--warehouse-dir",
        str(warehouse),
        command,
        "--export-dir",
        str(export_dir),
        *more,
    ]


def build(export_dir: Path, warehouse: Path) -> dict:
    """``python -m zuora_wh build`` of the folder, published, as a user runs it."""
    wall, rss, cpu, out = timed(zuora_wh(warehouse, "build", export_dir), _env(warehouse))
    return {"wall": wall, "rss": rss, "cpu": cpu, "steps": steps_of(out), "current": "the warehouse is current" in out}


def baseline(export_dir: Path, work: Path, limit: str) -> dict:
    runs = sorted(str(p) for p in export_dir.glob("zuora_billing_run_export*.csv"))
    sql = BASELINE_SQL.format(
        memory_limit=limit,
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
    wall, rss, cpu, _ = timed([sys.executable, "-c", code])
    return {"wall": wall, "rss": rss, "cpu": cpu}


# What a bench run adds to the export folder, removed before the next: re-exports, the extractor's files and state.
ADDED = ("bench-reexport-*.csv", "billing-runs-*.csv", STATE_FILE)


def export_folder(n: int, work: Path) -> Path:
    """The export folder of ``n`` bill runs: generated once, then kept; what an earlier bench run added is removed."""
    export_dir = work / f"exports_{n}"
    if not (export_dir / ".complete").exists():
        shutil.rmtree(export_dir, ignore_errors=True)
        print(f"[{n:,}] generating {FILES} overlapping exports ...", flush=True)
        write_demo_files(export_dir, bill_runs=n, files=FILES, overlap=0.02, progress=True, workers=os.cpu_count() or 1)
        (export_dir / ".complete").touch()
    for pattern in ADDED:
        for added in export_dir.glob(pattern):
            added.unlink()
    return export_dir


def delta_tenant(n: int, work: Path) -> tuple[dict, dict]:
    """A tenant for the stand-in for Zuora's API that holds the newest 0.1% of the history's runs, changed since the
    export folder was written (later versions of its runs), and its entities, as AQuA answers them."""
    delta = write_demo_reexport(work / "delta", n, share=0.001, name="delta.csv")
    with delta.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    runs = {}
    for row in rows:
        record = api_record(row, BILLING_RUN_FIELDS, "Billing Run", "BillingRun", "America/Los_Angeles")
        runs[record["BillingRun.Id"]] = {**record, "Entity.Id": row["Entity: ID"]}
    with (work / f"exports_{n}" / "zuora_entity_export.csv").open(encoding="utf-8", newline="") as fh:
        entities = {
            r["Entity: ID"]: api_record(r, ENTITY_FIELDS, "Entity", "Entity", "America/Los_Angeles")
            for r in csv.DictReader(fh)
        }
    return runs, entities


def refresh(export_dir: Path, warehouse: Path, fake: FakeZuora) -> dict:
    """A scheduled refresh as a scheduler runs it (``python -m zuora_wh refresh``; without the metrics, which the
    goal leaves out): extract what changed from the stand-in for Zuora, build and publish, then the alerts (exit code
    1 when one fires: the generated history has stuck runs)."""
    env = {
        **_env(warehouse),
        "ZUORA_BASE_URL": fake.url,
        "ZUORA_CLIENT_ID": "bench",
        "ZUORA_CLIENT_SECRET": "bench-secret",
    }
    cmd = zuora_wh(warehouse, "refresh", export_dir, "--poll-interval", "0.1", "--no-metrics")
    wall, rss, cpu, out = timed(cmd, env, ok=(0, 1))
    steps = steps_of(out)
    if "dbt" not in steps:
        raise SystemExit(f"the refresh built nothing:\n{out[-3000:]}")
    return {"wall": wall, "rss": rss, "cpu": cpu, "steps": steps}


# The export folder whose full build shows a build's fixed part: what it costs at any size (starting dbt, reading
# its parse, the work dbt does for each of its nodes, publishing's own steps), with almost no data to work on.
FIXED_SIZE = 1_000


def fixed_part(work: Path, runs: int) -> list[dict]:
    """Full builds of FIXED_SIZE bill runs (the same layout of files as the sizes measured), each into a fresh folder.
    One build first, not measured: dbt parses the project again after any change to it, and caches the parse for
    every build after (as a user's builds after the first), so that no measured build of the benchmark parses."""
    export_dir, warehouse = export_folder(FIXED_SIZE, work), work / f"warehouse_{FIXED_SIZE}"
    builds = []
    for i in range(runs + 1):
        shutil.rmtree(warehouse, ignore_errors=True)
        built = build(export_dir, warehouse)
        if i:
            builds.append(built)
    print(f"[{FIXED_SIZE:,}] the fixed part, a full build: {median(builds):.1f}s", flush=True)
    return builds


def median(runs: list[dict], key: str = "wall") -> float:
    return statistics.median(r[key] for r in runs)


def spread(ratios: list[float]) -> str:
    """The lowest and highest of a ratio over the runs, shown beside its median: how far the machine moved it."""
    return f"{min(ratios):.2f} to {max(ratios):.2f}"


def run_size(n: int, work: Path, runs: int) -> dict:
    export_dir, warehouse = export_folder(n, work), work / f"warehouse_{n}"
    size_mb = sum(p.stat().st_size for p in export_dir.glob("*.csv")) / 2**20
    limit = build_memory_limit(export_dir)
    base, full = [], []
    for i in range(runs):
        base.append(baseline(export_dir, work, limit))
        shutil.rmtree(warehouse, ignore_errors=True)
        full.append(build(export_dir, warehouse))
        print(f"[{n:,}] run {i + 1}: baseline {base[-1]['wall']:.1f}s, full build {full[-1]['wall']:.1f}s", flush=True)
    per_model = model_seconds(warehouse, export_dir)
    noop = [build(export_dir, warehouse) for _ in range(runs)]
    assert all(r["current"] for r in noop), "a build with nothing changed did not find the warehouse current"
    print(f"[{n:,}] nothing changed: {median(noop):.2f}s", flush=True)
    incr = []
    for i in range(runs):
        write_demo_reexport(export_dir, n, share=0.01, new_runs=n // 1000, name=f"bench-reexport-{i}.csv")
        incr.append(build(export_dir, warehouse))
    print(f"[{n:,}] 1% re-export: {median(incr):.1f}s", flush=True)
    runs_changed, entities = delta_tenant(n, work)
    fresh = []
    with FakeZuora("bench", "bench-secret", runs_changed, entities, polls_to_complete=2) as fake:
        for i in range(runs):
            if i:  # the same runs change again, and the tenant's clock moves past the extract's window
                for run_id in runs_changed:
                    fake.update(run_id, Name=f"bench refresh {i}")
                fake.advance(hours=3)
            fresh.append(refresh(export_dir, warehouse, fake))
    print(f"[{n:,}] refresh of a 0.1% delta: {median(fresh):.1f}s", flush=True)
    for pattern in ADDED:
        for added in export_dir.glob(pattern):
            added.unlink()
    return {
        "n": n,
        "csv_mb": size_mb,
        "memory_limit": limit,
        "runs": runs,
        "base": base,
        "full": full,
        "noop": noop,
        "incr": incr,
        "refresh": fresh,
        "per_model": per_model,
    }


GOALS = (
    "Goals: a build with nothing changed under 2 s; a 0.1% refresh (extract, build, publish) at most 8 s at 1M bill "
    "runs; the full build within 2.5 times the baseline, its peak memory within 2 times the baseline's and under "
    "4 GiB, at 1M and 10M; an incremental build after a 1% re-export under 0.15 of a full one at 10M."
)


def report(results: list[dict], fixed: list[dict]) -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores, {mem:.0f} GiB memory, {platform.platform()}, Python "
        f"{platform.python_version()}; DuckDB's memory_limit the one a build sets, the baseline's the same ("
        + ", ".join(f"{r['memory_limit']} at {r['n']:,}" for r in results)
        + "). Written by `make bench` "
        f"(bench/run.py) on {time.strftime('%Y-%m-%d')}; each figure the median of the runs shown, and beside a "
        "ratio its lowest and highest over the runs (each full build over the baseline run just before it, each "
        "re-export over the median full build).",
        "",
        "| bill runs | CSV MiB | runs | baseline s | full build s | full ÷ baseline | peak MiB (full / baseline) "
        "| peak ÷ baseline | nothing changed s | 1% re-export s | ÷ full | 0.1% refresh s (its dbt step) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        base, full, incr = median(r["base"]), median(r["full"]), median(r["incr"])
        base_rss, full_rss = median(r["base"], "rss"), median(r["full"], "rss")
        lines.append(
            f"| {r['n']:,} | {r['csv_mb']:,.0f} | {r['runs']} | {base:.1f} | {full:.1f} | {full / base:.2f} "
            f"({spread([f['wall'] / b['wall'] for f, b in zip(r['full'], r['base'], strict=True)])}) | "
            f"{full_rss:,.0f} / {base_rss:,.0f} | {full_rss / base_rss:.2f} | {median(r['noop']):.2f} | "
            f"{incr:.1f} | {incr / full:.2f} ({spread([i['wall'] / full for i in r['incr']])}) | "
            f"{median(r['refresh']):.1f} ({statistics.median(f['steps']['dbt'] for f in r['refresh']):.1f}) |"
        )
    fixed_wall = median(fixed)
    fixed_steps = ", ".join(
        f"{name} {statistics.median(run['steps'].get(name, 0.0) for run in fixed):.1f}"
        for name in ("checking the export files", "dbt", "publishing")
    )
    lines += [
        "",
        f"A build's fixed part, the same at any size: a full build of {FIXED_SIZE:,} bill runs (the same layout of "
        f"files) takes {fixed_wall:.1f} s ({fixed_steps}): dbt's start, its parse and its work for each of its nodes, "
        "with almost no data. Over each size's baseline, the fixed part and the rest of the full build:",
        "",
        "| bill runs | fixed part ÷ baseline | (full build - fixed part) ÷ baseline |",
        "|---:|---:|---:|",
    ]
    for r in results:
        base = median(r["base"])
        lines.append(f"| {r['n']:,} | {fixed_wall / base:.2f} | {(median(r['full']) - fixed_wall) / base:.2f} |")
    lines += [
        "",
        "Where a build's time goes, and its work: the steps the build printed (seconds, medians), and the CPU "
        "seconds (user and system) of the build's processes, dbt's among them, beside the baseline's:",
        "",
        "| bill runs | build | checking the export files | dbt | publishing | the rest | CPU s | ÷ baseline's CPU s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        names = ("checking the export files", "dbt", "publishing", "the rest")
        base_cpu = median(r["base"], "cpu")
        for kind, builds in (("full", r["full"]), ("1% re-export", r["incr"])):
            steps = [statistics.median(run["steps"].get(name, 0.0) for run in builds) for name in names]
            cpu = median(builds, "cpu")
            ratio = f"{cpu / base_cpu:.2f} ({base_cpu:.1f} s)" if kind == "full" else ""
            lines.append(
                f"| {r['n']:,} | {kind} | " + " | ".join(f"{x:.1f}" for x in steps) + f" | {cpu:.1f} | {ratio} |"
            )
    lines += ["", "Where the models' time goes (the last full build, seconds):", ""]
    for r in results:
        top = sorted(r["per_model"].items(), key=lambda kv: -kv[1])[:4]
        lines.append(f"- {r['n']:,} bill runs: " + ", ".join(f"{name} {sec:.1f}" for name, sec in top))
    lines += [
        "",
        GOALS,
        "",
        "The full build is what a user runs: it checks every export file, starts dbt, builds every model, runs every",
        "data test, and publishes (the served file and the Parquet files). The baseline does the core only (read,",
        "clean, parse, dedupe, join, write one table). The build also runs every row-level check, keeps the raw values",
        "of rejected rows, finds IDs repeated within a file with other values, stores every parsed version for",
        "incremental builds, reconciles every file, builds the analyst layer and tests it all.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--runs", type=int, default=3, help="runs of each measurement; the medians are reported")
    p.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "data")
    p.add_argument("--output", type=Path, default=ROOT / "bench" / "results.md")
    args = p.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "tmp").mkdir(exist_ok=True)
    fixed = fixed_part(args.work_dir, args.runs)
    results = [run_size(n, args.work_dir, args.runs) for n in args.sizes]
    text = report(results, fixed)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
