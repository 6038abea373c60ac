"""The demo warehouse on Spark (dbt-spark's session method: pyspark 3.5 in this machine, no server, no network),
compared with DuckDB: `make test-spark`, after `make dbt-test` built the demo on DuckDB (target/test.duckdb).

One `python -m zuora_wh build --target spark --unit-tests` of the demo runs every model, every data test and every
unit test on Spark; then every mart Spark wrote is compared with DuckDB's, row for row and column for column,
timestamps in UTC and nulls equal. Any difference fails with the differing rows shown. Not compared: the build's
own time and dbt invocation (they differ by nature).
"""

from __future__ import annotations

import pytest
from helpers import ROOT
from spark_helpers import build_folder, finish, mart_differences, results, start_build

from zuora_wh.dbt_runner import SPARK_TARGET

DUCKDB_BUILD = ROOT / "target" / "test.duckdb"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("spark_demo")
    finish(start_build(warehouse, None, "--target", SPARK_TARGET, "--unit-tests"))
    return warehouse


def test_every_model_data_test_and_unit_test_passes_on_spark(demo):
    statuses = results(demo, None, SPARK_TARGET)
    assert {"model", "seed", "test", "unit_test"} <= {u.split(".")[0] for u in statuses}
    done = ("success", "pass", "no-op")  # no-op: the saved queries, which dbt only records
    assert all(s in done for s in statuses.values()), [(u, s) for u, s in statuses.items() if s not in done]


def test_every_mart_equals_duckdbs_row_for_row(demo):
    assert DUCKDB_BUILD.exists(), "run `make dbt-test` first (make test-spark does)"
    compared, differences = mart_differences(DUCKDB_BUILD, build_folder(demo, None, SPARK_TARGET))
    assert compared >= 13 and not differences, "\n".join(differences)
