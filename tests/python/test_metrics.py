"""The metrics (MetricFlow, models/marts/semantic/) answer the same as the daily model, on the demo build of
`make dbt-test` (target/test.duckdb and its semantic manifest in target/). MetricFlow opens the database for writing,
so it gets a copy (under the same name: the manifest names the database), and other tests may read the original."""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from datetime import date, datetime

import duckdb
import pytest
from helpers import ROOT, TEST_BUILD, copy_of_test_build, query, sql_examples

from zuora_wh.metrics import materialise, mf_query, saved_queries

DB = TEST_BUILD
DAILY = (
    "select tenant, entity_name, run_date, bill_runs, error_runs, failure_rate, invoices_generated, "
    "processing_seconds_p50, processing_seconds_p95, posting_lag_seconds_p50 from marts.fct_billing_run_daily"
)


@pytest.fixture(scope="module")
def daily():
    assert DB.exists(), "run `make dbt-test` first (make test does): these tests read the demo build it makes"
    return query(DB, DAILY)


@pytest.fixture
def db_copy(tmp_path):
    return copy_of_test_build(tmp_path / "db")


def _number(text: str) -> float | None:
    return None if text in ("", None) else float(text)


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))


def test_every_metric_by_day_and_entity_equals_the_daily_model(tmp_path, daily, db_copy):
    out = tmp_path / "by_day.csv"
    metrics = "bill_runs,failed_runs,failure_rate,invoices_generated,processing_time_p50,processing_time_p95,"
    group_by = "metric_time__day,billing_run__tenant,billing_run__entity_name"
    mf_query(
        db_copy,
        dict(os.environ),
        ROOT,
        "--metrics",
        metrics + "posting_lag_p50",
        "--group-by",
        group_by,
        "--csv",
        str(out),
    )
    with out.open(newline="") as fh:
        metrics = {
            (r["billing_run__tenant"], r["billing_run__entity_name"] or None, r["metric_time__day"][:10]): r
            for r in csv.DictReader(fh)
        }
    expected = {(t, e, d.isoformat()): rest for t, e, d, *rest in daily if rest[0] > 0}
    assert metrics.keys() == expected.keys() and len(expected) > 100
    for key, (runs, failed, rate, invoices, p50, p95, lag) in expected.items():
        row = metrics[key]
        assert (int(row["bill_runs"]), int(row["failed_runs"]), int(_number(row["invoices_generated"]) or 0)) == (
            runs,
            failed,
            invoices,
        ), key
        for name, value in (
            ("failure_rate", rate),
            ("processing_time_p50", p50),
            ("processing_time_p95", p95),
            ("posting_lag_p50", lag),
        ):
            assert _same(_number(row[name]), value), (key, name, row[name], value)


def test_the_saved_queries_are_materialised_and_add_up_to_the_daily_model(tmp_path, daily, db_copy):
    """`python -m zuora_wh metrics` writes each saved query as Parquet and CSV; the weekly view's counts are the
    daily model's, summed per week (Monday to Sunday)."""
    written = materialise(db_copy, dict(os.environ), tmp_path, target_dir=ROOT / "target")
    assert [p.name for p in written] == [f"{name}.parquet" for name in saved_queries()]
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for _, _, day, runs, failed, _, invoices, *_ in daily:
        monday = date.fromordinal(day.toordinal() - day.weekday())
        weeks[monday] = [a + b for a, b in zip(weeks[monday], (runs, failed, invoices), strict=True)]
    rows = duckdb.sql(
        f"select metric_time__week, bill_runs, failed_runs, coalesce(invoices_generated, 0) "
        f"from read_parquet('{tmp_path / 'weekly_health.parquet'}') order by 1"
    ).fetchall()
    got = {(w.date() if isinstance(w, datetime) else w): [r, f, int(i)] for w, r, f, i in rows}
    assert got == {w: v for w, v in weeks.items() if v[0] > 0}
    assert (tmp_path / "weekly_health.csv").read_text().startswith("metric_time__week,")
    # one calendar: the README's week-by-week query says what the metrics say, week by week
    readme = next(sql for where, sql in sql_examples() if where.startswith("README") and " as week," in sql)
    metrics = duckdb.sql(
        f"select metric_time__week, bill_runs, failed_runs, failure_rate, processing_time_p50, processing_time_p95 "
        f"from read_parquet('{tmp_path / 'weekly_health.parquet'}') order by 1"
    ).fetchall()
    answered = query(
        DB,
        f"select week, bill_runs, failed_runs, failure_rate, p50_processing_seconds, "
        f"p95_processing_seconds from ({readme.rstrip().rstrip(';')}) order by 1",
    )
    assert len(answered) == len(metrics) > 50

    def day(value) -> date:
        return value.date() if isinstance(value, datetime) else value

    for ours, theirs in zip(answered, metrics, strict=True):
        assert day(ours[0]) == day(theirs[0])
        assert ours[1:3] == theirs[1:3], ours[0]
        assert all(
            _same(round(a, 3) if a is not None else None, round(b, 3) if b is not None else None)
            for a, b in zip(ours[3:], theirs[3:], strict=True)
        ), (ours, theirs)
