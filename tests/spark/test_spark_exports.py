"""Real export folders on Spark: the folders the Python suite generates, built on both engines and compared.

One folder holds two tenants, each in its own sub-folder named by an extractor's state file (so that the two
generated data sets, which share IDs, stay apart): ``formats`` is the every-format folder of test_real_exports (CSV
with every delimiter, gzip, TSV, DSV, JSON arrays and lines, Excel, ZIP, a byte-order mark, API-name headers,
columns and files that are no part of the data source) in a tenant time zone other than the build's, and
``bad_rows`` the row-level bad-input folder of test_bad_input (every quarantine reason, every cleaning rule, AQuA's
deleted flag, a header-only file). ``python -m zuora_wh build`` builds it on DuckDB and, at the same time, with
``--target spark``, then again after a re-export (an incremental build, and the status history's second state);
every mart must be equal, row for row. Each file-level problem of test_bad_input stops the Spark
build the same way, with one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import query, zuora_wh
from spark_helpers import build_folder, finish, mart_differences, results, start_build
from test_bad_input import FILE_ERRORS, build_stops_with_one_line, write_bad_rows
from test_real_exports import RUNS, write_every_format

from zuora_wh.dbt_runner import SPARK_TARGET
from zuora_wh.generate import write_demo_reexport
from zuora_wh.tenants import STATE_FILE
from zuora_wh.warehouse import DB_NAME

TENANTS = {"formats": "Europe/Berlin", "bad_rows": None}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_exports")
    exports = root / "exports"
    exports.mkdir()
    generated, _ = write_every_format(root / "formats")
    generated.rename(exports / "formats")
    # a name with a space, an apostrophe, a backslash, glob characters and a colon (which Hadoop cannot open: Spark
    # reads a copy), read as DuckDB reads it
    (exports / "formats" / "runs_plain.csv").rename(exports / "formats" / "runs plain (Jan's \\ copy) [1] 10:30.csv")
    write_bad_rows(exports / "bad_rows")
    for tenant, zone in TENANTS.items():
        (exports / tenant / STATE_FILE).write_text(json.dumps({"tenant": tenant, "time_zone": zone}))
    build_on_both(root, exports)
    # then a re-export that moves a fifth of the formats tenant's runs one status further, and adds new runs: an
    # incremental build on each engine, and the status history's second state
    write_demo_reexport(exports / "formats", bill_runs=RUNS, share=0.2, new_runs=10)
    duckdb_output, spark_output = build_on_both(root, exports)
    return {"exports": exports, "root": root, "duckdb": duckdb_output, "spark": spark_output}


def build_on_both(root: Path, exports: Path) -> tuple[str, str]:
    """Build ``exports`` on DuckDB (root/duckdb) and on Spark (root/spark) side by side: their outputs."""
    builds = [
        start_build(root / "duckdb", exports, "--no-publish"),
        start_build(root / "spark", exports, "--target", SPARK_TARGET),
    ]
    duckdb_output, spark_output = (finish(build) for build in builds)
    return duckdb_output, spark_output


def test_every_model_and_test_ends_on_spark_as_on_duckdb(both):
    """Every model builds and every data test passes on Spark, except the warnings this folder is made to raise
    (a shared Billing Run Number, a processed run without counts), which are the same on both engines."""
    spark = results(both["root"] / "spark", both["exports"], SPARK_TARGET)
    duck = results(both["root"] / "duckdb", both["exports"])
    assert {u.split(".")[0] for u in spark} >= {"model", "test"}
    assert {u for u, s in spark.items() if s not in ("success", "pass", "no-op")} == {
        u for u, s in duck.items() if s not in ("success", "pass", "no-op")
    }
    assert "warn" in spark.values()
    assert not set(duck) - set(spark), f"built on DuckDB only: {sorted(set(duck) - set(spark))}"


def test_both_tenants_are_built_and_the_second_build_is_incremental_on_both_engines(both):
    built = build_folder(both["root"] / "duckdb", both["exports"]) / DB_NAME
    tenants = query(built, "select tenant, count(*) from marts.fct_billing_runs group by 1 order by 1")
    assert [t for t, _ in tenants] == sorted(TENANTS)
    for output in (both["duckdb"], both["spark"]):
        assert " files in " in output and ": 1 to load, " in output and "warning: " in output
    changes = query(built, "select tenant, count(*) from marts.fct_billing_run_status_changes group by 1")
    assert changes and changes[0][0] == "formats" and changes[0][1] >= 10, changes


def test_every_mart_equals_duckdbs_row_for_row(both):
    built = build_folder(both["root"] / "duckdb", both["exports"]) / DB_NAME
    compared, differences = mart_differences(built, build_folder(both["root"] / "spark", both["exports"], SPARK_TARGET))
    assert compared >= 13 and not differences, "\n".join(differences)


@pytest.mark.parametrize("name", sorted(FILE_ERRORS))
def test_file_level_problem_is_one_clear_line_on_spark(tmp_path, name):
    build_stops_with_one_line(tmp_path, name, "--target", SPARK_TARGET)
    assert not any((tmp_path / "wh").rglob("metastore_db")), "Spark never started"


def test_no_java_is_one_clear_line(tmp_path):
    result = zuora_wh(
        "build",
        "--target",
        "spark",
        warehouse=tmp_path / "wh",
        env={"PATH": str(tmp_path / "nowhere"), "JAVA_HOME": ""},
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip() == "error: --target spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
    )
