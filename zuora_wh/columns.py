"""Zuora's Billing Run data source, column by column, as the Python tooling sees it.

The fields are written once, in the dbt project's var ``zuora_fields`` (dbt_project.yml), which the staging models
read too; this module turns each into a ``Field``: the label Zuora writes in a default export header
(``Billing Run: Status``), the API name it writes with ``useQueryLabels`` or Export ZOQL (``BillingRun.Status``),
the snake_case column of the warehouse (``status``) and its type. Zuora's rules for the fields (``zuora_rules``)
come from the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_VARS = yaml.safe_load((Path(__file__).resolve().parents[1] / "dbt_project.yml").read_text())["vars"]


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
    """The fields of one object, in the order Zuora's data-source page lists them (by label)."""
    fields = [Field(obj_label, obj_api, *entry) for entry in _VARS["zuora_fields"][record]]
    return tuple(sorted(fields, key=lambda f: f.label.casefold()))


BILLING_RUN_FIELDS: tuple[Field, ...] = _fields("billing_run", "Billing Run", "BillingRun")
ENTITY_FIELDS: tuple[Field, ...] = _fields("entity", "Entity", "Entity")
# The columns of fct_billing_runs that are the data source's fields, in the mart's order (the catalog's).
MART_COLUMNS: tuple[str, ...] = tuple(
    e[2] for e in _VARS["zuora_fields"]["billing_run"] + _VARS["zuora_fields"]["entity"]
)

ENTITY_ID = next(f for f in ENTITY_FIELDS if f.api == "Id")

# A raw Billing Run export carries the joined entity's ID so that it can be joined later.
BILLING_RUN_EXPORT_FIELDS: tuple[Field, ...] = (*BILLING_RUN_FIELDS, ENTITY_ID)

# Zuora's rules for the fields (statuses, patterns, limits, the CSV-injection guard): written once, in the dbt
# project's var zuora_rules, which the staging checks and the marts' tests read too.
RULES: dict = _VARS["zuora_rules"]
STATUSES: tuple[str, ...] = tuple(RULES["statuses"])
STATUS_UI_LABELS: dict[str, str] = dict(RULES["status_ui_labels"])
BILLING_RUN_TYPES: tuple[str, ...] = tuple(RULES["billing_run_types"])
CSV_INJECTION_CHARACTERS: tuple[str, ...] = tuple(RULES["csv_injection_characters"])
# The column AQuA adds when asked for deleted records (true on a deleted bill run), and the raw layer's name for it.
DELETED_COLUMN: str = _VARS["zuora_deleted_column"]
# The flag's header, as AQuA writes it (named after the object: BillingRun.Deleted) or bare; compared casefolded.
DELETED_HEADERS: frozenset[str] = frozenset({DELETED_COLUMN.casefold(), f"BillingRun.{DELETED_COLUMN}".casefold()})


def status_column(status: str) -> str:
    """The column of fct_billing_run_daily that counts the runs of a status (as the dbt macro zuora_status_column
    names it): PostInProgress -> post_in_progress_runs."""
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", status).lower() + "_runs"


def headers(fields: tuple[Field, ...], style: str = "label") -> list[str]:
    """The header row Zuora writes for ``fields``: ``label`` (default export) or ``api`` (API names)."""
    if style not in ("label", "api"):
        raise ValueError(f"header style must be 'label' or 'api', not {style!r}")
    return [f.header_label if style == "label" else f.header_api for f in fields]
