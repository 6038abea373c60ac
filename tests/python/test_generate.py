"""The demo-export generator: deterministic, and writing what Zuora writes (shared/reference)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from helpers import ROOT, read_csv

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, ENTITY_FIELDS, headers, status_ui_labels, statuses
from zuora_wh.generate import (
    DEMO_MONTHS,
    DEMO_SEED,
    DEMO_START,
    draw_tenant,
    guard,
    main,
    make_run,
    write_demo_files,
    write_demo_reexport,
    zuora_datetime,
)

BR = "Billing Run: "
OFFSET_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2})")


@pytest.fixture(scope="module")
def runs(demo_exports):
    return demo_exports[0][1]


def test_embedded_seeds_are_the_generator_output(tmp_path):
    """The committed demo seeds are exactly what the generator writes: nobody typed them by hand."""
    entity_path, run_path = write_demo_files(tmp_path)
    assert run_path.read_bytes() == (ROOT / "seeds" / run_path.name).read_bytes()
    assert entity_path.read_bytes() == (ROOT / "seeds" / entity_path.name).read_bytes()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = write_demo_files(tmp_path / "a", bill_runs=50, seed=1)[1].read_bytes()
    b = write_demo_files(tmp_path / "b", bill_runs=50, seed=1)[1].read_bytes()
    c = write_demo_files(tmp_path / "c", bill_runs=50, seed=2)[1].read_bytes()
    assert a == b != c


def test_headers_are_zuora_labels_or_api_names(tmp_path, demo_exports):
    (br_header, _), (en_header, _) = demo_exports
    assert br_header == headers(BILLING_RUN_EXPORT_FIELDS)
    assert br_header[0] == "Billing Run: Billing Run Number" and br_header[-1] == "Entity: ID"
    assert en_header == headers(ENTITY_FIELDS)
    _, run_path = write_demo_files(tmp_path, bill_runs=3, header_style="api")
    header, _ = read_csv(run_path)
    assert header[0] == "BillingRun.BillingRunNumber" and header[-1] == "Entity.Id"


def test_demo_covers_what_the_issue_lists(runs, demo_exports):
    entities = demo_exports[1][1]
    assert len(entities) >= 3 and "Global" in {e["Entity: Name"] for e in entities}
    assert len(runs) >= 600
    seen = Counter(r[BR + "Status"] for r in runs)
    assert set(statuses()) <= set(seen), "every API status value"
    assert set(status_ui_labels().values()) <= set(seen), "UI labels on some rows"
    assert {r[BR + "Billing Run Type"] for r in runs} == {"Regular", "CatchUp"}
    assert any(r[BR + "Name"] == "" for r in runs) and any(r[BR + "Name"] for r in runs)
    assert any(r[BR + "Number of Credit Memos"] not in ("", "0") for r in runs)
    assert any(r["Entity: ID"] == "" for r in runs), "a few bill runs with no entity"
    created = [r[BR + "Created Date"] for r in runs]
    months = {c[:7] for c in created}
    assert len(months) >= 24
    offsets = {m.group(1) for c in created if (m := OFFSET_DATETIME.fullmatch(c))}
    assert offsets == {"-08:00", "-07:00"}, "Pacific offsets on both sides of daylight saving"
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", c) for c in created), "midnight written as a bare date"
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r[BR + "Target Date"]) for r in runs), "ISO dates, as AQuA"
    guarded = [v for r in runs for v in r.values() if v.startswith("'")]
    assert guarded and all(v[1] in "=+-@;" for v in guarded), "CSV-injection apostrophe, only where Zuora writes it"


def test_values_follow_the_state_machine(runs):
    for r in runs:
        status = STATUS_UI_LABELS_REVERSED.get(r[BR + "Status"], r[BR + "Status"])
        if status in ("Pending", "Paused"):
            assert r[BR + "Start Date"] == r[BR + "End Date"] == r[BR + "Total Time"] == "", r
        if not r[BR + "Start Date"]:  # never processed: Zuora has counted nothing, and leaves the counts empty
            assert r[BR + "Number Of Accounts"] == r[BR + "Number Of Invoices"] == "", r
            assert r[BR + "Number of Credit Memos"] == "", r
        if status in ("Completed", "PostInProgress", "Posted"):
            assert r[BR + "Number Of Accounts"] and r[BR + "Number Of Invoices"], r
        if status == "Error":
            assert r[BR + "Error Message"], r
        else:
            assert r[BR + "Error Message"] == "", r
        if r[BR + "Posted Date"]:
            assert status in ("Posted", "PostInProgress", "Completed"), r
        if status == "Posted":
            assert r[BR + "Posted Date"], r
        if r[BR + "Billing Run Type"] == "CatchUp":
            assert r[BR + "Number Of Invoices"] in ("0", "") and status not in ("Canceled", "CancelInProgress"), r


STATUS_UI_LABELS_REVERSED = {label: value for value, label in status_ui_labels().items()}


def test_ids_and_numbers_have_zuora_formats(runs):
    assert all(re.fullmatch(r"[0-9a-f]{32}", r[BR + "ID"]) for r in runs)
    numbers = [r[BR + "Billing Run Number"] for r in runs]
    assert len(set(numbers)) == len(numbers) and all(re.fullmatch(r"BR-\d{8}", n) for n in numbers)


def test_datetime_and_guard_formatting():
    from zuora_wh.generate import UTC

    assert zuora_datetime(datetime(2025, 1, 15, 8, 0, tzinfo=UTC)) == "2025-01-15"  # midnight Pacific
    assert zuora_datetime(datetime(2025, 7, 15, 20, 5, tzinfo=UTC)) == "2025-07-15T13:05:00-07:00"
    assert zuora_datetime(None) == ""
    assert guard("-3 accounts failed") == "'-3 accounts failed"
    assert guard("it's fine") == "it's fine"


def test_cli_writes_the_requested_size(tmp_path, capsys):
    assert main(["--out-dir", str(tmp_path), "--bill-runs", "25", "--months", "2"]) == 0
    _, rows = read_csv(tmp_path / "zuora_billing_run_export.csv")
    assert len(rows) == 25
    assert min(r[BR + "Created Date"][:10] for r in rows) >= date(2024, 11, 1).isoformat()
    assert "wrote 25 bill runs" in capsys.readouterr().out


def test_only_the_latest_runs_are_on_their_way(runs):
    """A long-lived tenant's runs settle within hours: only the runs of the export's last two days are queued, under
    way or paused, so that the stuck list (24 hours in a stuck status) is a handful, not every old run."""
    settled = {"Posted", "Completed", "Error", "Canceled"}
    in_flight = [r for r in runs if STATUS_UI_LABELS_REVERSED.get(r[BR + "Status"], r[BR + "Status"]) not in settled]

    def day(r: dict[str, str]) -> date:
        return date.fromisoformat(r[BR + "Created Date"][:10])

    last = max(day(r) for r in runs)
    assert 6 <= len(in_flight) <= 12 and all((last - day(r)).days <= 2 for r in in_flight)


def test_a_reexports_new_runs_follow_the_history_at_its_pace():
    """A re-export's new runs (past the history's last) come after its end at the history's own pace, at most every few
    hours: a thousand new runs of a million-run history span hours, not the 166 days of one every four hours, and a
    small history's still come every few hours."""
    _, users, entities = draw_tenant(DEMO_SEED)

    def created(i: int, n: int) -> datetime:
        return make_run(i, n, DEMO_SEED, entities, users, DEMO_START, DEMO_MONTHS).created

    n = 1_000_000
    new = [created(i, n) for i in range(n, n + 1000)]
    assert created(n - 1, n) <= min(new) and max(new) - created(n - 1, n) < timedelta(days=1)
    small = [created(i, 300) for i in range(300, 304)]
    assert all(timedelta(hours=3) <= b - a <= timedelta(hours=5) for a, b in pairwise(small))


