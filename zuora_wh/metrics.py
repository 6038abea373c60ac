"""The metrics, materialised: ``python -m zuora_wh metrics`` (``make build`` runs it after publishing).

The dbt Semantic Layer's APIs need dbt's paid platform, so BI tools cannot ask MetricFlow themselves. Each saved
query of the project (``models/marts/semantic/_semantic__models.yml``) is answered by MetricFlow (``mf query
--saved-query``) on the last build, and written as a Parquet file and a CSV file in ``warehouse/metrics/``, one
per saved query (``weekly_health.parquet``, ...), replaced atomically. A BI tool reads them like the marts'
Parquet files.

An analyst asks MetricFlow anything else with ``python -m zuora_wh mf query ...`` (``served_mf``): MetricFlow on the
published warehouse, whatever its input, read-only (the served file is attached read-only by the profile's target
``served``), so it works while BI tools hold the file open, with the semantic manifest of the build that was
published.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from zuora_wh import current, options
from zuora_wh.dbt_runner import ROOT, dbt_env
from zuora_wh.errors import UsageError, WarehouseError
from zuora_wh.publish import build_lock, write_json
from zuora_wh.sql import quote_string
from zuora_wh.warehouse import published_build, served_db

SEMANTIC_YAML = ROOT / "models" / "marts" / "semantic" / "_semantic__models.yml"


def saved_queries() -> list[str]:
    """The names of the project's saved queries."""
    return [q["name"] for q in yaml.safe_load(SEMANTIC_YAML.read_text()).get("saved_queries", [])]


def mf_project(target_dir: Path, folder: Path) -> Path:
    """``folder``, made a dbt project for MetricFlow whose artifacts are ``target_dir``: MetricFlow reads the semantic
    manifest from ``<project>/target/`` whatever dbt's target path, and a build's is in ``<build folder>/target/``.
    The folder holds links to the project's dbt_project.yml and to ``target_dir``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in (("dbt_project.yml", ROOT / "dbt_project.yml"), ("target", target_dir)):
        link = folder / name
        if not link.is_symlink() or link.resolve() != source.resolve():
            link.unlink(missing_ok=True)
            link.symlink_to(source)
    return folder


def mf_query(build_db: Path, env: dict[str, str], project: Path, *args: str) -> str:
    """Run ``mf query ARGS`` on ``build_db``, with the semantic manifest of ``project`` (a dbt project folder, or
    one made by mf_project); its output, or a WarehouseError with MetricFlow's last lines."""
    mf = Path(sys.executable).parent / "mf"
    full_env = {
        **env,
        "ZUORA_DUCKDB_PATH": str(build_db.resolve()),
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(ROOT),
    }
    proc = subprocess.run(
        [str(mf), "query", *args], cwd=project, env=full_env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0 or "ERROR" in proc.stdout:
        lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        first = next((i for i, line in enumerate(lines) if "ERROR" in line), max(0, len(lines) - 3))
        raise WarehouseError(f"mf query {' '.join(args)} failed: {' '.join(lines[first : first + 3])}")
    return proc.stdout


def materialise(build_db: Path, env: dict[str, str], out_dir: Path, target_dir: Path | None = None) -> list[Path]:
    """Every saved query's answer as ``out_dir/<name>.parquet`` and ``.csv``, from ``build_db`` and its dbt artifacts
    (``target_dir``, by default the build folder's ``target/``); returns the Parquet files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    project = mf_project(target_dir or build_db.parent / "target", build_db.parent / "metricflow")
    written = []
    for name in saved_queries():
        csv_tmp = out_dir / f".{name}.{os.getpid()}.csv"
        parquet_tmp = out_dir / f".{name}.{os.getpid()}.parquet"
        try:
            mf_query(build_db, env, project, "--saved-query", name, "--csv", str(csv_tmp))
            with duckdb.connect() as con:
                con.execute(
                    f"copy (select * from read_csv({quote_string(str(csv_tmp))}, header = true) order by 1) to "
                    f"{quote_string(str(parquet_tmp))} (format parquet)"
                )
            parquet_tmp.replace(out_dir / f"{name}.parquet")
            csv_tmp.replace(out_dir / f"{name}.csv")
        finally:
            csv_tmp.unlink(missing_ok=True)
            parquet_tmp.unlink(missing_ok=True)
        written.append(out_dir / f"{name}.parquet")
    return written


def served_mf(warehouse_dir: Path, build_target: Path, args: list[str]) -> int:
    """Run ``mf ARGS`` on the published warehouse of ``warehouse_dir``, read-only, with the semantic manifest in
    ``build_target`` (the target folder of the build that was published); MetricFlow's own output and exit code."""
    served = warehouse_dir / "zuora.duckdb"
    if not (build_target / "semantic_manifest.json").exists():
        raise WarehouseError(f"no semantic manifest in {build_target}: build the warehouse again (make build)")
    project = mf_project(build_target, build_target.parent / "metricflow")
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_PROJECT_DIR": str(project),
        "DBT_TARGET": "served",
        "ZUORA_SERVED_PATH": str(served.resolve()),
    }
    return subprocess.run([str(Path(sys.executable).parent / "mf"), *args], cwd=project, env=env).returncode


# In the metrics folder: the served file its files were answered from, and the saved queries.
ANSWERED_FROM = ".answered_from.json"


def metrics(args) -> int:
    """``python -m zuora_wh metrics``: the saved queries' answers from the last build, as files beside the served
    warehouse; nothing to do when they were answered from the warehouse that is served now."""
    warehouse_dir, export_dir, build_db = options.last_build(args)
    out_dir = warehouse_dir / "metrics"
    with build_lock(warehouse_dir, wait=not args.no_wait):
        source = {"served": current.stamp(served_db(warehouse_dir)), "saved_queries": saved_queries()}
        record = out_dir / ANSWERED_FROM
        answered = all((out_dir / f"{name}.parquet").exists() for name in source["saved_queries"])
        if answered and record.exists() and json.loads(record.read_text()) == source:
            print(f"metrics: current, in {out_dir}/ (answered from the warehouse served now)")
            return 0
        record.unlink(missing_ok=True)
        written = materialise(build_db, dbt_env(build_db, export_dir), out_dir)
        write_json(record, source)
    print(f"metrics: {', '.join(p.name for p in written)} in {out_dir}/")
    return 0


def mf(args) -> int:
    """``python -m zuora_wh mf``: MetricFlow on the published warehouse, whatever its input, read-only."""
    warehouse_dir = options.warehouse_dir(args)
    build_db = published_build(warehouse_dir)
    if build_db is None:
        raise UsageError(f"no warehouse in {warehouse_dir}: run 'make build' first")
    return served_mf(warehouse_dir, build_db.parent / "target", args.mf_args or ["--help"])


def add_parser(sub) -> None:
    m = sub.add_parser("metrics", help="the metrics' saved queries, answered by MetricFlow, as Parquet and CSV")
    options.add_export_dir(m)
    options.add_no_wait(m)
    m.set_defaults(func=metrics)
    f = sub.add_parser(
        "mf",
        help="MetricFlow on the published warehouse, read-only: mf query --metrics ... (any "
        "mf command and its options)",
    )
    f.add_argument(
        "mf_args",
        nargs=argparse.REMAINDER,
        help="the mf command and its options, such as: query --metrics failure_rate --group-by metric_time__week",
    )
    f.set_defaults(func=mf)
