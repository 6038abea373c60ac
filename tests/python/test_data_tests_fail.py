"""Every kind of check in the project, shown failing on bad data.

One throw-away copy of the project is built from the demo exports with one broken row per rule (the rows
below), with the quarantine turned off so that the broken rows reach the marts (with it on, they are
quarantined instead: tests/python/test_bad_input.py). The seeds and models are built first, then `dbt test` runs
separately so that every test runs, then each test's outcome is read from run_results.json: each rule is its own pytest
case, naming the dbt test that must catch it and how many rows it must report.
"""

from __future__ import annotations

import json

import pytest
from helpers import ROOT, copy_project, run_dbt, write_csv

BR = "Billing Run: "

# (rule, the change to one demo row): each breaks exactly one field definition.
BREAKAGES: dict[str, dict[str, str]] = {
    "id_not_lowercase_hex": {BR + "ID": "8AD0887E805061C8018063A09FE2685A"},
    "number_malformed": {BR + "Billing Run Number": "BR-123"},
    "number_duplicated": {BR + "Billing Run Number": "BR-00000002"},
    "negative_accounts": {BR + "Number Of Accounts": "'-5"},
    "posted_without_accounts": {BR + "Number Of Accounts": ""},
    "pending_with_start": {
        BR + "Status": "Pending",
        BR + "Start Date": "2025-01-01T10:00:00-08:00",
        BR + "Total Time": "",
        BR + "End Date": "",
        BR + "Posted Date": "",
        BR + "Created Date": "2025-01-01",
        BR + "Updated Date": "2025-01-02T10:00:00-08:00",
    },
    "end_before_start": {
        BR + "Status": "Completed",
        BR + "Start Date": "2025-01-01T10:00:00-08:00",
        BR + "End Date": "2025-01-01T09:00:00-08:00",
        BR + "Posted Date": "",
        BR + "Updated Date": "2025-01-02T10:00:00-08:00",
        BR + "Created Date": "2025-01-01",
    },
    "unknown_status": {BR + "Status": "Archived", BR + "Posted Date": ""},
    "posted_date_on_canceled": {
        BR + "Status": "Canceled",
        BR + "Posted Date": "2025-01-05T10:00:00-08:00",
        BR + "Updated Date": "2026-12-01T10:00:00-08:00",
    },
    "posted_without_date": {BR + "Status": "Posted", BR + "Posted Date": ""},
    "error_without_message": {BR + "Status": "Error", BR + "Error Message": "", BR + "Posted Date": ""},
    "unknown_entity": {"Entity: ID": "0" * 32},
    "target_date_unparseable": {BR + "Target Date": "31/31/2025"},
    "error_message_too_long": {BR + "Error Message": "x" * 256},
    "catch_up_with_invoices": {BR + "Billing Run Type": "CatchUp", BR + "Number Of Invoices": "3"},
}

# rule -> (the dbt test that must catch it, by its name in the YAML; expected status; number of failing rows)
EXPECTED: dict[str, tuple[str, str, int]] = {
    "id_not_lowercase_hex": ("fct_billing_runs__billing_run_id_is_a_zuora_id", "fail", 1),
    "number_malformed": ("fct_billing_runs__billing_run_number_is_br_and_eight_digits", "fail", 1),
    "number_duplicated": ("fct_billing_runs__billing_run_number_is_unique_per_tenant", "warn", 1),
    "negative_accounts": ("fct_billing_runs__number_of_accounts_is_not_negative", "fail", 1),
    "posted_without_accounts": ("fct_billing_runs__number_of_accounts_is_set_once_the_run_is_processed", "warn", 1),
    "pending_with_start": ("fct_billing_runs__started_at_is_null_before_the_run_starts", "fail", 1),
    "end_before_start": ("fct_billing_runs__started_at_is_not_after_ended_at", "fail", 1),
    "unknown_status": ("fct_billing_runs__status_is_a_zuora_status", "fail", 1),
    "posted_date_on_canceled": ("fct_billing_runs__posted_at_is_null_on_a_run_never_posted", "fail", 1),
    "posted_without_date": ("fct_billing_runs__posted_at_is_set_on_a_posted_run", "fail", 1),
    "error_without_message": ("fct_billing_runs__error_message_is_set_on_a_failed_run", "warn", 1),
    "unknown_entity": ("fct_billing_runs__entity_id_is_in_dim_entities", "warn", 1),
    "target_date_unparseable": ("fct_billing_runs__target_date_is_not_null", "fail", 1),
    "error_message_too_long": ("fct_billing_runs__error_message_fits_zuoras_text_limit", "fail", 1),
    "catch_up_with_invoices": ("fct_billing_runs__catch_up_runs_have_no_invoices", "fail", 1),
    # Model-level tests, applied in the fixture below where they must fail: two models whose counts differ, a
    # composite key that is not one (two groups: Regular and CatchUp), a row count the model does not have, and
    # codes that are not in a list (the ten statuses and the broken one are no reject reasons).
    "row_counts_differ": ("broken__row_counts_differ", "fail", 1),
    "key_not_unique": ("broken__key_not_unique", "fail", 2),
    "row_count_is_not": ("broken__row_count_is_not", "fail", 1),
    "unknown_codes": ("broken__unknown_codes", "fail", 11),
}

