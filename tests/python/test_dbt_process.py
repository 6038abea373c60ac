"""The process that runs dbt for a build (zuora_wh/dbt_process.py) ends without Python's finalisation: it must close
the DuckDB database itself, or the build's last changes stay in DuckDB's write-ahead log for the next reader to
replay. Every build runs this process, so its exit codes are tested by the builds' own tests (a failing data test
fails the build: test_data_tests_fail.py). Started ahead (a refresh starts it while the extract waits for Zuora), it
runs the order it is given, or nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from helpers import memory_limit_set

from zuora_wh import cli, dbt_process, dbt_runner, refresh

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


def test_dbt_started_ahead_with_no_order_ends_without_running_anything():
    """A process started ahead whose stdin ends with no order (the refresh needed no build, or died) imports dbt and
    ends, printing nothing."""
    ended = subprocess.run(
        [sys.executable, "-m", "zuora_wh.dbt_process", dbt_process.AHEAD],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (ended.returncode, ended.stdout, ended.stderr) == (0, "", "")


@pytest.fixture
def starts(monkeypatch):
    """The arguments of every dbt process dbt_runner starts."""
    started = []
    start = dbt_runner._dbt_process

    def spy(argv, *args, **kwargs):
        started.append(argv)
        return start(argv, *args, **kwargs)

    monkeypatch.setattr(dbt_runner, "_dbt_process", spy)
    return started


def debug_in(folder: Path) -> int:
    """``dbt debug`` for a build file in ``folder``: it connects, so DuckDB creates the file, in the folder of the
    order and under the name of its environment."""
    return dbt_runner.run_dbt(folder / "zuora.duckdb", None, ["debug"])


def test_dbt_keeps_to_the_memory_limit_it_is_given(tmp_path):
    """DuckDB's memory limit reaches dbt's database through its on-run-start (macro zuora_duckdb_memory_limit), and
    binds: a seed that loads within 1 GB fails for want of memory within 1 MB."""
    seed = ["seed", "--select", "zuora_reject_reasons"]
    assert dbt_runner.run_dbt(tmp_path / "zuora.duckdb", None, seed, limit="1000MB") == 0
    assert memory_limit_set(tmp_path) == "1000MB"
    assert dbt_runner.run_dbt(tmp_path / "zuora.duckdb", None, seed, limit="1MB") != 0
    assert memory_limit_set(tmp_path) == "1MB"
    assert "Out of Memory Error" in (tmp_path / "dbt-seed.log").read_text()


def test_dbt_started_ahead_runs_the_next_order_in_its_folder_and_environment(tmp_path, starts):
    """Within started_ahead, the process started at once runs the next DuckDB run_dbt: no other dbt process starts,
    and dbt works in the folder and with the environment of the order (its build file is where they name it). The
    next run_dbt starts its own."""
    with dbt_runner.started_ahead():
        assert starts == [[dbt_process.AHEAD]]
        assert debug_in(tmp_path / "first") == 0
        assert starts == [[dbt_process.AHEAD]]
        assert (tmp_path / "first" / "zuora.duckdb").exists()
        assert debug_in(tmp_path / "second") == 0
    assert [argv[0] for argv in starts] == [dbt_process.AHEAD, "--no-use-colors"]
    assert (tmp_path / "second" / "zuora.duckdb").exists()


def test_dbt_started_ahead_that_ended_is_replaced_and_one_unused_is_stopped(tmp_path, starts):
    """A process started ahead that ended before its order (killed) leaves the run to a new process; one still
    waiting when the block ends is stopped."""
    with dbt_runner.started_ahead():
        ahead = dbt_runner._ahead
        ahead.kill()
        ahead.wait()
        assert debug_in(tmp_path) == 0
    assert [argv[0] for argv in starts] == [dbt_process.AHEAD, "--no-use-colors"]
    with dbt_runner.started_ahead():
        waiting = dbt_runner._ahead
        assert waiting.poll() is None
    assert waiting.poll() is not None and dbt_runner._ahead is None


def test_a_refresh_starts_dbt_before_its_extract_and_stops_it_after(tmp_path, monkeypatch, starts):
    """``refresh`` starts dbt's process before its first step, so that the extract's wait for Zuora imports dbt, and
    the process still waits at its build; the refresh ends with none left (here no step ran dbt)."""
    waiting = []

    def step(argv: list[str]) -> None:
        waiting.append((argv[2], dbt_runner._ahead is not None and dbt_runner._ahead.poll() is None))

    monkeypatch.setattr(refresh, "run_step", step)
    monkeypatch.setattr(refresh.alerts, "record_refresh", lambda *args, **kwargs: None)
    monkeypatch.setattr(refresh.alerts, "alerts", lambda args: 0)
    args = cli.parser().parse_args(["--warehouse-dir", str(tmp_path), "refresh", "--no-metrics"])
    assert args.func(args) == 0
    assert waiting == [("extract", True), ("build", True)]
    assert starts == [[dbt_process.AHEAD]] and dbt_runner._ahead is None
