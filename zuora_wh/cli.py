"""The warehouse's command line: ``python -m zuora_wh COMMAND`` (or the ``zuora-wh`` console script).

    build     check the exports (--export-dir or ZUORA_EXPORT_DIR, else the embedded demo), dbt build into the
              build file, and publish the result only if the build and every error-severity test passed; with
              --target spark, the same build on Spark (its marts stay in its metastore: nothing is published)
    publish   publish the last build again (the served DuckDB file and the Parquet files)
    docs      dbt's documentation site, generated from the last build (never from the served file)
    report    the summary of the published build: files read, rows loaded, rejected by reason, superseded;
              with --html FILE, the bill-run health page (charts, stuck runs, freshness) and a PNG of each chart
    export    write the billing-run data-source view to CSV, Parquet or Excel (see ``export --help``)
    extract   pull new and changed bill runs from Zuora's AQuA into the export folder (see ``extract --help``)
    metrics   answer the saved queries of the metrics with MetricFlow, as Parquet and CSV in warehouse/metrics/
    mf        MetricFlow itself on the published warehouse, read-only (``mf query --metrics ...``)
    refresh   what a scheduler runs: extract, build, metrics, then alerts (``make refresh``)
    alerts    tell the team of failed and stuck runs, a failure-rate spike, stale data, a failed refresh: each once,
              on stdout and to the webhook and e-mail the environment configures (ZUORA_ALERT_*)

Exit codes: 0 done; 2 a problem with the input or the command (one line naming the file and the problem), or
with Zuora (a refused client, a failed job, a file cut short: one line naming the tenant); 130 interrupted;
75 another build holds the warehouse folder (with --no-wait); a failed dbt build exits with dbt's code; alerts and
refresh exit with 1 when an alert fires.
No command prints a Python traceback, and none touches the served warehouse unless it publishes a good build.
"""

from __future__ import annotations

import argparse
import os
import sys

from zuora_wh import alerts, build, extract, metrics, output_file, refresh, report
from zuora_wh.dbt_runner import ROOT
from zuora_wh.errors import WarehouseError

# Each module's add_parser(subparsers) adds its commands, in the order --help lists them.
COMMANDS = (build, report, output_file, extract, metrics, refresh, alerts)


def parser() -> argparse.ArgumentParser:
    """The command line: every command, with its arguments."""
    text = __doc__.replace("``", "")  # the docstring's code spans, as a terminal shows them
    p = argparse.ArgumentParser(
        prog="python -m zuora_wh",
        description=text.split("\n\n")[0],
        epilog=text.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--warehouse-dir",
        default=os.environ.get("ZUORA_WAREHOUSE_DIR", str(ROOT / "warehouse")),
        help="the folder of the served warehouse and its builds (default: $ZUORA_WAREHOUSE_DIR, or warehouse/ in "
        "the project)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the command, and turn a failure into one line and its exit code."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except WarehouseError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing half-done was kept (no build published, no extract recorded)", file=sys.stderr)
        return 130


def main_exit() -> None:
    """The ``zuora-wh`` console script."""
    raise SystemExit(main())