# Added to the copy's marts YAML, after the real reconciliation of fct_billing_runs.
RECONCILIATION_ANCHOR = (
    "            compare_where: \"_reject_reasons = '' or not {{ var('zuora_quarantine', true) }}\"\n"
    "            compare_except_where: is_deleted\n"
)
RECONCILIATION_FIXTURE = """      - row_count_matches:
          name: broken__row_counts_differ
          arguments:
            compare_model: ref('stg_zuora__entities')
      - unique_combination:
          name: broken__key_not_unique
          arguments:
            columns: [billing_run_type]
      - row_count_is:
          name: broken__row_count_is_not
          arguments:
            expected: 3
      - known_codes:
          name: broken__unknown_codes
          column_name: status
          arguments:
            to: ref('audit_reject_reasons')
            field: reject_reason
"""


@pytest.fixture(scope="module")
def broken_build(tmp_path_factory, demo_exports):
    project = copy_project(tmp_path_factory.mktemp("broken"))
    (br_header, br_rows), (en_header, en_rows) = demo_exports
    rows = [dict(r) for r in br_rows]
    # Break a Regular, Posted, mid-history row per rule, each a different row.
    candidates = [
        i
        for i, r in enumerate(rows)
        if r[BR + "Status"] == "Posted"
        and r[BR + "Billing Run Type"] == "Regular"
        and r["Entity: ID"]
        and r[BR + "Error Message"] == ""
    ]
    for i, change in zip(candidates[10:], BREAKAGES.values(), strict=False):
        rows[i].update(change)
    write_csv(project / "seeds" / "zuora_billing_run_export.csv", br_header, rows)
    write_csv(project / "seeds" / "zuora_entity_export.csv", en_header, en_rows)
    marts_yml = project / "models" / "marts" / "_marts__models.yml"
    text = marts_yml.read_text()
    assert RECONCILIATION_ANCHOR in text
    marts_yml.write_text(text.replace(RECONCILIATION_ANCHOR, RECONCILIATION_ANCHOR + RECONCILIATION_FIXTURE, 1))
    # The quarantine would keep these rows out of the marts; turned off, the data tests show what they catch.
    no_quarantine = ("--vars", "{zuora_quarantine: false}")
    run = run_dbt(project, "build", "--exclude", "test_type:data", "test_type:unit", *no_quarantine)
    assert run.returncode == 0, run.output
    run = run_dbt(project, "test", "--select", "test_type:data", *no_quarantine)
    assert run.returncode != 0, "dbt test passed on broken data"
    return run.results()


def test_every_data_test_is_named_after_its_rule():
    """Each data test of the project has a name: in the YAML (the model, then the rule), not dbt's generated one."""
    manifest = json.loads((ROOT / "target" / "manifest.json").read_text())
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test" and "test_metadata" in n]
    assert tests and [t["name"] for t in tests if "__" not in t["name"] or t["name"].startswith("test_")] == []
    assert all(t["name"].startswith(t["attached_node"].split(".")[-1] + "__") for t in tests if t["attached_node"])


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_rule_fails_on_bad_data(broken_build, rule):
    test_name, status, failures = EXPECTED[rule]
    assert test_name in broken_build, f"no dbt test named {test_name}"
    result = broken_build[test_name]
    assert (result["status"], result["failures"]) == (status, failures), result.get("message")


