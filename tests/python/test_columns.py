"""The column mapping is one mapping: Python tooling, staging SQL and the mart agree on it."""

from __future__ import annotations

import re

from helpers import ROOT

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, BILLING_RUN_FIELDS, ENTITY_FIELDS

STAGING = ROOT / "models" / "staging" / "zuora"
RENAME = re.compile(r'"([^"]+)" as (\w+)')


def renames(model: str) -> dict[str, str]:
    return dict(RENAME.findall((STAGING / f"{model}.sql").read_text()))


def test_staging_renames_every_billing_run_label():
    assert renames("stg_zuora__billing_runs") == {f.header_label: f.column for f in BILLING_RUN_EXPORT_FIELDS}


def test_staging_renames_every_entity_label():
    assert renames("stg_zuora__entities") == {f.header_label: f.column for f in ENTITY_FIELDS}


# The column order of fct_billing_runs, as the warehouse issue states it.
DATA_SOURCE_VIEW = (
    "billing_run_id, billing_run_number, billing_run_name, billing_run_type, target_type, status, target_date, "
    "invoice_date, created_at, executed_at, started_at, ended_at, posted_at, updated_at, created_by_id, "
    "updated_by_id, error_message, number_of_accounts, number_of_invoices, number_of_credit_memos, total_time_ms, "
    "entity_id, entity_name, entity_display_name, entity_email, entity_address_1, entity_address_2, entity_city, "
    "entity_state, entity_postal_code, entity_country, entity_created_at, entity_updated_at, "
    "entity_created_by_id, entity_updated_by_id"
)


def test_mart_columns_are_the_data_source_view_in_order():
    sql = (ROOT / "models" / "marts" / "fct_billing_runs.sql").read_text()
    yml = (ROOT / "models" / "marts" / "_marts__models.yml").read_text()
    fct = yml.split("- name: dim_zuora_entities")[0]
    columns = re.findall(r"^      - name: (\w+)$", fct, flags=re.M)
    source_fields = [f.column for f in BILLING_RUN_FIELDS] + [f.column for f in ENTITY_FIELDS]
    assert sorted(columns[: len(source_fields)]) == sorted(source_fields)
    assert columns[: len(source_fields)] == DATA_SOURCE_VIEW.split(", ")
    assert columns[len(source_fields) :] == [
        "processing_seconds",
        "queue_wait_seconds",
        "posting_lag_seconds",
        "invoices_per_account",
        "status_label",
        "is_failed",
        "is_posted",
        "is_terminal",
        "has_unknown_entity",
        "_source_file",
        "_source_row_number",
    ]
    assert all(re.search(rf"\b{c}\b", sql) for c in columns)
