"""Helpers of the Spark tests (make test-spark): build an input on both engines, and compare their marts.

Every build goes through ``python -m zuora_wh build`` as a user's would: on DuckDB into its build file, on Spark
(``--target spark``) into the Spark folder beside it. Spark's marts are compared as Spark wrote them, from the
Parquet files of its tables (DuckDB reads them), so no second Spark session is needed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
from helpers import ROOT

from zuora_wh.cli import build_db_path, spark_dir

NOT_COMPARED = {"built_at", "dbt_invocation_id"}  # when and by which invocation each engine built


def start_build(warehouse: Path, export_dir: Path | None, *args: str) -> subprocess.Popen:
    """``python -m zuora_wh build`` of ``export_dir`` (None: the demo), started; wait with ``finish``."""
    where = ["--export-dir", str(export_dir)] if export_dir else []
    env = {k: v for k, v in os.environ.items() if k != "ZUORA_EXPORT_DIR"} | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "zuora_wh", "--warehouse-dir", str(warehouse), "build", *where, *args], cwd=ROOT,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen, timeout: int = 1200) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-6000:]
    return out


def spark_results(warehouse: Path, export_dir: Path | None) -> list[dict]:
    """run_results.json of the Spark build of ``export_dir`` in ``warehouse``."""
    folder = spark_dir(build_db_path(warehouse.resolve(), export_dir))
    return json.loads((folder / "target" / "run_results.json").read_text())["results"]


def _normal(value):
    if isinstance(value, float | decimal.Decimal):
        return round(float(value), 9)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def mart_differences(duckdb_file: Path, spark_folder: Path) -> tuple[int, list[str]]:
    """Every mart of the DuckDB build against the table Spark wrote, row for row and column for column (timestamps
    in UTC, nulls equal, numbers to 9 decimals): (marts compared, a description of each mart that differs, with up
    to five rows found on one engine only)."""
    differences, compared = [], 0
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        marts = [t for (t,) in con.execute("select table_name from information_schema.tables where table_schema = "
                                           "'marts' order by 1").fetchall()]  # fmt: skip
        for mart in marts:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
                "order by ordinal_position", [mart]).fetchall() if c not in NOT_COMPARED]  # fmt: skip
            select = ", ".join(f'"{c}"' for c in columns)
            duck_rows = con.execute(f"select {select} from marts.{mart}").fetchall()
            duck = sorted((tuple(map(_normal, r)) for r in duck_rows), key=repr)
            files = sorted((spark_folder / "warehouse" / "marts.db" / mart).glob("*.parquet"))
            spk = sorted((tuple(map(_normal, r)) for r in con.execute(
                f"select {select} from read_parquet(?)", [[str(f) for f in files]]).fetchall()), key=repr
                ) if files else []  # fmt: skip
            compared += 1
            if duck != spk:
                only_duck = sorted(set(duck) - set(spk), key=repr)[:5]
                only_spark = sorted(set(spk) - set(duck), key=repr)[:5]
                differences.append(f"{mart} ({len(duck)} rows on DuckDB, {len(spk)} on Spark; columns {columns}):\n"
                                   + "".join(f"  DuckDB only: {r}\n" for r in only_duck)
                                   + "".join(f"  Spark only:  {r}\n" for r in only_spark))  # fmt: skip
    return compared, differences
