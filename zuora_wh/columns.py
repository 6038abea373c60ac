"""Zuora's Billing Run data source, column by column.

This is the one place in the Python tooling that knows how Zuora names each field: the label it writes in a
default export header (``Billing Run: Status``), the API name it writes with ``useQueryLabels`` or Export ZOQL
(``BillingRun.Status``) and the snake_case column our warehouse uses (``status``). The dbt staging models
rename the same labels explicitly; ``tests/python/test_columns.py`` checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Field:
    """One exported field of the data source."""

    obj_label: str  # "Billing Run" / "Entity"
    obj_api: str  # "BillingRun" / "Entity"
    label: str  # "Billing Run Number"
    api: str  # "BillingRunNumber"
    column: str  # our column name in fct_billing_runs
    kind: str  # text | id | date | datetime | integer

    @property
    def header_label(self) -> str:
        return f"{self.obj_label}: {self.label}"

    @property
    def header_api(self) -> str:
        return f"{self.obj_api}.{self.api}"


def _br(label: str, api: str, column: str, kind: str) -> Field:
    return Field("Billing Run", "BillingRun", label, api, column, kind)


def _en(label: str, api: str, column: str, kind: str) -> Field:
    return Field("Entity", "Entity", label, api, column, kind)


# Order: as Zuora's data-source page lists the Billing Run fields (alphabetical by label).
BILLING_RUN_FIELDS: tuple[Field, ...] = (
    _br("Billing Run Number", "BillingRunNumber", "billing_run_number", "text"),
    _br("Billing Run Type", "BillingRunType", "billing_run_type", "text"),
    _br("Created By ID", "CreatedById", "created_by_id", "id"),
    _br("Created Date", "CreatedDate", "created_at", "datetime"),
    _br("End Date", "EndDate", "ended_at", "datetime"),
    _br("Error Message", "ErrorMessage", "error_message", "text"),
    _br("Executed Date", "ExecutedDate", "executed_at", "datetime"),
    _br("ID", "Id", "billing_run_id", "id"),
    _br("Invoice Date", "InvoiceDate", "invoice_date", "date"),
    _br("Name", "Name", "billing_run_name", "text"),
    _br("Number Of Accounts", "NumberOfAccounts", "number_of_accounts", "integer"),
    _br("Number of Credit Memos", "NumberOfCreditMemos", "number_of_credit_memos", "integer"),
    _br("Number Of Invoices", "NumberOfInvoices", "number_of_invoices", "integer"),
    _br("Posted Date", "PostedDate", "posted_at", "datetime"),
    _br("Start Date", "StartDate", "started_at", "datetime"),
    _br("Status", "Status", "status", "text"),
    _br("Target Date", "TargetDate", "target_date", "date"),
    _br("Target Type", "TargetType", "target_type", "text"),
    _br("Total Time", "TotalTime", "total_time_ms", "integer"),
    _br("Updated By ID", "UpdatedById", "updated_by_id", "id"),
    _br("Updated Date", "UpdatedDate", "updated_at", "datetime"),
)

# Order: as Zuora's data-source page lists the Entity fields.
ENTITY_FIELDS: tuple[Field, ...] = (
    _en("Address 1", "Address1", "entity_address_1", "text"),
    _en("Address 2", "Address2", "entity_address_2", "text"),
    _en("City", "City", "entity_city", "text"),
    _en("Country", "Country", "entity_country", "text"),
    _en("Created By ID", "CreatedById", "entity_created_by_id", "id"),
    _en("Created Date", "CreatedDate", "entity_created_at", "datetime"),
    _en("Display Name", "DisplayName", "entity_display_name", "text"),
    _en("Email", "Email", "entity_email", "text"),
    _en("ID", "Id", "entity_id", "id"),
    _en("Name", "Name", "entity_name", "text"),
    _en("Postal Code", "PostalCode", "entity_postal_code", "text"),
    _en("State", "State", "entity_state", "text"),
    _en("Updated By ID", "UpdatedById", "entity_updated_by_id", "id"),
    _en("Updated Date", "UpdatedDate", "entity_updated_at", "datetime"),
)

ENTITY_ID = next(f for f in ENTITY_FIELDS if f.api == "Id")

# A raw Billing Run export carries the joined entity's ID so that it can be joined later.
BILLING_RUN_EXPORT_FIELDS: tuple[Field, ...] = (*BILLING_RUN_FIELDS, ENTITY_ID)

# Zuora's rules for the fields (statuses, patterns, limits, the CSV-injection guard): written once, in the dbt
# project's var zuora_rules, which the staging checks and the marts' tests read too.
RULES: dict = yaml.safe_load((Path(__file__).resolve().parents[1] / "dbt_project.yml").read_text())["vars"][
    "zuora_rules"
]
STATUSES: tuple[str, ...] = tuple(RULES["statuses"])
STATUS_UI_LABELS: dict[str, str] = dict(RULES["status_ui_labels"])
BILLING_RUN_TYPES: tuple[str, ...] = tuple(RULES["billing_run_types"])
CSV_INJECTION_CHARACTERS: tuple[str, ...] = tuple(RULES["csv_injection_characters"])


def headers(fields: tuple[Field, ...], style: str = "label") -> list[str]:
    """The header row Zuora writes for ``fields``: ``label`` (default export) or ``api`` (API names)."""
    if style not in ("label", "api"):
        raise ValueError(f"header style must be 'label' or 'api', not {style!r}")
    return [f.header_label if style == "label" else f.header_api for f in fields]
