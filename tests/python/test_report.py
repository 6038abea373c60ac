"""The bill-run health page (python -m zuora_wh report --html), opened in a real browser: Debian's chromium, driven
headless by Playwright (no browser download), the page served on 127.0.0.1. It is written from the demo build of
`make dbt-test` (target/test.duckdb)."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import ROOT, query

from zuora_wh.html_report import write

DB = ROOT / "target" / "test.duckdb"
CHARTS = ["runs-by-status", "failure-rate", "processing-time", "posting-lag", "invoices-by-entity"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


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


def test_the_numbers_shown_are_the_marts(report, browser):
    _, _, url = report
    page = browser.new_page()
    page.goto(url)
    sql = ("select (select count(*) from marts.fct_billing_runs), (select count(*) from marts.fct_billing_runs where "
           "is_failed), (select count(*) from marts.fct_stuck_billing_runs), (select data_as_of from "
           "marts.dim_warehouse_build)")  # fmt: skip
    runs, failed, stuck, data_as_of = query(DB, sql)[0]
    assert page.inner_text("#kpi-bill-runs") == str(runs)
    assert page.inner_text("#kpi-failure-rate") == f"{failed / runs:.1%}"
    assert page.inner_text("#kpi-stuck-runs") == str(stuck)
    assert page.inner_text("#data-as-of") == str(data_as_of)
    assert "Built from" in page.inner_text("#build")
    # the failure-rate chart's table: each week's runs and failures are the daily model's
    cells = page.eval_on_selector_all(
        "#chart-failure-rate + details table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    weekly = query(DB, "select date_trunc('week', run_date)::date, sum(bill_runs), sum(error_runs) from "
                       "marts.fct_billing_run_daily group by 1 having sum(bill_runs) > 0")  # fmt: skip
    expected = {w.isoformat(): (int(n), int(f)) for w, n, f in weekly}
    assert len(cells) > 10 and all(expected[w] == (int(n), int(f)) for w, n, f, _ in cells)
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
