"""The process that runs dbt for a build (zuora_wh/dbt_process.py) ends without Python's finalisation: it must close
the DuckDB database itself, or the build's last changes stay in DuckDB's write-ahead log for the next reader to
replay. Every build runs this process, so its exit codes are tested by the builds' own tests (a failing data test
fails the build: test_data_tests_fail.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

# A dbt-duckdb database as dbt leaves it at the end of a build (written, its cursors closed), then the quick exit,
# with or without closing the database first.
ENDING = textwrap.dedent(
    """
    import os, sys
    from dbt.adapters.duckdb import environments
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from zuora_wh import dbt_process

    DuckDBConnectionManager._ENV = environments.create(DuckDBCredentials(path=sys.argv[1]))
    handle = DuckDBConnectionManager._ENV.handle()
    handle.cursor().execute("create table built as select range as n from range(1000)")
    handle.close()
    if sys.argv[2] == "close":
        assert dbt_process.close_duckdb()
    os._exit(0)
    """
)


@pytest.mark.parametrize("close", [True, False])
def test_the_quick_exit_leaves_the_database_checkpointed(tmp_path, close):
    """Closed before the quick exit, the database holds the build's table in the file itself, with no write-ahead
    log left; not closed (the check's control), the log is left behind."""
    db = tmp_path / "zuora.duckdb"
    ended = subprocess.run(
        [sys.executable, "-c", ENDING, str(db), "close" if close else "leave"], capture_output=True, text=True
    )
    assert ended.returncode == 0, ended.stderr
    assert db.with_name("zuora.duckdb.wal").exists() is not close
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from built").fetchone() == (1000,)


def test_a_spark_build_ends_the_ordinary_way():
    """Without dbt-duckdb in the process (a Spark build), there is no database to close, and the process exits the
    ordinary way."""
    code = (
        "import sys; from zuora_wh import dbt_process; "
        "print(dbt_process.close_duckdb(), 'dbt.adapters.duckdb.connections' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
