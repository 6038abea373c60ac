"""The bill-run health report: ``python -m zuora_wh report --html report.html`` (``make report``).

One static HTML page from the published warehouse (opened read-only), that works offline: the charts are
Vega-Lite specs drawn by Vega's JavaScript, which vl-convert bundles into the page itself, so nothing is fetched
when it is viewed. Beside it, a PNG of each chart (``report-<chart>.png``) for e-mail or chat, rendered by
vl-convert without a browser. Every chart has its numbers in a table under it, and the page says which build it
shows and how fresh the data is.

Charts (weeks run Monday to Sunday, by the day a run was created in its tenant's time zone), each over the same window,
which every title and the headline state: bill runs per week by status (stacked, each status in its own colour by
meaning, ``STATUS_COLOURS``), failure rate per week, processing time p50/p95 per week (minutes), posting lag p50 per
week (hours), invoices generated per entity; then the stuck runs (``fct_stuck_billing_runs``), as they are now.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from zuora_wh.columns import status_column, statuses

WEEKS = 26  # every chart and headline shows the same window: the 26 weeks ending with the latest week with runs

# Each status's colour, by what it means, the same on every build: settled well (Posted green, Completed blue: drafts
# not yet posted), failed (Error red), abandoned (Canceled grey), on its way (amber, darker the further along), held
# (Paused yellow). The chart's scale names every status, so a build without some statuses colours the rest alike.
STATUS_COLOURS = {
    "Posted": "#2e7d32",
    "Completed": "#1565c0",
    "Error": "#c62828",
    "Canceled": "#9e9e9e",
    "Pending": "#ffe0b2",
    "Processing": "#ffb74d",
    "PostInProgress": "#fb8c00",
    "CancelInProgress": "#ef6c00",
    "RemoveInProgress": "#bf360c",
    "Paused": "#fff176",
}


@dataclass
class Chart:
    key: str  # file name part and element id
    title: str
    spec: dict
    columns: list[str]  # the table under the chart
    rows: list[tuple]


@dataclass
class Window:
    """The weeks every chart and headline shows: Monday ``first`` to the week of Monday ``last``."""

    first: date
    last: date

    @property
    def text(self) -> str:
        return f"the {WEEKS} weeks from {self.first:%d %b %Y} to {self.last + timedelta(days=6):%d %b %Y}"

    @property
    def sql(self) -> str:
        """A condition on a tenant-local day (``run_date``, ``created_date``) that keeps the window's days."""
        return f"between date '{self.first.isoformat()}' and date '{(self.last + timedelta(days=6)).isoformat()}'"


def window(con) -> Window:
    (latest,) = con.execute("select max(run_date) from marts.fct_billing_run_daily where bill_runs > 0").fetchone()
    latest = latest or date.today()
    last = latest - timedelta(days=latest.weekday())
    return Window(last - timedelta(weeks=WEEKS - 1), last)


def _spec(title: str, values: list[dict], mark: dict, encoding: dict) -> dict:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "width": 640,
        "height": 220,
        "data": {"values": values},
        "mark": mark,
        "encoding": encoding,
    }


# A week on the x axis: one tick per week, labelled with its Monday.
WEEK_AXIS = {
    "field": "week",
    "type": "ordinal",
    "title": "week (from Monday)",
    "timeUnit": "yearmonthdate",
    "axis": {"format": "%d %b", "labelAngle": -45},
}


def _count_axis(field: str, title: str, **more) -> dict:
    """A count: whole-number ticks only."""
    return {"field": field, "type": "quantitative", "title": title, "axis": {"format": ",d", "tickMinStep": 1}, **more}


