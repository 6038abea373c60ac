"""The bill-run health page (python -m zuora_wh report --html), opened in a real browser: Debian's chromium, driven
headless by Playwright (no browser download), the page served on 127.0.0.1. It is written from the demo build of
`make dbt-test` (target/test.duckdb)."""

from __future__ import annotations

import functools
import shutil
import threading
from datetime import date, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import TEST_BUILD, query

from zuora_wh.columns import statuses
from zuora_wh.html_report import STATUS_COLOURS, charts, window, write

DB = TEST_BUILD
CHARTS = ["runs-by-status", "failure-rate", "processing-time", "posting-lag", "invoices-by-entity"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    assert DB.exists(), "run `make dbt-test` first (make test does): this test reads the demo build it makes"
    folder = tmp_path_factory.mktemp("report")
    written = write(DB, folder / "report.html")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield folder, written, f"http://127.0.0.1:{server.server_address[1]}/report.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for this test: apt-get install chromium (.ci/run installs it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


RENDERED = """keys => keys.every(key => {
    const svg = document.querySelector(`#chart-${key} svg`);
    return svg && svg.getBoundingClientRect().width > 100 && svg.querySelectorAll('g.role-mark path').length > 0;
})"""


def test_the_page_renders_every_chart_without_the_network(report, browser):
    """Opened from the server, the page asks for nothing else (every other request would be refused); opened with
    the network off, from its own text, every chart still draws."""
    _, written, url = report
    context = browser.new_context()
    asked = []

    def only_the_page(route):
        if route.request.url == url:
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_page)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(RENDERED, arg=CHARTS, timeout=20_000)
    assert asked == [] and errors == []
    offline = browser.new_context(offline=True)
    page = offline.new_page()
    page.set_content(written[0].read_text(encoding="utf-8"))
    page.wait_for_function(RENDERED, arg=CHARTS, timeout=20_000)
    context.close()
    offline.close()


def _weeks() -> list[date]:
    """The 26 Mondays the page covers, worked out here: up to the week of the latest day with bill runs."""
    (latest,) = query(DB, "select max(run_date) from marts.fct_billing_run_daily where bill_runs > 0")[0]
    last = latest - timedelta(days=latest.weekday())
    return [last - timedelta(weeks=k) for k in range(25, -1, -1)]


def test_the_numbers_shown_are_the_marts(report, browser):
    """Every headline figure and chart covers the same 26 weeks, which the page states; the stuck runs are now's."""
    _, _, url = report
    page = browser.new_page()
    page.goto(url)
    weeks = _weeks()
    first, last = weeks[0], weeks[-1] + timedelta(days=6)
    sql = (
        f"select count(*), count(*) filter (where is_failed) from marts.fct_billing_runs where created_date between "
        f"date '{first}' and date '{last}'"
    )
    runs, failed = query(DB, sql)[0]
    stuck = query(DB, "select count(*) from marts.fct_stuck_billing_runs")[0][0]
    data_as_of = query(DB, "select data_as_of from audit.audit_warehouse_build")[0][0]
    assert page.inner_text("#kpi-bill-runs") == f"{runs:,}" and runs > 100
    assert page.inner_text("#kpi-failure-rate") == f"{failed / runs:.1%}"
    assert page.inner_text("#kpi-stuck-runs") == str(stuck)
    assert page.inner_text("#data-as-of") == str(data_as_of)
    assert "Built from" in page.inner_text("#build")
    said = f"the 26 weeks from {first:%d %b %Y} to {last:%d %b %Y}"
    assert said in page.inner_text("#window")
    titles = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
    assert all(said in t for t in titles if t != "Stuck runs") and len(titles) == len(CHARTS) + 1
    # the failure-rate chart's table: the 26 weeks, each with the daily model's runs and failures
    cells = page.eval_on_selector_all(
        "#chart-failure-rate + details table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    weekly = query(
        DB,
        "select date_trunc('week', run_date)::date, sum(bill_runs), sum(error_runs) from "
        "marts.fct_billing_run_daily group by 1",
    )
    expected = {w.isoformat(): (int(n), int(f)) for w, n, f in weekly}
    assert [w for w, *_ in cells] == [w.isoformat() for w in weeks]
    assert all(expected[w] == (int(n), int(f)) for w, n, f, _ in cells)
    # the stuck runs' table: every stuck run, once
    shown = page.eval_on_selector_all("table.stuck tbody tr", "rows => rows.map(r => r.cells[1].textContent)")
    stuck_runs = query(DB, "select billing_run_number from marts.fct_stuck_billing_runs")
    assert sorted(shown) == sorted(n for (n,) in stuck_runs)
    page.close()


def test_each_chart_is_also_a_png(report):
    _, written, _ = report
    pngs = {p.name: p for p in written[1:]}
    assert sorted(pngs) == sorted(f"report-{key}.png" for key in CHARTS)
    for png in pngs.values():
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a drawn chart, not an empty canvas


def test_status_colours_are_fixed_by_meaning():
    """The same colour for a status on every build, whatever statuses it has: Error red, Posted green, the statuses on
    their way amber, Canceled grey; counts tick in whole numbers, weeks one by one, durations in minutes and hours."""
    import duckdb

    assert set(STATUS_COLOURS) == set(statuses())
    hue = {s: c.lstrip("#") for s, c in STATUS_COLOURS.items()}
    red, green, blue = (lambda c: int(c[0:2], 16)), (lambda c: int(c[2:4], 16)), (lambda c: int(c[4:6], 16))
    assert red(hue["Error"]) > 150 > green(hue["Error"]) and green(hue["Posted"]) > red(hue["Posted"])
    assert red(hue["Canceled"]) == green(hue["Canceled"]) == blue(hue["Canceled"])
    for status in ("Pending", "Processing", "PostInProgress", "CancelInProgress", "RemoveInProgress"):
        assert red(hue[status]) > green(hue[status]) > blue(hue[status]), status  # amber: red, then green, no blue
    with duckdb.connect(str(DB), read_only=True) as con:
        specs = {c.key: c.spec for c in charts(con, window(con))}
    colour = specs["runs-by-status"]["encoding"]["color"]["scale"]
    assert dict(zip(colour["domain"], colour["range"], strict=True)) == STATUS_COLOURS
    assert specs["runs-by-status"]["encoding"]["y"]["axis"]["tickMinStep"] == 1
    assert specs["invoices-by-entity"]["encoding"]["x"]["axis"]["tickMinStep"] == 1
    assert all(specs[k]["encoding"]["x"]["type"] == "ordinal" for k in CHARTS if k != "invoices-by-entity")
    assert specs["processing-time"]["encoding"]["y"]["title"] == "minutes"
    assert specs["posting-lag"]["encoding"]["y"]["title"] == "hours"
