"""The same dbt project on Spark (dbt-spark's session method: pyspark 3.5 in this process's machine, no server, no
network), compared with DuckDB: `make test-spark`, after `make dbt-test` built the demo on DuckDB
(target/test.duckdb).

One `dbt build --target spark` of the demo runs every model, every data test and every unit test on Spark; then
every mart is read back from Spark and compared with DuckDB's, row for row and column for column, timestamps in
UTC and nulls equal. Any difference fails with the differing rows shown. Not compared: the build's own time and
dbt invocation (they differ by nature), and the status history, which needs a snapshot (Delta on Spark: README,
Run on Spark or Databricks).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
DUCKDB_BUILD = ROOT / "target" / "test.duckdb"
NOT_ON_SPARK = {"fct_billing_run_status_changes"}  # reads the snapshot, which Spark builds without Delta cannot take
NOT_COMPARED = {"built_at", "dbt_invocation_id"}  # when and by which invocation each engine built


def spark_env(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TZ": "UTC",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "ZUORA_SPARK_DIR": str(folder),
        "ZUORA_INPUT": "demo",
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_PROJECT_DIR": str(ROOT),
        "DBT_TARGET_PATH": str(folder / "target"),
        "DBT_LOG_PATH": str(folder / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark")
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run([str(dbt), "--no-use-colors", "build", "--target", "spark"], cwd=folder,
                          env=spark_env(folder), capture_output=True, text=True, timeout=1800)  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if " WARN " not in line or "test" in line]
    assert proc.returncode == 0, "\n".join(lines[-60:])
    return folder, json.loads((folder / "target" / "run_results.json").read_text())["results"]


def test_every_model_data_test_and_unit_test_passes_on_spark(spark_build):
    _, results = spark_build
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    done = ("success", "pass", "no-op")  # no-op: the saved queries, which dbt only records
    assert all(r["status"] in done for r in results), [(r["unique_id"], r["status"]) for r in results
                                                       if r["status"] not in done]  # fmt: skip


def _normal(value):
    if isinstance(value, float | decimal.Decimal):
        return round(float(value), 9)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def test_every_mart_equals_duckdbs_row_for_row(spark_build, monkeypatch):
    assert DUCKDB_BUILD.exists(), "run `make dbt-test` first (make test-spark does)"
    folder, _ = spark_build
    monkeypatch.chdir(folder)  # the Hive metastore of the Spark build is in its folder
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.host", "127.0.0.1").config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").config("spark.sql.warehouse.dir", str(folder / "warehouse"))
             .enableHiveSupport().getOrCreate())  # fmt: skip
    with duckdb.connect(str(DUCKDB_BUILD), read_only=True) as con:
        marts = [t for (t,) in con.execute("select table_name from information_schema.tables where table_schema = "
                                           "'marts' order by 1").fetchall() if t not in NOT_ON_SPARK]  # fmt: skip
        differences, compared = [], 0
        for mart in marts:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
                "order by ordinal_position", [mart]).fetchall() if c not in NOT_COMPARED]  # fmt: skip
            duck = sorted((tuple(map(_normal, r)) for r in con.execute(
                f"select {', '.join(columns)} from marts.{mart}").fetchall()), key=repr)  # fmt: skip
            spark_rows = spark.sql(f"select {', '.join(f'`{c}`' for c in columns)} from marts.{mart}").collect()
            spk = sorted((tuple(map(_normal, r)) for r in spark_rows), key=repr)
            compared += 1
            if duck != spk:
                only_duck = sorted(set(duck) - set(spk), key=repr)[:5]
                only_spark = sorted(set(spk) - set(duck), key=repr)[:5]
                differences.append(f"{mart} ({len(duck)} rows on DuckDB, {len(spk)} on Spark; columns {columns}):\n"
                                   + "".join(f"  DuckDB only: {r}\n" for r in only_duck)
                                   + "".join(f"  Spark only:  {r}\n" for r in only_spark))  # fmt: skip
    spark.stop()
    assert compared >= 10 and not differences, "\n".join(differences)