def charts(con, weeks: Window) -> list[Chart]:
    status_sums = ", ".join(f"sum({status_column(s)}) as {status_column(s)}" for s in statuses())
    by_status = con.execute(
        f"select date_trunc('week', run_date)::date as week, {status_sums} from marts.fct_billing_run_daily "
        f"where run_date {weeks.sql} group by 1 order by 1"
    ).fetchall()
    stacked = [
        {"week": w.isoformat(), "status": s, "runs": int(n)}
        for w, *counts in by_status
        for s, n in zip(statuses(), counts, strict=True)
        if n
    ]
    failure = con.execute(
        "select date_trunc('week', run_date)::date as week, sum(bill_runs) as runs, sum(error_runs) as failed, "
        "sum(error_runs) / nullif(sum(bill_runs), 0) as failure_rate from marts.fct_billing_run_daily "
        f"where run_date {weeks.sql} group by 1 order by 1"
    ).fetchall()
    timing = con.execute(
        "select date_trunc('week', created_date)::date as week, "
        "round(quantile_cont(processing_seconds, 0.5) / 60, 1) as p50_minutes, "
        "round(quantile_cont(processing_seconds, 0.95) / 60, 1) as p95_minutes, "
        "round(quantile_cont(posting_lag_seconds, 0.5) / 3600, 1) as posting_lag_hours "
        f"from marts.fct_billing_runs where created_date {weeks.sql} group by 1 order by 1"
    ).fetchall()
    # with several tenants, an entity is named with its tenant (entity names are unique within a tenant only)
    entities = con.execute(
        "select case when (select count(distinct tenant) from marts.fct_billing_runs) > 1 then tenant || ' / ' "
        "else '' end || coalesce(entity_name, '(no entity)') as entity, coalesce(sum(number_of_invoices), 0) "
        f"as invoices from marts.fct_billing_runs where created_date {weeks.sql} group by 1 order by 2 desc, 1"
    ).fetchall()
    colours = {
        "field": "status",
        "type": "nominal",
        "sort": list(statuses()),
        "scale": {"domain": list(STATUS_COLOURS), "range": list(STATUS_COLOURS.values())},
    }
    within = f", {weeks.text}"
    return [
        Chart(
            "runs-by-status",
            f"Bill runs per week, by status now{within}",
            _spec(
                f"Bill runs per week, by status now ({weeks.text})",
                stacked,
                {"type": "bar", "tooltip": True},
                {"x": WEEK_AXIS, "y": _count_axis("runs", "bill runs", stack="zero"), "color": colours},
            ),
            ["week", *statuses()],
            [(w.isoformat(), *map(int, c)) for w, *c in by_status],
        ),
        Chart(
            "failure-rate",
            f"Failure rate per week{within}",
            _spec(
                f"Failure rate per week: Error runs / all runs ({weeks.text})",
                [{"week": w.isoformat(), "failure_rate": float(r)} for w, _, _, r in failure if r is not None],
                {"type": "line", "point": True, "tooltip": True},
                {
                    "x": WEEK_AXIS,
                    "y": {
                        "field": "failure_rate",
                        "type": "quantitative",
                        "title": "failure rate",
                        "axis": {"format": "%"},
                    },
                },
            ),
            ["week", "bill runs", "failed", "failure rate"],
            [(w.isoformat(), int(n), int(f), "" if r is None else f"{r:.1%}") for w, n, f, r in failure],
        ),
        Chart(
            "processing-time",
            f"Processing time per week, p50 and p95 in minutes{within}",
            _spec(
                f"Processing time per week, minutes ({weeks.text})",
                [
                    {"week": w.isoformat(), "percentile": name, "minutes": v}
                    for w, p50, p95, _ in timing
                    for name, v in (("p50", p50), ("p95", p95))
                    if v is not None
                ],
                {"type": "line", "point": True, "tooltip": True},
                {
                    "x": WEEK_AXIS,
                    "y": {"field": "minutes", "type": "quantitative", "title": "minutes", "axis": {"format": ",.0f"}},
                    "color": {"field": "percentile", "type": "nominal"},
                },
            ),
            ["week", "p50 (min)", "p95 (min)"],
            [(w.isoformat(), p50, p95) for w, p50, p95, _ in timing],
        ),
        Chart(
            "posting-lag",
            f"Posting lag per week, p50 in hours from the end of processing to posting{within}",
            _spec(
                f"Posting lag per week, median hours ({weeks.text})",
                [{"week": w.isoformat(), "hours": h} for w, _, _, h in timing if h is not None],
                {"type": "line", "point": True, "tooltip": True},
                {
                    "x": WEEK_AXIS,
                    "y": {"field": "hours", "type": "quantitative", "title": "hours", "axis": {"format": ",.1f"}},
                },
            ),
            ["week", "posting lag p50 (h)"],
            [(w.isoformat(), h) for w, _, _, h in timing],
        ),
        Chart(
            "invoices-by-entity",
            f"Invoices generated per entity{within}",
            _spec(
                f"Invoices generated per entity ({weeks.text})",
                [{"entity": e, "invoices": int(n)} for e, n in entities],
                {"type": "bar", "tooltip": True},
                {
                    "y": {"field": "entity", "type": "nominal", "sort": "-x", "title": "entity"},
                    "x": _count_axis("invoices", "invoices"),
                },
            ),
            ["entity", "invoices"],
            [(e, int(n)) for e, n in entities],
        ),
    ]


