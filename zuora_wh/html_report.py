"""The bill-run health report: ``python -m zuora_wh report --html report.html`` (``make report``).

One static HTML page from the published warehouse (opened read-only), that works offline: the charts are
Vega-Lite specs drawn by Vega's JavaScript, which vl-convert bundles into the page itself, so nothing is fetched
when it is viewed. Beside it, a PNG of each chart (``report-<chart>.png``) for e-mail or chat, rendered by
vl-convert without a browser. Every chart has its numbers in a table under it, and the page says which build it
shows and how fresh the data is.

Charts (weeks run Monday to Sunday, by the day a run was created in its tenant's time zone):
bill runs per week by status (stacked), failure rate per week, processing time p50/p95 per week, posting lag p50
per week, invoices generated per entity; then the stuck runs (``fct_stuck_billing_runs``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from zuora_wh.columns import STATUSES, status_column

WEEKS = 26  # the charts show the last half year of weeks with data


@dataclass
class Chart:
    key: str  # file name part and element id
    title: str
    spec: dict
    columns: list[str]  # the table under the chart
    rows: list[tuple]


def _weekly(con, weeks: int) -> str:
    """The last ``weeks`` weeks (Monday dates) with data, as a SQL list of dates."""
    rows = con.execute(
        "select distinct date_trunc('week', run_date) as week from marts.fct_billing_run_daily "
        "where bill_runs > 0 order by 1 desc limit ?",
        [weeks],
    ).fetchall()
    return ", ".join(f"date '{w.isoformat()[:10]}'" for (w,) in rows) or "null"


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


def charts(con) -> list[Chart]:
    weeks = _weekly(con, WEEKS)
    status_sums = ", ".join(f"sum({status_column(s)}) as {status_column(s)}" for s in STATUSES)
    by_status = con.execute(
        f"select date_trunc('week', run_date)::date as week, {status_sums} from marts.fct_billing_run_daily "
        f"where date_trunc('week', run_date) in ({weeks}) group by 1 order by 1"
    ).fetchall()
    stacked = [{"week": w.isoformat(), "status": s, "runs": int(n)}
               for w, *counts in by_status for s, n in zip(STATUSES, counts, strict=True) if n]  # fmt: skip
    failure = con.execute(
        "select date_trunc('week', run_date)::date as week, sum(bill_runs) as runs, sum(error_runs) as failed, "
        "round(sum(error_runs) / sum(bill_runs), 4) as failure_rate from marts.fct_billing_run_daily "
        f"where date_trunc('week', run_date) in ({weeks}) group by 1 order by 1"
    ).fetchall()
    timing = con.execute(
        "select date_trunc('week', created_date)::date as week, "
        "round(quantile_cont(processing_seconds, 0.5), 1) as p50, round(quantile_cont(processing_seconds, 0.95), 1) "
        "as p95, round(quantile_cont(posting_lag_seconds, 0.5) / 3600, 2) as posting_lag_hours "
        f"from marts.fct_billing_runs where date_trunc('week', created_date) in ({weeks}) group by 1 order by 1"
    ).fetchall()
    # with several tenants, an entity is named with its tenant (entity names are unique within a tenant only)
    entities = con.execute(
        "select case when (select count(distinct tenant) from marts.fct_billing_runs) > 1 then tenant || ' / ' "
        "else '' end || coalesce(entity_name, '(no entity)') as entity, coalesce(sum(number_of_invoices), 0) "
        "as invoices from marts.fct_billing_runs group by 1 order by 2 desc, 1"
    ).fetchall()
    week_axis = {"field": "week", "type": "temporal", "title": "week", "timeUnit": "yearmonthdate"}
    return [
        Chart("runs-by-status", "Bill runs per week, by status now",
              _spec("Bill runs per week, by status now", stacked, {"type": "bar", "tooltip": True},
                    {"x": {"field": "week", "type": "ordinal", "title": "week (from Monday)"},
                     "y": {"field": "runs", "type": "quantitative", "stack": "zero"},
                     "color": {"field": "status", "type": "nominal"}}),
              ["week", *STATUSES], [(w.isoformat(), *map(int, c)) for w, *c in by_status]),
        Chart("failure-rate", "Failure rate per week",
              _spec("Failure rate per week (Error runs / all runs)",
                    [{"week": w.isoformat(), "failure_rate": float(r)} for w, _, _, r in failure],
                    {"type": "line", "point": True, "tooltip": True},
                    {"x": week_axis, "y": {"field": "failure_rate", "type": "quantitative", "axis": {"format": "%"}}}),
              ["week", "bill runs", "failed", "failure rate"],
              [(w.isoformat(), int(n), int(f), float(r)) for w, n, f, r in failure]),
        Chart("processing-time", "Processing time per week (p50 and p95, seconds)",
              _spec("Processing time per week (seconds)",
                    [{"week": w.isoformat(), "percentile": name, "seconds": v}
                     for w, p50, p95, _ in timing for name, v in (("p50", p50), ("p95", p95)) if v is not None],
                    {"type": "line", "point": True, "tooltip": True},
                    {"x": week_axis, "y": {"field": "seconds", "type": "quantitative"},
                     "color": {"field": "percentile", "type": "nominal"}}),
              ["week", "p50 (s)", "p95 (s)"], [(w.isoformat(), p50, p95) for w, p50, p95, _ in timing]),
        Chart("posting-lag", "Posting lag per week (p50, hours from end of processing to posting)",
              _spec("Posting lag per week (median, hours)",
                    [{"week": w.isoformat(), "hours": h} for w, _, _, h in timing if h is not None],
                    {"type": "line", "point": True, "tooltip": True},
                    {"x": week_axis, "y": {"field": "hours", "type": "quantitative"}}),
              ["week", "posting lag p50 (h)"], [(w.isoformat(), h) for w, _, _, h in timing]),
        Chart("invoices-by-entity", "Invoices generated per entity (all time)",
              _spec("Invoices generated per entity", [{"entity": e, "invoices": int(n)} for e, n in entities],
                    {"type": "bar", "tooltip": True},
                    {"y": {"field": "entity", "type": "nominal", "sort": "-x"},
                     "x": {"field": "invoices", "type": "quantitative"}}),
              ["entity", "invoices"], [(e, int(n)) for e, n in entities]),
    ]  # fmt: skip


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
<div class="kpis">
<div class="kpi">bill runs<b id="kpi-bill-runs">{bill_runs}</b></div>
<div class="kpi">failure rate, all time<b id="kpi-failure-rate">{failure_rate}</b></div>
<div class="kpi">stuck runs<b id="kpi-stuck-runs">{stuck}</b></div>
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
            "select built_from, built_at, data_as_of, dbt_invocation_id from marts.dim_warehouse_build"
        ).fetchone()
        bill_runs, failed = con.execute(
            "select count(*), count(*) filter (where is_failed) from marts.fct_billing_runs"
        ).fetchone()
        stuck_rows = con.execute(
            "select tenant, billing_run_number, entity_name, status_label, in_status_since, round(hours_in_status, 1) "
            "from marts.fct_stuck_billing_runs order by hours_in_status desc, billing_run_number"
        ).fetchall()
        all_charts = charts(con)
    sections = "\n".join(
        f'<h2>{html.escape(c.title)}</h2>\n<div class="chart" id="chart-{c.key}"></div>\n'
        f"<details><summary>the numbers</summary>{_table(c.columns, c.rows)}</details>"
        for c in all_charts
    )
    snippet = "\n".join(
        f"vegaEmbed('#chart-{c.key}', {json.dumps(c.spec)}, {{renderer: 'svg', actions: false}});" for c in all_charts
    )
    page = PAGE.format(
        built_from=html.escape(str(built_from)), built_at=built_at, invocation=html.escape(str(invocation)),
        data_as_of=data_as_of, bill_runs=bill_runs, stuck=len(stuck_rows),
        failure_rate=f"{failed / bill_runs:.1%}" if bill_runs else "-",
        sections=sections, bundle=vl_convert.javascript_bundle(snippet),
        stuck_table=_table(["tenant", "bill run", "entity", "status", "in status since (UTC)", "hours"], stuck_rows,
                           "stuck") if stuck_rows else "<p id=\"no-stuck\">None.</p>",
    )  # fmt: skip
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
