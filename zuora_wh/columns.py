"""Zuora's Billing Run data source, column by column, as the Python tooling sees it.

``FIELDS`` is the one list of the data source's fields for everything that is not SQL: reading export files, the
extractor's query, the demo generator, the export command, and the YAML and README tables that ``make catalog``
writes. Each entry is Zuora's label (the default export header after ``Billing Run: `` or ``Entity: ``), its API name
(the header of AQuA and Export ZOQL, after ``BillingRun.`` or ``Entity.``), the warehouse's column, and its type
(id, text, status, run_type, date, datetime: a UTC timestamp, integer), in the order the marts hold them. The dbt
models write every field out by hand; ``tests/python/test_columns.py`` keeps them in step with this list.

Zuora's rules for the fields (statuses, patterns, limits) are the dbt project's var ``zuora_rules``, which the models
and their tests read; ``rules()`` reads them from ``dbt_project.yml`` when they are first asked for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

FIELDS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "billing_run": (
        ("ID", "Id", "billing_run_id", "id"),
        ("Billing Run Number", "BillingRunNumber", "billing_run_number", "text"),
        ("Name", "Name", "billing_run_name", "text"),
        ("Billing Run Type", "BillingRunType", "billing_run_type", "run_type"),
        ("Target Type", "TargetType", "target_type", "text"),
        ("Status", "Status", "status", "status"),
        ("Target Date", "TargetDate", "target_date", "date"),
        ("Invoice Date", "InvoiceDate", "invoice_date", "date"),
        ("Created Date", "CreatedDate", "created_at", "datetime"),
        ("Executed Date", "ExecutedDate", "executed_at", "datetime"),
        ("Start Date", "StartDate", "started_at", "datetime"),
        ("End Date", "EndDate", "ended_at", "datetime"),
        ("Posted Date", "PostedDate", "posted_at", "datetime"),
        ("Updated Date", "UpdatedDate", "updated_at", "datetime"),
        ("Created By ID", "CreatedById", "created_by_id", "id"),
        ("Updated By ID", "UpdatedById", "updated_by_id", "id"),
        ("Error Message", "ErrorMessage", "error_message", "text"),
        ("Number Of Accounts", "NumberOfAccounts", "number_of_accounts", "integer"),
        ("Number Of Invoices", "NumberOfInvoices", "number_of_invoices", "integer"),
        ("Number of Credit Memos", "NumberOfCreditMemos", "number_of_credit_memos", "integer"),
        ("Total Time", "TotalTime", "total_time_ms", "integer"),
    ),
    "entity": (
        ("ID", "Id", "entity_id", "id"),
        ("Name", "Name", "entity_name", "text"),
        ("Display Name", "DisplayName", "entity_display_name", "text"),
        ("Email", "Email", "entity_email", "text"),
        ("Address 1", "Address1", "entity_address_1", "text"),
        ("Address 2", "Address2", "entity_address_2", "text"),
        ("City", "City", "entity_city", "text"),
        ("State", "State", "entity_state", "text"),
        ("Postal Code", "PostalCode", "entity_postal_code", "text"),
        ("Country", "Country", "entity_country", "text"),
        ("Created Date", "CreatedDate", "entity_created_at", "datetime"),
        ("Updated Date", "UpdatedDate", "entity_updated_at", "datetime"),
        ("Created By ID", "CreatedById", "entity_created_by_id", "id"),
        ("Updated By ID", "UpdatedById", "entity_updated_by_id", "id"),
    ),
}
DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project.yml"


@dataclass(frozen=True)
class Field:
    """One exported field of the data source."""

    obj_label: str  # "Billing Run" / "Entity"
    obj_api: str  # "BillingRun" / "Entity"
    label: str  # "Billing Run Number"
    api: str  # "BillingRunNumber"
    column: str  # our column name in fct_billing_runs
    kind: str  # id | text | status | run_type | date | datetime | integer

    @property
    def header_label(self) -> str:
        return f"{self.obj_label}: {self.label}"

    @property
    def header_api(self) -> str:
        return f"{self.obj_api}.{self.api}"


def _fields(record: str, obj_label: str, obj_api: str) -> tuple[Field, ...]:
    """The fields of one object, in the order Zuora's page of the data source lists them (by label)."""
    fields = [Field(obj_label, obj_api, *entry) for entry in FIELDS[record]]
    return tuple(sorted(fields, key=lambda f: f.label.casefold()))


BILLING_RUN_FIELDS: tuple[Field, ...] = _fields("billing_run", "Billing Run", "BillingRun")
ENTITY_FIELDS: tuple[Field, ...] = _fields("entity", "Entity", "Entity")
# The columns of fct_billing_runs that are the data source's fields, in the mart's order.
MART_COLUMNS: tuple[str, ...] = tuple(e[2] for e in FIELDS["billing_run"] + FIELDS["entity"])

ENTITY_ID = next(f for f in ENTITY_FIELDS if f.api == "Id")

# A raw Billing Run export carries the joined entity's ID so that it can be joined later.
BILLING_RUN_EXPORT_FIELDS: tuple[Field, ...] = (*BILLING_RUN_FIELDS, ENTITY_ID)


@functools.cache
def dbt_vars() -> dict:
    """The dbt project's vars (dbt_project.yml), read once, when first asked for."""
    return yaml.safe_load(DBT_PROJECT.read_text())["vars"]


def rules() -> dict:
    """Zuora's rules for the fields (var zuora_rules): statuses, patterns, limits, the CSV-injection guard. Written
    once, there; the int models' checks and the marts' tests read the same entries."""
    return dbt_vars()["zuora_rules"]


def statuses() -> tuple[str, ...]:
    return tuple(rules()["statuses"])


def status_ui_labels() -> dict[str, str]:
    return dict(rules()["status_ui_labels"])


def billing_run_types() -> tuple[str, ...]:
    return tuple(rules()["billing_run_types"])


def csv_injection_characters() -> tuple[str, ...]:
    return tuple(rules()["csv_injection_characters"])


def space_characters() -> str:
    """The characters trimmed from both ends of a text value (Unicode's space separators), as one string."""
    return rules()["space_characters"]


def deleted_column() -> str:
    """The column AQuA adds when asked for deleted records (true on a deleted bill run), and the raw layer's name
    for it (var zuora_deleted_column)."""
    return dbt_vars()["zuora_deleted_column"]


def deleted_headers() -> frozenset[str]:
    """The deleted flag's header as AQuA writes it (named after the object: BillingRun.Deleted) or bare, casefolded."""
    return frozenset({deleted_column().casefold(), f"BillingRun.{deleted_column()}".casefold()})


def status_column(status: str) -> str:
    """The column of fct_billing_run_daily that counts the runs of a status: PostInProgress -> post_in_progress_runs."""
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", status).lower() + "_runs"


def headers(fields: tuple[Field, ...], style: str = "label") -> list[str]:
    """The header row Zuora writes for ``fields``: ``label`` (default export) or ``api`` (API names)."""
    if style not in ("label", "api"):
        raise ValueError(f"header style must be 'label' or 'api', not {style!r}")
    return [f.header_label if style == "label" else f.header_api for f in fields]