def _table(columns: list[str], rows: list[tuple], css: str = "numbers") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bill-run health: {built_from}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
h1 {{ margin-bottom: 0.2rem; }} .build {{ color: #555; }}
.kpis {{ display: flex; gap: 2rem; margin: 1rem 0; }} .kpi b {{ display: block; font-size: 1.6rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1.5rem; }}
td, th {{ border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }} th {{ background: #f4f4f4; }}
td:first-child, th:first-child {{ text-align: left; }} .chart {{ min-height: 260px; }}
</style></head>
<body>
<h1>Bill-run health</h1>
<p class="build" id="build">Built from <b>{built_from}</b> at {built_at} UTC (dbt invocation {invocation}); data as of
<b id="data-as-of">{data_as_of}</b> UTC, the latest Updated Date of any bill run.</p>
<p id="window">Every chart and figure below covers {window}, by the day each run was created in its tenant's
time zone; the stuck runs are those stuck now.</p>
<div class="kpis">
<div class="kpi">bill runs, {weeks} weeks<b id="kpi-bill-runs">{bill_runs}</b></div>
<div class="kpi">failure rate, {weeks} weeks<b id="kpi-failure-rate">{failure_rate}</b></div>
<div class="kpi">stuck runs, now<b id="kpi-stuck-runs">{stuck}</b></div>
</div>
{sections}
<h2 id="stuck">Stuck runs</h2>
<p>Runs in a status that should pass (queued or under way) for longer than the build's threshold
(<code>zuora_stuck_after_hours</code>, 24 hours unless set) before their tenant's latest Updated Date
(<code>marts.fct_stuck_billing_runs</code>).</p>
{stuck_table}
<script type="module">{bundle}</script>
</body></html>
"""


def write(db: Path, out: Path) -> list[Path]:
    """Write the page ``out`` and a PNG per chart beside it; returns every file written."""
    import vl_convert

    with duckdb.connect(str(db), read_only=True) as con:
        built_from, built_at, data_as_of, invocation = con.execute(
            "select built_from, built_at, data_as_of, dbt_invocation_id from audit.audit_warehouse_build"
        ).fetchone()
        weeks = window(con)
        bill_runs, failed = con.execute(
            "select count(*), count(*) filter (where is_failed) from marts.fct_billing_runs "
            f"where created_date {weeks.sql}"
        ).fetchone()
        stuck_rows = con.execute(
            "select tenant, billing_run_number, entity_name, status_label, in_status_since, round(hours_in_status, 1) "
            "from marts.fct_stuck_billing_runs order by hours_in_status desc, billing_run_number"
        ).fetchall()
        all_charts = charts(con, weeks)
    sections = "\n".join(
        f'<h2>{html.escape(c.title)}</h2>\n<div class="chart" id="chart-{c.key}"></div>\n'
        f"<details><summary>the numbers</summary>{_table(c.columns, c.rows)}</details>"
        for c in all_charts
    )
    snippet = "\n".join(
        f"vegaEmbed('#chart-{c.key}', {json.dumps(c.spec)}, {{renderer: 'svg', actions: false}});" for c in all_charts
    )
    page = PAGE.format(
        built_from=html.escape(str(built_from)),
        built_at=built_at,
        invocation=html.escape(str(invocation)),
        data_as_of=data_as_of,
        bill_runs=f"{bill_runs:,}",
        stuck=len(stuck_rows),
        window=weeks.text,
        weeks=WEEKS,
        failure_rate=f"{failed / bill_runs:.1%}" if bill_runs else "-",
        sections=sections,
        bundle=vl_convert.javascript_bundle(snippet),
        stuck_table=_table(
            ["tenant", "bill run", "entity", "status", "in status since (UTC)", "hours"], stuck_rows, "stuck"
        )
        if stuck_rows
        else '<p id="no-stuck">None.</p>',
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    written = [out]
    for c in all_charts:
        png = out.with_name(f"{out.stem}-{c.key}.png")
        png.write_bytes(vl_convert.vegalite_to_png(c.spec, scale=2))
        written.append(png)
    return written