def test_only_the_broken_rules_fail(broken_build):
    """Nothing else fails: each broken row trips its own rule and no other."""
    failing = {name for name, r in broken_build.items() if r["unique_id"].startswith("test.") and r["status"] != "pass"}
    assert failing == {name for name, _, _ in EXPECTED.values()}


def test_contract_rejects_a_missing_status(tmp_path, demo_exports):
    """The mart's enforced contract: a bill run without a status cannot reach fct_billing_runs, even with the
    quarantine (which would keep it out first) turned off."""
    project = copy_project(tmp_path)
    (br_header, br_rows), (en_header, en_rows) = demo_exports
    rows = [dict(r) for r in br_rows]
    rows[0][BR + "Status"] = "  "
    write_csv(project / "seeds" / "zuora_billing_run_export.csv", br_header, rows)
    write_csv(project / "seeds" / "zuora_entity_export.csv", en_header, en_rows)
    run = run_dbt(project, "build", "--exclude", "test_type:data", "--vars", "{zuora_quarantine: false}")
    assert run.returncode != 0
    assert "fct_billing_runs" in run.output and "NOT NULL constraint failed" in run.output, run.output[-3000:]


STAMPED_MODEL = """{{ config(materialized='table') }}
-- key a: written now, and an old row with the same key; key b: two old rows; an old row without a value
select * from (
    values
    ('t', 'a', 1, {{ zuora_build_started_at() }}),
    ('t', 'a', 2, timestamp '2020-01-01 00:00:00'),
    ('t', 'b', null, timestamp '2020-01-01 00:00:00'),
    ('t', 'b', 4, timestamp '2020-01-01 00:00:00')
) as t (tenant, key, value, stamp)
"""

STAMPED_YAML = """version: 2
models:
  - name: broken_stamped
    data_tests:
      - unique_combination:
          name: broken_stamped__key_is_unique
          arguments:
            columns: [tenant, key]
    columns:
      - name: key
        data_tests:
          - unique_per_tenant:
              name: broken_stamped__key_is_unique_per_tenant
          - unique_per_tenant:
              name: broken_stamped__key_is_unique_per_tenant_a_warning
              config:
                severity: warn
      - name: value
        data_tests:
          - not_null:
              name: broken_stamped__value_is_not_null
          - not_null:
              name: broken_stamped__value_is_not_null_a_warning
              config:
                severity: warn
"""


def test_an_incremental_builds_tests_read_the_rows_it_wrote(tmp_path, demo_exports):
    """In a build that tests the rows it wrote (ZUORA_TEST_WRITTEN_ROWS_ONLY, macro get_where_subquery), a
    row-by-row test reads only the rows stamped by this build, and a unique test the keys written now, each counted
    across every row: key a, written now and also held by an old row, fails; key b, held twice by old rows only,
    and the old row without a value are not looked at. So do the warnings, but for those that found rows the last
    time they ran (ZUORA_TESTS_THAT_WARNED), which read every row. Without the setting, every test reads every
    row."""
    project = copy_project(tmp_path)
    for name, (header, rows) in zip(("zuora_billing_run_export", "zuora_entity_export"), demo_exports, strict=True):
        write_csv(project / "seeds" / f"{name}.csv", header, rows)
    (project / "models" / "broken_stamped.sql").write_text(STAMPED_MODEL)
    (project / "models" / "broken_stamped.yml").write_text(STAMPED_YAML)
    tests = (
        "broken_stamped__key_is_unique",
        "broken_stamped__key_is_unique_per_tenant",
        "broken_stamped__value_is_not_null",
        "broken_stamped__key_is_unique_per_tenant_a_warning",
        "broken_stamped__value_is_not_null_a_warning",
    )
    written_only = {"ZUORA_TEST_WRITTEN_ROWS_ONLY": json.dumps({"broken_stamped": "stamp"})}
    warned = {"ZUORA_TESTS_THAT_WARNED": json.dumps(list(tests[3:]))}
    for env, failures in (
        (written_only, (1, 1, 0, 1, 0)),
        (written_only | warned, (1, 1, 0, 2, 1)),
        ({}, (2, 2, 1, 2, 1)),
    ):
        run = run_dbt(project, "build", "--select", "broken_stamped", env=env)
        results = run.results()
        assert tuple(results[name]["failures"] for name in tests) == failures, run.output[-3000:]
