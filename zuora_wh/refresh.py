"""``python -m zuora_wh refresh``: what a scheduler runs (``make refresh``). It pulls what changed from Zuora
(``extract``), builds and publishes (``build``), answers the metrics (``metrics``), then tells the team
(``alerts``): the first step that fails stops the refresh, and its one line is recorded for the alerts, which report
it. The exit code is the alerts': 0 all is well, 1 an alert fires (a failed refresh is one), 2 an error of the
alerts themselves (a delivery that failed).

dbt's process starts with the refresh (``zuora_wh.dbt_runner.started_ahead``): it imports dbt while the extract waits
for Zuora, and the build hands it its order.
"""

from __future__ import annotations

import sys

from zuora_wh import alerts, dbt_runner, extract, options
from zuora_wh.errors import WarehouseError


def run_step(argv: list[str]) -> str | None:
    """Run one command of the command line in this process; None when it worked, else its one line."""
    from zuora_wh.cli import parser  # the command line lists this command: imported when it runs

    args = parser().parse_args(argv)
    try:
        code = args.func(args)
    except WarehouseError as e:
        print(f"error: {e}", file=sys.stderr)
        return str(e)
    return None if code == 0 else f"exit code {code}"


def refresh(args) -> int:
    warehouse = ["--warehouse-dir", args.warehouse_dir]
    exports = ["--export-dir", args.export_dir] if args.export_dir else []
    waits = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in extract.WAITS]
    steps = {"extract": [*exports, *waits], "build": exports, **({} if args.no_metrics else {"metrics": exports})}
    failed = None
    with dbt_runner.started_ahead():  # dbt imports itself while the extract waits for Zuora, for the build to use
        for step, step_args in steps.items():
            error = run_step([*warehouse, step, *step_args])
            if error is not None:
                failed = (step, error)
                print(f"refresh: {step} failed; the refresh stops here, and the alerts say so", file=sys.stderr)
                break
    warehouse_dir = options.warehouse_dir(args)
    alerts.record_refresh(warehouse_dir, ok=failed is None, step=failed and failed[0], error=failed and failed[1])
    return alerts.alerts(args)


def add_parser(sub) -> None:
    r = sub.add_parser("refresh", help="extract, build, metrics, then alerts: what a scheduler runs")
    options.add_export_dir(r)
    extract.add_waits(r)
    r.add_argument("--no-metrics", action="store_true", help="leave the metrics' files as they are (faster)")
    r.add_argument("--now", help="the time the alerts measure staleness against (default: now)")
    r.set_defaults(func=refresh)
