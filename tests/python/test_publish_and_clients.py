"""Safe publishing and real clients: BI tools read while dbt builds, and a failed build publishes nothing.

Real processes throughout, no mock of DuckDB: a reader process holds the served file open read-only (as a BI
tool does) while ``make build`` runs; SQLAlchemy with duckdb-engine (Superset's driver), the DuckDB command-line
client and polars read what was published; the export command round-trips.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
import sqlalchemy
import yaml
from helpers import ROOT, mart_rows, memory_limit_set, query, read_csv, write_csv, zuora_wh

from zuora_wh import current
from zuora_wh.generate import write_demo_files
from zuora_wh.warehouse import (
    MEMORY_LIMIT,
    MEMORY_LIMIT_SETTING,
    SPILL_DIR,
    connect_within_limits,
    memory_limit,
    wal_of,
)

BIN = Path(sys.executable).parent


def bench_steps_of(output: str) -> dict[str, float]:
    """bench/run.py's reading of a build's last lines (the benchmark is a script, not a module of the package)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.steps_of(output)


def digest(path: Path) -> str:
    """A file's content, or a folder's: every file under it, by its path in the folder."""
    if path.is_dir():
        files = {str(p.relative_to(path)): digest(p) for p in sorted(path.rglob("*")) if p.is_file()}
        return hashlib.sha256(json.dumps(files).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parquet_files(parquet: Path) -> dict[str, int]:
    """Every Parquet file of the published folder (``<table>/<part>.parquet``) and its modification time."""
    return {str(p.relative_to(parquet)): p.stat().st_mtime_ns for p in parquet.glob("*/*.parquet")}


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    """The demo warehouse, built and published by ``make build`` into a folder of its own."""
    warehouse = tmp_path_factory.mktemp("demo") / "warehouse"
    result = subprocess.run(
        ["make", "build"],
        cwd=ROOT,
        env={**os.environ, "ZUORA_WAREHOUSE_DIR": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "The warehouse is" in result.stdout
    return warehouse


READER = textwrap.dedent(
    """
    import os, sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    ok = failed = 0
    counts = set()
    print("ready", flush=True)
    deadline = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < deadline and not os.path.exists(sys.argv[2]):
        try:
            counts.add(con.execute("select count(*) from marts.fct_billing_runs").fetchone()[0])
            ok += 1
        except Exception as e:
            failed += 1
            print("failed:", e, flush=True)
        time.sleep(0.02)
    print("done", ok, failed, sorted(counts), flush=True)
    """
)


def read_while(served: Path, stop: Path, seconds: float) -> subprocess.Popen:
    """A reader that holds the served file open and queries it every 20 ms until ``stop`` exists (or ``seconds``
    pass), then says how many queries worked, how many failed, and the row counts it saw."""
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(served), str(stop), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout.readline().strip() == "ready"
    return reader


def finished(reader: subprocess.Popen, stop: Path) -> tuple[int, int, str]:
    stop.touch()
    out = reader.communicate(timeout=30)[0]
    _, ok, failed, counts = out.splitlines()[-1].split(" ", 3)
    return int(ok), int(failed), counts


def test_a_build_with_nothing_changed_does_nothing(demo_warehouse):
    """Nothing changed since the last publish (the files, the settings, the project): the build says the warehouse
    is current and rewrites nothing, and so do the metrics (make build answered them). A changed setting, or a
    published file that is gone, makes the next build build and publish again."""
    served = demo_warehouse / "zuora.duckdb"
    before = served.stat().st_mtime_ns, digest(served)
    again = zuora_wh("build", warehouse=demo_warehouse)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("the warehouse is current: nothing changed since the build published at ")
    assert (served.stat().st_mtime_ns, digest(served)) == before
    metrics = zuora_wh("metrics", warehouse=demo_warehouse)
    assert metrics.returncode == 0 and metrics.stdout.startswith("metrics: current"), metrics.stdout
    parquet = demo_warehouse / "parquet"
    written = parquet_files(parquet)
    setting = zuora_wh("build", warehouse=demo_warehouse, env={"ZUORA_DUCKDB_MEMORY_LIMIT": "2GB"})
    assert setting.returncode == 0 and "published " in setting.stdout, setting.stdout[-2000:]
    assert "memory: DuckDB may use 2GB (ZUORA_DUCKDB_MEMORY_LIMIT)\n" in setting.stdout
    assert memory_limit_set(demo_warehouse / "build" / "demo") == "2GB"
    # its last lines say where its time went (the demo has no export files to check), as the benchmark reads them
    published, steps = setting.stdout.rstrip().splitlines()[-2:]
    assert re.fullmatch(r"published \S+ and \S+/ in [0-9.]+s", published), published
    assert re.fullmatch(r"  where the time went: dbt [0-9.]+s, publishing [0-9.]+s, the rest [0-9.]+s", steps), steps
    assert list(bench_steps_of(setting.stdout)) == ["dbt", "publishing", "the rest"]
    # the same data: only the table that says when it was built gets a new Parquet file, and the fact's files of
    # the quarters whose runs the build wrote again with its stamp (the demo's seeds are new files at every build)
    rewritten = {name for name, mtime in parquet_files(parquet).items() if mtime != written[name]}
    stamped = query(
        served,
        "select distinct 'fct_billing_runs/' || strftime(created_at, '%Y-Q') || quarter(created_at) || '.parquet' from "
        "marts.fct_billing_runs where _written_at = (select max(_written_at) from marts.fct_billing_runs)",
    )
    assert len(stamped) > 6 and rewritten == {"audit_warehouse_build/all.parquet", *(m for (m,) in stamped)}
    # dbt's unit tests run in make test, and in a build only when asked (the flag is no "current" build either);
    # without the Parquet folder's record, every Parquet file is written again
    assert "unit_test" not in ran_resource_types(demo_warehouse)
    (parquet / ".fingerprints.json").unlink()
    asked = zuora_wh("build", "--unit-tests", warehouse=demo_warehouse, env={"ZUORA_DUCKDB_MEMORY_LIMIT": "2GB"})
    assert asked.returncode == 0 and "published " in asked.stdout, asked.stdout[-2000:]
    assert "unit_test" in ran_resource_types(demo_warehouse)
    assert all(mtime != written[name] for name, mtime in parquet_files(parquet).items())
    assert query(served, "select count(*) from marts.fct_billing_runs") == [(720,)]


def test_the_warehouse_is_current_only_while_the_published_files_are_as_published(tmp_path):
    """The record a publish leaves answers "current" only for the same settings and the same published files: a
    published file rewritten or gone, or other settings, and the build goes on."""
    served, record = tmp_path / "zuora.duckdb", tmp_path / "parquet" / ".fingerprints.json"
    record.parent.mkdir()
    served.write_bytes(b"the served file")
    record.write_text("{}")
    current.remember(tmp_path, "settings", [served, record], "2026-11-29 10:00:00 UTC")
    assert current.published_at(tmp_path, "settings", [served, record]) == "2026-11-29 10:00:00 UTC"
    assert current.published_at(tmp_path, "other settings", [served, record]) is None
    record.unlink()
    assert current.published_at(tmp_path, "settings", [served, record]) is None
    record.write_text("{}")
    served.write_bytes(b"another build's file")
    assert current.published_at(tmp_path, "settings", [served, record]) is None


def ran_resource_types(warehouse: Path) -> set[str]:
    run_results = warehouse / "build" / "demo" / "target" / "run_results.json"
    return {r["unique_id"].split(".")[0] for r in json.loads(run_results.read_text())["results"]}


def test_reader_loop_reports_success(tmp_path, demo_warehouse):
    """The reader script itself works: it counts successful queries and the row count it saw, and stops when told."""
    reader = read_while(demo_warehouse / "zuora.duckdb", tmp_path / "stop", 60)
    time.sleep(0.3)
    ok, failed, counts = finished(reader, tmp_path / "stop")
    assert ok > 3 and failed == 0 and counts == "[720]"


def test_failed_build_leaves_the_served_files_byte_for_byte(tmp_path, demo_warehouse):
    served = demo_warehouse / "zuora.duckdb"
    parquet = demo_warehouse / "parquet"
    before = digest(served), digest(parquet)
    exports = tmp_path / "exports"
    _, run_path = write_demo_files(exports, bill_runs=40)
    header, rows = read_csv(run_path)
    # A malformed ID, with the quarantine (which would keep it out of the mart) turned off: the error-severity
    # test on the mart fails the build.
    rows[5]["Billing Run: ID"] = "not-an-id"
    write_csv(run_path, header, rows)
    result = zuora_wh(
        "build",
        "--replace",
        "--export-dir",
        str(exports),
        "--",
        "--vars",
        "{zuora_quarantine: false}",
        warehouse=demo_warehouse,
    )
    assert result.returncode != 0
    assert "nothing was published" in result.stderr
    assert "Traceback" not in result.stderr
    assert (digest(served), digest(parquet)) == before


def test_a_failed_full_refresh_keeps_the_history_and_the_corrected_file_is_rebuilt(tmp_path):
    """A full refresh starts a new build file holding the status history alone; when its dbt build then fails,
    nothing is published. The next build, the file corrected, finds that the failed build began to load it as it was:
    it rebuilds from every file, the marts are whole (without the run the failed build wrote), and the history lost
    no version."""
    exports, wh = tmp_path / "exports", tmp_path / "wh"
    _, run_path = write_demo_files(exports, bill_runs=40)
    assert zuora_wh("build", "--export-dir", str(exports), warehouse=wh).returncode == 0
    served = wh / "zuora.duckdb"
    history = "select tenant, billing_run_id, updated_at from marts.fct_billing_run_status_history order by all"
    before, versions = digest(served), query(served, history)
    header, rows = read_csv(run_path)
    good_id = rows[5]["Billing Run: ID"]
    rows[5]["Billing Run: ID"] = "not-an-id"  # with the quarantine off, the mart's error-severity test fails
    write_csv(run_path, header, rows)
    no_quarantine = ["--", "--vars", "{zuora_quarantine: false}"]
    failed = zuora_wh("build", "--full-refresh", "--export-dir", str(exports), *no_quarantine, warehouse=wh)
    assert failed.returncode != 0 and "nothing was published" in failed.stderr
    assert "full refresh: a new build file, keeping marts.fct_billing_run_status_history" in failed.stdout
    assert digest(served) == before
    rows[5]["Billing Run: ID"] = good_id
    write_csv(run_path, header, rows)
    again = zuora_wh("build", "--export-dir", str(exports), warehouse=wh)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "that the last build began to load and did not finish were changed or removed since" in again.stdout
    assert query(
        served, "select count(*), count(*) filter (where billing_run_id = 'not-an-id') from marts.fct_billing_runs"
    ) == [(40, 0)]
    assert set(versions) <= set(query(served, history))


def test_broken_export_file_is_a_clear_error_and_publishes_nothing(tmp_path, demo_warehouse):
    served = demo_warehouse / "zuora.duckdb"
    before = digest(served)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "billing_runs.csv").write_bytes(b"")
    result = zuora_wh("build", "--export-dir", str(exports), warehouse=demo_warehouse)
    assert result.returncode == 2
    message = "the file is empty (0 bytes); a valid export has at least its header line"
    assert result.stderr.strip() == f"error: {exports / 'billing_runs.csv'}: {message}"
    assert digest(served) == before


def test_served_file_is_in_an_old_storage_format(demo_warehouse):
    served = demo_warehouse / "zuora.duckdb"
    # DuckDB's storage header: version number 64 is the format every DuckDB from 0.10/1.0 on reads.
    header = served.read_bytes()[:4096]
    assert header[8:12] == b"DUCK"
    assert int.from_bytes(header[12:20], "little") == 64


def test_sqlalchemy_duckdb_engine_reads_the_mart(demo_warehouse):
    engine = sqlalchemy.create_engine(f"duckdb:///{demo_warehouse / 'zuora.duckdb'}", connect_args={"read_only": True})
    with engine.connect() as con:
        count = con.execute(sqlalchemy.text("select count(*) from marts.fct_billing_runs")).scalar_one()
        statuses = con.execute(sqlalchemy.text("select distinct status from marts.fct_billing_runs")).scalars()
        statuses = statuses.all()
    engine.dispose()
    assert count == 720 and "Posted" in statuses


@pytest.mark.filterwarnings("ignore:duckdb-engine doesn't yet support reflection on indices")
def test_sqlalchemy_reflects_every_mart_with_types_and_comments(demo_warehouse):
    """What pandas.read_sql_table, SQL notebooks and BI tools on SQLAlchemy do first: reflect the table."""
    db = demo_warehouse / "zuora.duckdb"
    expected = query(
        db,
        "select schema_name || '.' || table_name, column_name, data_type, comment from "
        "duckdb_columns() where schema_name in ('marts', 'audit') order by 1, column_index",
    )
    tables = sorted({t for t, *_ in expected})
    assert {
        "marts.fct_billing_runs",
        "marts.dim_entities",
        "audit.audit_billing_run_rejects",
        "audit.audit_warehouse_build",
    } <= set(tables)
    engine = sqlalchemy.create_engine(f"duckdb:///{db}", connect_args={"read_only": True})
    with engine.connect() as con:
        inspector = sqlalchemy.inspect(con)
        listed = [f"{schema}.{t}" for schema in ("audit", "marts") for t in inspector.get_table_names(schema=schema)]
        assert sorted(listed) == tables
        reflected = []
        for table in tables:
            schema, name = table.split(".")
            for column in inspector.get_columns(name, schema=schema):
                reflected.append((table, column["name"], column["type"], column["comment"]))
        fct = sqlalchemy.Table("fct_billing_runs", sqlalchemy.MetaData(), schema="marts", autoload_with=con)
        assert con.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(fct)).scalar_one() == 720
    engine.dispose()
    assert [(t, c) for t, c, *_ in reflected] == [(t, c) for t, c, *_ in expected]
    assert [comment for *_, comment in reflected] == [comment for *_, comment in expected]
    assert all(comment for *_, comment in reflected), "every column is described"
    python_types = {t: ty.python_type for t, _, ty, _ in reflected if t == "marts.fct_billing_runs"}
    types = {c: ty for t, c, ty, _ in reflected if t == "marts.fct_billing_runs"}
    assert python_types and types["created_at"].python_type.__name__ == "datetime"
    assert types["target_date"].python_type.__name__ == "date"
    assert types["number_of_invoices"].python_type is int and types["is_failed"].python_type is bool


def test_duckdb_cli_reads_the_mart(demo_warehouse):
    out = subprocess.run(
        [
            str(BIN / "duckdb"),
            "-readonly",
            "-csv",
            str(demo_warehouse / "zuora.duckdb"),
            "select count(*) as n from marts.fct_billing_runs",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.split() == ["n", "720"]


def test_polars_reads_the_parquet_files(demo_warehouse):
    fct = pl.read_parquet(demo_warehouse / "parquet" / "fct_billing_runs" / "*.parquet")
    dim = pl.read_parquet(demo_warehouse / "parquet" / "dim_entities" / "*.parquet")
    assert fct.height == 720 and dim.height == 4
    assert fct.columns[:3] == ["billing_run_id", "billing_run_number", "billing_run_name"]
    assert fct.height == query(demo_warehouse / "zuora.duckdb", "select count(*) from marts.fct_billing_runs")[0][0]
    # DuckDB (Rill, Superset's in-memory database) reads a folder with the mart's columns, no partition column
    with duckdb.connect() as con:
        glob = str(demo_warehouse / "parquet" / "fct_billing_runs" / "*.parquet")
        read = con.execute("select * from read_parquet(?) limit 0", [glob]).description
    assert [c[0] for c in read] == fct.columns


def test_every_mart_is_parquet_with_utc_instants(demo_warehouse):
    """Every mart an analyst uses is a folder of Parquet files, row for row; a timestamp is an instant in UTC there
    (TIMESTAMP WITH TIME ZONE), so a reader in another zone shows the same moment, not a shifted one. The fact is
    one file per quarter of creation (UTC), each holding that quarter's runs; a small table is one file."""
    served = demo_warehouse / "zuora.duckdb"
    marts = query(
        served,
        "select table_name from information_schema.tables where table_schema in ('marts', 'audit') "
        "and table_type = 'BASE TABLE' order by 1",
    )
    names = [m for (m,) in marts]
    assert {
        "fct_billing_run_daily",
        "fct_stuck_billing_runs",
        "fct_billing_run_status_changes",
        "fct_deleted_billing_runs",
    } <= set(names)
    parquet = demo_warehouse / "parquet"
    assert sorted(p.name for p in parquet.iterdir() if p.is_dir()) == names
    assert not list(parquet.glob("*.parquet"))
    for mart in names:
        schema = "audit" if mart.startswith("audit_") else "marts"
        rows = pl.read_parquet(parquet / mart / "*.parquet").height
        assert rows == query(served, f"select count(*) from {schema}.{mart}")[0][0], mart
    assert [p.name for p in (parquet / "dim_entities").iterdir()] == ["all.parquet"]
    quarters = query(
        served, "select distinct strftime(created_at, '%Y-Q') || quarter(created_at) from marts.fct_billing_runs"
    )
    assert sorted(p.stem for p in (parquet / "fct_billing_runs").glob("*.parquet")) == sorted(q for (q,) in quarters)
    for path in (parquet / "fct_billing_runs").glob("*.parquet"):
        created = pl.read_parquet(path)["created_at"]
        quarters = (created.dt.strftime("%Y-Q") + created.dt.quarter().cast(pl.String)).unique().to_list()
        assert quarters == [path.stem], path
    stuck = pl.read_parquet(parquet / "fct_stuck_billing_runs" / "*.parquet")
    assert stuck.schema["in_status_since"] == pl.Datetime("us", "UTC") and stuck.height > 0
    runs = pl.read_parquet(parquet / "fct_billing_runs" / "*.parquet").sort("billing_run_id")
    first = query(served, "select created_at from marts.fct_billing_runs order by billing_run_id limit 1")[0][0]
    assert runs["created_at"][0].replace(tzinfo=None) == first and str(runs["created_at"][0].tzinfo) == "UTC"


def test_empty_mart_publishes_parquet_without_a_phantom_row(tmp_path):
    exports = tmp_path / "exports"
    write_demo_files(exports, bill_runs=0)
    build = zuora_wh("build", "--export-dir", str(exports), warehouse=tmp_path / "wh")
    assert build.returncode == 0, build.stderr[-3000:]
    folder = tmp_path / "wh" / "parquet" / "fct_billing_runs"
    assert [p.name for p in folder.iterdir()] == ["all.parquet"]  # no quarter: one file, which says the columns
    fct = pl.read_parquet(folder / "all.parquet")
    assert fct.height == 0 and "billing_run_id" in fct.columns


def test_export_round_trips_as_a_real_export(tmp_path, demo_warehouse):
    out = tmp_path / "exports" / "billing_run_data_source.csv"
    result = zuora_wh("export", "--out", str(out), warehouse=demo_warehouse)
    assert result.returncode == 0, result.stderr
    assert "wrote 720 bill runs" in result.stderr
    header, rows = read_csv(out)
    assert header[0] == "Billing Run: Billing Run Number" and header[-1] == "Entity: Updated Date"
    assert any(r["Billing Run: Error Message"].startswith("'=") for r in rows), "formula guard"
    datetimes = [r["Billing Run: Created Date"] for r in rows]
    assert any(d.endswith("-08:00") for d in datetimes) and any(d.endswith("-07:00") for d in datetimes), (
        "datetimes in the tenant's zone with its offset, as Zuora writes them"
    )
    assert any(len(d) == 10 for d in datetimes), "midnight written as the bare date, as Zuora writes it"
    rebuilt = zuora_wh("build", "--export-dir", str(out.parent), warehouse=tmp_path / "wh")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert mart_rows(tmp_path / "wh") == mart_rows(demo_warehouse)
    assert mart_rows(tmp_path / "wh", "dim_entities") == mart_rows(demo_warehouse, "dim_entities")


def test_export_filters_and_snake_case_parquet(tmp_path, demo_warehouse):
    out = tmp_path / "q1.parquet"
    result = zuora_wh(
        "export",
        "--out",
        str(out),
        "--headers",
        "names",
        "--date-field",
        "target_date",
        "--from",
        "2025-01-01",
        "--to",
        "2025-03-31",
        "--status",
        "posted",
        "--status",
        "Post in progress",
        "--entity",
        "Global",
        warehouse=demo_warehouse,
    )
    assert result.returncode == 0, result.stderr
    df = pl.read_parquet(out)
    expected = query(
        demo_warehouse / "zuora.duckdb",
        "select count(*) from marts.fct_billing_runs where target_date between '2025-01-01' and '2025-03-31' "
        "and status in ('Posted', 'PostInProgress') and entity_name = 'Global'",
    )[0][0]
    assert df.height == expected > 0
    assert set(df["status"].unique()) <= {"Posted", "PostInProgress"} and set(df["entity_name"]) == {"Global"}
    assert df["target_date"].min().isoformat() >= "2025-01-01" and df["target_date"].max().isoformat() <= "2025-03-31"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--status", "Archived"), "error: unknown status 'Archived'; use one of: Pending, Processing"),
        (("--entity", "Acme Mars"), "error: no entity 'Acme Mars' in the warehouse; its entities are: Acme APAC, "),
        (
            ("--from", "2025-03-01", "--to", "2025-02-01"),
            "error: --from 2025-03-01 is after --to 2025-02-01: no day is in that range",
        ),
        (("--date-field", "target_date"), "error: --date-field needs --from and/or --to"),
    ],
)
def test_export_refuses_filters_that_match_nothing(tmp_path, demo_warehouse, args, message):
    result = zuora_wh("export", "--out", str(tmp_path / "x.csv"), *args, warehouse=demo_warehouse)
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.csv").exists()


def test_export_refuses_an_unknown_extension(tmp_path, demo_warehouse):
    result = zuora_wh("export", "--out", str(tmp_path / "runs.xls"), warehouse=demo_warehouse)
    assert result.returncode == 2 and "the output format follows the extension, one of .csv, .parquet, .xlsx" in (
        result.stderr
    )


def test_export_days_are_the_tenants(tmp_path, demo_warehouse):
    """--from/--to are days in the tenant's zone: a run created at 23:30 Pacific is on that day, although it is
    the next day in UTC."""
    db = demo_warehouse / "zuora.duckdb"
    day, expected = query(
        db,
        "with local as (select cast(timezone('America/Los_Angeles', timezone('UTC', "
        "created_at)) as date) as day from marts.fct_billing_runs) select day, count(*) from local "
        "group by 1 order by 2 desc, 1 limit 1",
    )[0]
    out = tmp_path / "day.parquet"
    result = zuora_wh("export", "--out", str(out), "--from", str(day), "--to", str(day), warehouse=demo_warehouse)
    assert result.returncode == 0, result.stderr
    assert pl.read_parquet(out).height == expected


def test_export_writes_a_real_excel_workbook_that_builds_the_same_warehouse(tmp_path, demo_warehouse):
    from python_calamine import CalamineWorkbook

    out = tmp_path / "exports" / "runs.xlsx"
    result = zuora_wh("export", "--out", str(out), warehouse=demo_warehouse)
    assert result.returncode == 0, result.stderr
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    assert rows[0][0] == "Billing Run: Billing Run Number" and len(rows) == 721
    counts = rows[0].index("Billing Run: Number Of Invoices")
    assert any(isinstance(r[counts], float) for r in rows[1:]), "counts are numbers in the workbook"
    rebuilt = zuora_wh("build", "--export-dir", str(out.parent), warehouse=tmp_path / "wh")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert mart_rows(tmp_path / "wh") == mart_rows(demo_warehouse)


# ---------- builds killed or overlapping


def _dead_pid() -> int:
    """The ID of a process that has ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_build_file_of_the_earlier_layout_is_upgraded(tmp_path, demo_warehouse):
    """A warehouse built before the renames (CHANGELOG: breaking changes): the next build keeps the status history,
    which no build can make again, under its new name with every row; the old tables leave the build file, the
    served file and the Parquet folder. The build is a full refresh, which starts a new build file with the history
    alone: the history is renamed first, and kept."""
    wh = tmp_path / "wh"
    shutil.copytree(demo_warehouse, wh, ignore=shutil.ignore_patterns(".build.lock"))
    build_db = wh / "build" / "demo" / "zuora.duckdb"
    with duckdb.connect(str(build_db)) as con:
        # the earlier layout, with a version of a run that only the history still knows
        con.execute(
            "create table staging.int_zuora__billing_run_status_history as select * from "
            "marts.fct_billing_run_status_history union all (select * replace ('Pending' as status, "
            "updated_at - interval 1 day as updated_at) from marts.fct_billing_run_status_history limit 1)"
        )
        con.execute("drop table marts.fct_billing_run_status_history")
        con.execute("alter table marts.dim_entities rename to dim_zuora_entities")
        con.execute("create table marts.fct_billing_run_rejects as from audit.audit_billing_run_rejects")
        (before,) = con.execute("select count(*) from staging.int_zuora__billing_run_status_history").fetchone()
    shutil.copytree(wh / "parquet" / "dim_entities", wh / "parquet" / "dim_zuora_entities")
    # and a file of the layout before folders
    shutil.copy(wh / "parquet" / "dim_entities" / "all.parquet", wh / "parquet" / "dim_entities.parquet")
    (build_db.parent / "published.json").unlink()  # an earlier version kept no record of what it published
    result = zuora_wh("build", "--full-refresh", warehouse=wh)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "full refresh: a new build file, keeping marts.fct_billing_run_status_history" in result.stdout
    assert (
        "upgraded the build file: staging.int_zuora__billing_run_status_history is now "
        "marts.fct_billing_run_status_history; 2 tables renamed (CHANGELOG)"
    ) in result.stdout
    for db in (build_db, wh / "zuora.duckdb"):
        tables = {name for (name,) in query(db, "select schema_name || '.' || table_name from duckdb_tables()")}
        assert not tables & {
            "staging.int_zuora__billing_run_status_history",
            "marts.dim_zuora_entities",
            "marts.fct_billing_run_rejects",
        }
        assert {"marts.dim_entities", "marts.fct_billing_run_status_history"} <= tables
        assert query(db, "select count(*) from marts.fct_billing_run_status_history") == [(before,)]
    assert not (wh / "parquet" / "dim_zuora_entities").exists()
    assert not (wh / "parquet" / "dim_entities.parquet").exists()


def test_publish_removes_what_killed_builds_left_behind(tmp_path):
    exports = tmp_path / "exports"
    write_demo_files(exports, bill_runs=5)
    warehouse = tmp_path / "wh"
    (warehouse / "parquet").mkdir(parents=True)
    dead = _dead_pid()
    stale = [
        warehouse / f".zuora.duckdb.{dead}.tmp",
        warehouse / f".zuora.duckdb.{dead}.tmp.wal",
        warehouse / "parquet" / f".fct_billing_runs.2026-Q2.parquet.{dead}.tmp",
        warehouse / "parquet" / f".fct_billing_runs.parquet.{dead}.tmp",  # the layout before folders
    ]
    for path in stale:
        path.write_bytes(b"\0" * 4096)
    alive = warehouse / f".zuora.duckdb.{os.getppid()}.tmp"  # a running process's file is not touched
    alive.write_bytes(b"\0")
    result = zuora_wh("build", "--export-dir", str(exports), warehouse=warehouse)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not any(path.exists() for path in stale)
    assert alive.exists()
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("publish: removed")]
    assert line.startswith("publish: removed 4 temporary file(s) left by builds killed while publishing: ")
    assert all(path.name in line for path in stale)


def test_a_second_build_says_what_it_waits_for_or_exits_with_no_wait(tmp_path):
    from zuora_wh.errors import BuildBusy

    EXIT_BUSY = BuildBusy.exit_code
    from zuora_wh.publish import build_lock

    exports = tmp_path / "exports"
    write_demo_files(exports, bill_runs=5)
    warehouse = tmp_path / "wh"
    with build_lock(warehouse):  # this test process is "the first build"
        busy = zuora_wh("build", "--no-wait", "--export-dir", str(exports), warehouse=warehouse)
        assert busy.returncode == EXIT_BUSY
        assert busy.stderr.startswith(f"error: {warehouse} is busy: the build started at ")
        assert f"by process {os.getpid()} is still running; not waiting" in busy.stderr
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        env.pop("ZUORA_EXPORT_DIR", None)
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zuora_wh",
                "--warehouse-dir",
                str(warehouse),
                "build",
                "--export-dir",
                str(exports),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = waiting.stderr.readline()
        assert first.startswith("waiting for the build started at ") and f"by process {os.getpid()}" in first
        assert waiting.poll() is None, "it waits while the lock is held"
    _, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, err[-2000:]
    assert (warehouse / "zuora.duckdb").exists()


def test_reader_holding_the_file_open_never_blocks_or_breaks_a_build(tmp_path, demo_warehouse):
    """A BI tool holds the served file open and queries it all through a build: every query works (it keeps seeing
    the old build), the build publishes, and a new connection sees the new data. (The module's last test: the
    demo warehouse holds other data from here on.)"""
    served = demo_warehouse / "zuora.duckdb"
    exports = tmp_path / "exports"
    write_demo_files(exports, bill_runs=150)
    reader = read_while(served, tmp_path / "stop", 600)
    started = time.monotonic()
    result = zuora_wh("build", "--export-dir", str(exports), warehouse=demo_warehouse)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert query(served, "select count(*) from marts.fct_billing_runs") == [(150,)]
    assert reader.poll() is None, "the reader ended before the build did"
    ok, failed, counts = finished(reader, tmp_path / "stop")
    # it kept answering through the build (a query every 20 ms; a reader that hung would have a handful)
    assert failed == 0 and counts == "[720]" and ok > took * 10


def test_the_toolings_duckdb_keeps_to_the_builds_memory_limit(tmp_path, monkeypatch):
    """Publishing writes the Parquet files with a DuckDB of its own: it keeps to the memory limit it is given (the
    build's, which dbt has too) and spills into the build folder, as dbt does. Plain dbt's default limit is the
    tooling's for rows not known."""
    macro = (ROOT / "macros" / "zuora_duckdb_memory_limit.sql").read_text()
    assert f"env_var('{MEMORY_LIMIT_SETTING}', '{MEMORY_LIMIT}')" in macro
    dev = yaml.safe_load((ROOT / "profiles.yml").read_text())["zuora_billing_runs"]["outputs"]["dev"]
    assert "memory_limit" not in {**dev["config_options"], **dev["settings"]}  # (there it would cost dbt a parse)
    assert f"env_var('ZUORA_DUCKDB_TEMP_DIR', 'warehouse/{SPILL_DIR}')" in (ROOT / "profiles.yml").read_text()
    monkeypatch.delenv("ZUORA_DUCKDB_TEMP_DIR", raising=False)
    with connect_within_limits(tmp_path, "500MB") as con:
        limit, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert limit == "476.8 MiB" and spill == str(tmp_path / SPILL_DIR)


@pytest.mark.parametrize(
    ("rows", "limit"),
    [
        (None, "2500MB"),  # not known (a publish alone): the most a build is given
        (0, "1000MB"),  # the demo
        (20_000, "1000MB"),
        (1_100_000, "1100MB"),  # the benchmark's 1M bill runs and their re-export
        (2_000_000, "2000MB"),
        (11_000_000, "2500MB"),  # the benchmark's 10M
    ],
)
def test_the_memory_limit_follows_the_rows_of_the_export_files(rows, limit, monkeypatch):
    """1 GB for each million rows, from 1 GB to 2.5 GB; the user's ZUORA_DUCKDB_MEMORY_LIMIT whatever the rows."""
    monkeypatch.delenv(MEMORY_LIMIT_SETTING, raising=False)
    assert memory_limit(rows) == limit
    monkeypatch.setenv(MEMORY_LIMIT_SETTING, "1.5GB")
    assert memory_limit(rows) == "1.5GB"


def test_a_memory_limit_duckdb_cannot_read_is_refused_before_anything_is_built(tmp_path):
    """ZUORA_DUCKDB_MEMORY_LIMIT that is no memory size: the build stops at once with one line that names it and
    says what DuckDB wants, before its first step (no build file, nothing published)."""
    refused = zuora_wh("build", warehouse=tmp_path / "warehouse", env={MEMORY_LIMIT_SETTING: "lots"})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert re.search(r"ZUORA_DUCKDB_MEMORY_LIMIT=lots: not a memory size DuckDB takes \(.*number", refused.stderr)
    assert not list(tmp_path.rglob("*.duckdb"))


def test_a_failed_copy_replaces_neither_the_served_file_nor_a_parquet_file(tmp_path, monkeypatch):
    """Publishing writes the Parquet files while the served file's copy is made: should the copy fail (a full disk),
    no Parquet file is replaced either, no new table's folder appears, and nothing is left behind."""
    from zuora_wh import publish
    from zuora_wh.warehouse import prepare_build_file

    build_db = tmp_path / "build" / "zuora.duckdb"
    prepare_build_file(build_db)
    with duckdb.connect(str(build_db)) as con:
        con.execute("create schema marts; create table marts.fct_runs as select 1 as n")
    served, parquet = tmp_path / "wh" / "zuora.duckdb", tmp_path / "wh" / "parquet"
    publish.publish(build_db, served, parquet)
    before = digest(served), digest(parquet)
    entries = sorted(parquet.rglob("*"))
    with duckdb.connect(str(build_db)) as con:
        con.execute("insert into marts.fct_runs values (2); create table marts.fct_new as select 1 as n")

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish, "_copy_synced", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish.publish(build_db, served, parquet)
    assert (digest(served), digest(parquet)) == before
    assert sorted(parquet.rglob("*")) == entries
    assert sorted(p.name for p in served.parent.iterdir()) == ["parquet", "zuora.duckdb"]
    monkeypatch.undo()
    publish.publish(build_db, served, parquet)
    assert pl.read_parquet(parquet / "fct_runs" / "all.parquet")["n"].sort().to_list() == [1, 2]
    assert pl.read_parquet(parquet / "fct_new" / "*.parquet")["n"].to_list() == [1]


def test_a_stamped_table_is_fingerprinted_by_its_stamps_quarter_by_quarter():
    """Publishing knows which part of a stamped mart changed from the stamps of the builds that wrote its rows
    (publish.STAMPED), quarter by quarter for the marts in parts (publish.PARTS): a row written again with the same
    values, or a row deleted, changes its quarter's fingerprint and no other; a value changed without a new stamp,
    which no build does, would not. A table without stamps is fingerprinted by every value, and a table without
    parts, or without rows, is one part."""
    from zuora_wh.publish import _fingerprints, _rows_of_part

    con = duckdb.connect()
    con.execute("attach ':memory:' as build; create schema build.marts")
    con.execute(
        "create table build.marts.fct_billing_runs as select * from (values "
        "('a', 1, timestamp '2026-09-30 23:59:59.999999', timestamp '2026-11-30 10:00:00'), "
        "('b', 2, timestamp '2026-10-01 00:00:00', timestamp '2026-11-30 10:00:00')) "
        "as t(billing_run_id, n, created_at, _written_at)"
    )
    con.execute("create table build.marts.dim_entities as select * from build.marts.fct_billing_runs")
    columns = [
        ("billing_run_id", "VARCHAR"),
        ("n", "INTEGER"),
        ("created_at", "TIMESTAMP"),
        ("_written_at", "TIMESTAMP"),
    ]

    def fingerprints() -> tuple[dict[str, str], dict[str, str]]:
        return _fingerprints(con, "marts", "fct_billing_runs", columns), _fingerprints(
            con, "marts", "dim_entities", columns
        )

    first = fingerprints()
    assert sorted(first[0]) == ["2026-Q3", "2026-Q4"] and list(first[1]) == ["all"]
    for part, fingerprint in first[0].items():  # a part's file holds the rows its fingerprint counted, to the µs
        where = _rows_of_part("fct_billing_runs", part)
        held = con.execute(f"select count(*) from build.marts.fct_billing_runs as t where {where}").fetchone()[0]
        assert held == json.loads(fingerprint)[1] == 1, part
    con.execute("update build.marts.fct_billing_runs set _written_at = timestamp '2026-11-30 11:00:00' where n = 1")
    rewritten = fingerprints()
    assert rewritten[0]["2026-Q3"] != first[0]["2026-Q3"] and rewritten[0]["2026-Q4"] == first[0]["2026-Q4"]
    con.execute("delete from build.marts.fct_billing_runs where n = 2")
    deleted = fingerprints()
    assert deleted[0] == {"2026-Q3": rewritten[0]["2026-Q3"]}  # the quarter without rows is gone, its file with it
    con.execute("update build.marts.fct_billing_runs set n = 3")
    assert fingerprints()[0] == deleted[0]  # a value changed without a new stamp: not seen
    con.execute("update build.marts.dim_entities set n = 3 where n = 1")
    assert fingerprints()[1] != deleted[1] == first[1]  # a table without stamps: every value counts
    con.execute("update build.marts.fct_billing_runs set created_at = null")
    assert list(fingerprints()[0]) == ["unknown"]
    con.execute("delete from build.marts.fct_billing_runs")
    assert list(fingerprints()[0]) == ["all"]  # no rows: one file, which says the columns


def test_parquet_files_are_written_side_by_side_and_a_failed_one_is_an_error(tmp_path):
    """Publishing writes its Parquet files several at once, each by one of DuckDB's threads: every file is written,
    a file that cannot be written is the publish's error, and the connection keeps its
    number of threads either way."""
    from zuora_wh.publish import _copy_side_by_side

    con = duckdb.connect(config={"threads": 2})
    files = [tmp_path / f"{n}.parquet" for n in range(5)]
    copies = [
        (f, f"copy (select range as n from range({n * 1000})) to '{f}' (format parquet)") for n, f in enumerate(files)
    ]
    _copy_side_by_side(con, copies)
    assert [pl.read_parquet(f).height for f in files] == [0, 1000, 2000, 3000, 4000]
    assert con.execute("select current_setting('threads')").fetchone() == (2,)
    broken = [*copies[:2], (tmp_path / "x.parquet", "copy (select 1 / 'a') to 'x.parquet' (format parquet)")]
    with pytest.raises(duckdb.Error):
        _copy_side_by_side(con, broken)
    assert con.execute("select current_setting('threads')").fetchone() == (2,)


def test_a_full_refresh_starts_a_new_build_file_with_the_history_alone(tmp_path):
    """dbt builds each table of a full refresh beside the old one, and DuckDB does not give freed blocks back: onto the
    old build file, a full refresh left it as large as both builds. It starts a new file instead, which keeps the
    status history (rows and definition, its constraints too) and nothing else, and is smaller than the old one."""
    from zuora_wh.warehouse import KEPT_BY_FULL_REFRESH, prepare_build_file, start_afresh

    assert start_afresh(tmp_path / "none" / "zuora.duckdb") is None  # no build file: nothing to do
    build_db = tmp_path / "build" / "zuora.duckdb"
    prepare_build_file(build_db)
    with duckdb.connect(str(build_db)) as con:
        con.execute(
            "create schema marts; create table marts.fct_billing_run_status_history "
            "(billing_run_id varchar not null, status varchar); "
            "insert into marts.fct_billing_run_status_history values ('a', 'Pending'), ('a', 'Completed')"
        )
        for _ in range(2):  # a mart built twice, as a full refresh onto the old file does
            con.execute(
                "create or replace table marts.fct_billing_runs as select md5(range::varchar) from range(300000)"
            )
            con.execute("checkpoint")
    before = build_db.stat().st_size
    assert start_afresh(build_db) == (
        "full refresh: a new build file, keeping marts.fct_billing_run_status_history (2 rows)"
    )
    assert build_db.stat().st_size < before / 2
    assert not wal_of(build_db).exists()
    assert [p.name for p in build_db.parent.iterdir()] == ["zuora.duckdb"]
    with duckdb.connect(str(build_db)) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        assert tables == list(KEPT_BY_FULL_REFRESH)
        assert con.execute("select * from marts.fct_billing_run_status_history order by 2 desc").fetchall() == [
            ("a", "Pending"),
            ("a", "Completed"),
        ]
        with pytest.raises(duckdb.ConstraintException):
            con.execute("insert into marts.fct_billing_run_status_history values (null, 'Posted')")
    assert start_afresh(build_db).endswith("(2 rows)")  # again: the same
    with duckdb.connect(str(build_db)) as con:
        con.execute("drop table marts.fct_billing_run_status_history")
    assert start_afresh(build_db) == "full refresh: a new build file, keeping nothing"


def test_a_full_refresh_after_one_killed_while_starting_afresh(tmp_path):
    """A build killed while it wrote the new build file leaves that file, and its write-ahead log, beside the old
    one: the next full refresh starts its new file from nothing (DuckDB discards a log whose file is gone)."""
    from zuora_wh.warehouse import prepare_build_file, start_afresh

    build_db = tmp_path / "zuora.duckdb"
    prepare_build_file(build_db)
    killed = tmp_path / ".zuora.duckdb.afresh.tmp"
    leave_a_log = (
        "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute('pragma disable_checkpoint_on_shutdown; create table left_behind as select 1 as n'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", leave_a_log, str(killed)], check=True)
    assert wal_of(killed).exists()
    assert start_afresh(build_db) == "full refresh: a new build file, keeping nothing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zuora.duckdb"]
    assert query(build_db, "select count(*) from duckdb_tables()") == [(0,)]


def test_what_a_full_refresh_keeps_is_what_dbt_never_rebuilds():
    """KEPT_BY_FULL_REFRESH names the tables of the models configured full_refresh=false, and no other."""
    from zuora_wh.warehouse import KEPT_BY_FULL_REFRESH

    manifest = json.loads((ROOT / "target" / "manifest.json").read_text())
    never_rebuilt = {
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("full_refresh") is False
    }
    assert never_rebuilt == set(KEPT_BY_FULL_REFRESH)