def test_a_reexport_is_the_newest_runs_one_step_further(tmp_path, runs):
    """A re-export is what Zuora's Updated Date window brings (shared/reference: the high-water mark): the newest
    runs, the ones still moving along the state machine, each with a later Updated Date; the older runs are not in
    it. Their IDs are the history's last ones, in creation order."""
    path = write_demo_reexport(tmp_path, len(runs), share=0.1, new_runs=3)
    again = read_csv(path)[1]
    newest = runs[-round(len(runs) * 0.1) :]
    assert [r[BR + "ID"] for r in again[: len(newest)]] == [r[BR + "ID"] for r in newest]
    assert len(again) == len(newest) + 3
    moved = [
        (datetime.fromisoformat(a[BR + "Updated Date"]), datetime.fromisoformat(r[BR + "Updated Date"]))
        for a, r in zip(again, newest, strict=False)
    ]
    assert all(later > before for later, before in moved if later.tzinfo and before.tzinfo)


def test_runs_that_never_processed_are_in_the_demo(runs):
    """The pending queue and the cancellations before a run started: empty counts, as Zuora writes them."""
    empty = {
        STATUS_UI_LABELS_REVERSED.get(r[BR + "Status"], r[BR + "Status"])
        for r in runs
        if r[BR + "Number Of Accounts"] == ""
    }
    assert {"Pending", "Paused", "Canceled"} <= empty
