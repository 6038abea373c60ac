"""Helpers of the Spark tests (make test-spark): build an input on both engines, and compare their marts.

Every build goes through ``python -m zuora_wh build`` as a user's would: on DuckDB into its build file, on Spark
(``--target spark``) into the Spark folder beside it. Spark's marts are compared as Spark wrote them, from the
Parquet files of its tables (DuckDB reads them), so no second Spark session is needed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import subprocess
from pathlib import Path

import duckdb
from helpers import zuora_wh_command

from zuora_wh.dbt_runner import DUCKDB_TARGET, SPARK_TARGET
from zuora_wh.publish import PUBLISHED_SCHEMAS
from zuora_wh.warehouse import build_db_path, spark_dir

# when and by which invocation each engine built, recorded a version of the status history, or wrote a bill run
NOT_COMPARED = {"built_at", "dbt_invocation_id", "recorded_at", "_written_at"}


def start_build(warehouse: Path, export_dir: Path | None, *args: str) -> subprocess.Popen:
    """``python -m zuora_wh build`` of ``export_dir`` (None: the demo), started; wait with ``finish``."""
    where = ["--export-dir", str(export_dir)] if export_dir else []
    command = zuora_wh_command("build", *where, *args, warehouse=warehouse)
    return subprocess.Popen(**command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, timeout: int = 1200) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-6000:]
    return out


def build_folder(warehouse: Path, export_dir: Path | None, target: str = DUCKDB_TARGET) -> Path:
    """The folder of the build of ``export_dir`` (None: the demo) in ``warehouse`` on ``target``: the DuckDB build
    file's, or the Spark folder beside it."""
    build_db = build_db_path(warehouse.resolve(), export_dir)
    return spark_dir(build_db) if target == SPARK_TARGET else build_db.parent


def results(warehouse: Path, export_dir: Path | None, target: str = DUCKDB_TARGET) -> dict[str, str]:
    """Each node's status in run_results.json of the build of ``export_dir`` in ``warehouse`` on ``target``."""
    found = build_folder(warehouse, export_dir, target) / "target" / "run_results.json"
    return {r["unique_id"]: r["status"] for r in json.loads(found.read_text())["results"]}


def _normal(value):
    if isinstance(value, float | decimal.Decimal):
        return round(float(value), 9)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def mart_differences(duckdb_file: Path, spark_folder: Path) -> tuple[int, list[str]]:
    """Every mart and audit table of the DuckDB build against the table Spark wrote, row for row and column for
    column (timestamps in UTC, nulls equal, numbers to 9 decimals): (tables compared, a description of each table
    that differs, with up to five rows found on one engine only)."""
    differences, compared = [], 0
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        marts = con.execute(
            "select table_schema, table_name from information_schema.tables where list_contains(?, table_schema) "
            "order by 1, 2",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
        for schema, mart in marts:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position",
                    [schema, mart],
                ).fetchall()
                if c not in NOT_COMPARED
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            duck_rows = con.execute(f"select {select} from {schema}.{mart}").fetchall()
            duck = sorted((tuple(map(_normal, r)) for r in duck_rows), key=repr)
            files = sorted((spark_folder / "warehouse" / f"{schema}.db" / mart).glob("*.parquet"))
            spk = (
                sorted(
                    (
                        tuple(map(_normal, r))
                        for r in con.execute(
                            f"select {select} from read_parquet(?)", [[str(f) for f in files]]
                        ).fetchall()
                    ),
                    key=repr,
                )
                if files
                else []
            )
            compared += 1
            if duck != spk:
                only_duck = sorted(set(duck) - set(spk), key=repr)[:5]
                only_spark = sorted(set(spk) - set(duck), key=repr)[:5]
                differences.append(
                    f"{mart} ({len(duck)} rows on DuckDB, {len(spk)} on Spark; columns {columns}):\n"
                    + "".join(f"  DuckDB only: {r}\n" for r in only_duck)
                    + "".join(f"  Spark only:  {r}\n" for r in only_spark)
                )
    return compared, differences
