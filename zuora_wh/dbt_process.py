"""dbt's command line as the ``dbt`` script runs it, for the short life of one build (``zuora_wh.dbt_runner`` starts
it as ``python -m zuora_wh.dbt_process <dbt arguments>``). Two differences, measured on the incremental build of a
0.1% delta at 1M bill runs (DECISIONLOG: Performance rules):

- Python's cyclic garbage collector runs after ``GC_THRESHOLD`` new objects rather than 700: dbt holds its whole
  project in memory, and each full collection walked all of it again (the dbt process 1.5 s faster, its peak memory
  the same);
- on DuckDB, the process ends without Python's finalisation, which collected every object dbt made (0.6 s):
  dbt-duckdb's database is closed first (DuckDB writes its checkpoint, and removes its write-ahead log), dbt's logs
  and the output are flushed, then the process exits with dbt's exit code. A Spark build ends the ordinary way
  (Spark's session and metastore have their own shutdown).

Started as ``python -m zuora_wh.dbt_process --ahead``, the process imports dbt and its DuckDB adapter (1.3 to 1.8 s
of one core), then waits for its order on stdin, one line of JSON: the folder to run in, the environment and dbt's
arguments (``zuora_wh.dbt_runner.started_ahead``: a refresh starts dbt while it waits for Zuora). Importing dbt reads
nothing of what the build sets in the environment (DECISIONLOG: Performance rules), which the order replaces whole
before dbt starts. An empty stdin (the refresh needed no build) ends the process without running anything.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

GC_THRESHOLD = 100_000
AHEAD = "--ahead"


def run(argv: list[str]) -> int:
    """dbt's command line on ``argv``; its exit code."""
    from dbt.cli.main import cli

    try:
        cli.main(args=argv, prog_name="dbt")
    except SystemExit as ended:  # click ends every command this way
        return ended.code if isinstance(ended.code, int) else int(ended.code is not None)
    return 0


def wait_for_order() -> list[str] | None:
    """Import dbt and its DuckDB adapter, then take the order from stdin: the process moves into the order's folder
    and environment, and dbt's arguments are returned; None when stdin ends with no order."""
    import json

    import dbt.adapters.duckdb  # what dbt imports when it registers the adapter
    import dbt.cli.main  # noqa: F401

    line = sys.stdin.readline()
    if not line.strip():
        return None
    order = json.loads(line)
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    return order["argv"]


def close_duckdb() -> bool:
    """Close the DuckDB database dbt-duckdb holds (what its own exit handler leaves to finalisation); False when this
    dbt ran on another adapter."""
    if "dbt.adapters.duckdb.connections" not in sys.modules:
        return False
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV  # dbt-duckdb's one database handle of the process
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
    return True


def main() -> None:
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    argv = sys.argv[1:]
    if argv == [AHEAD]:
        argv = wait_for_order()
        if argv is None:
            sys.exit(0)
    code = run(argv)
    if close_duckdb():
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # dbt starts helper processes that import the main module again: they must not run dbt
    main()
