"""The fields are one list (zuora_wh/columns.py) for the Python tooling; the dbt models write them out by hand, and
these tests keep the two in step, and the list in step with Zuora's page."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from helpers import ROOT, TEST_BUILD, query

from zuora_wh.columns import (
    BILLING_RUN_EXPORT_FIELDS,
    BILLING_RUN_FIELDS,
    ENTITY_FIELDS,
    FIELDS,
    MART_COLUMNS,
    status_column,
    statuses,
)

MODELS = ROOT / "models"
TEST_DB = TEST_BUILD
# The data source's fields as the models hold them, in the marts' order: a bill run's (and its entity's ID), an
# entity's.
RUN_COLUMNS = [column for _, _, column, _ in FIELDS["billing_run"]] + ["entity_id"]
ENTITY_COLUMNS = [column for _, _, column, _ in FIELDS["entity"]]

# After the data source's fields: the tenant (part of the key), then the derived statistics and the lineage.
DERIVED = [
    "tenant",
    "created_date",
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
    "_written_at",
]


def _page_lists() -> dict[str, list[str]]:
    """The labels of each object's fields in the order of Zuora's page (docs/zuora-billing-run.md quotes them)."""
    text = (ROOT / "docs" / "zuora-billing-run.md").read_text()
    section = text.split("## The fields, in the order of Zuora's page\n")[1].split("\n## ")[0]
    lists = {}
    for paragraph in section.split("\n\n"):
        obj, sep, rest = paragraph.partition(": ")
        if obj in ("Billing Run", "Entity") and sep:
            lists[obj] = [label.strip() for label in rest.replace("\n", " ").split("·")]
    return lists


def test_python_reads_the_fields_in_the_order_of_zuoras_page():
    """Every field of the page, in its order (a label missing, added or out of order fails), and nothing else."""
    page = _page_lists()
    assert [f.label for f in BILLING_RUN_FIELDS] == page["Billing Run"]
    assert [f.label for f in ENTITY_FIELDS] == page["Entity"]
    assert (*BILLING_RUN_FIELDS, next(f for f in ENTITY_FIELDS if f.label == "ID")) == BILLING_RUN_EXPORT_FIELDS


def test_the_page_check_can_fail():
    """A plain sort puts "Number Of Invoices" before "Number of Credit Memos": the page does not."""
    page = _page_lists()["Billing Run"]
    assert sorted(page) != page and sorted(page, key=str.casefold) == page


def test_built_mart_has_the_catalogs_columns_in_order():
    """The demo build of `make dbt-test` (target/test.duckdb, built before pytest by `make test`): the mart's columns
    are the catalog's, in its order, then the tenant and the derived statistics."""
    assert _built_columns("marts", "fct_billing_runs") == [*MART_COLUMNS, *DERIVED]


def test_every_column_of_the_catalog_is_described_in_each_models_yaml():
    """dbt's YAML lists each model's columns for the contract and the docs; those of the data source's fields
    follow the catalog, in its order."""
    marts = yaml.safe_load((ROOT / "models" / "marts" / "_marts__models.yml").read_text())["models"]
    fct = next(m for m in marts if m["name"] == "fct_billing_runs")
    assert [c["name"] for c in fct["columns"]] == [*MART_COLUMNS, *DERIVED]
    dim = next(m for m in marts if m["name"] == "dim_entities")
    entity = [f.column for f in ENTITY_FIELDS]
    assert sorted(c["name"] for c in dim["columns"] if c["name"] in entity) == sorted(entity)
    staging = yaml.safe_load((ROOT / "models" / "staging" / "zuora" / "_zuora__models.yml").read_text())["models"]
    stg = next(m for m in staging if m["name"] == "stg_zuora__billing_runs")
    assert {f.column for f in BILLING_RUN_EXPORT_FIELDS} <= {c["name"] for c in stg["columns"]}


def test_the_readmes_column_table_lists_every_field_once():
    """The README's column mapping: every field of the data source, once (the entity's ID is the bill run's)."""
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- >>> make catalog: column mapping -->")[1].split("<!-- <<< make catalog")[0]
    labels = [row.split("|")[1].strip() for row in table.strip().splitlines()[2:]]
    fields = [f.header_label for f in BILLING_RUN_FIELDS + ENTITY_FIELDS]
    assert sorted(labels) == sorted(fields) and len(labels) == len(set(labels))


def _built_columns(schema: str, table: str) -> list[str]:
    """A model's columns in the demo build of `make dbt-test` (target/test.duckdb, which `make test` builds first),
    or in its stored versions (``versions.<schema>``)."""
    assert TEST_DB.exists(), "run `make dbt-test` first (make test does): this test reads the demo build it makes"
    database, _, schema = schema.rpartition(".")
    sql = (
        "select column_name from duckdb_columns() where database_name = coalesce(?, current_database()) "
        "and schema_name = ? and table_name = ? order by column_index"
    )
    return [c for (c,) in query(TEST_DB, sql, [database or None, schema, table])]


@pytest.mark.parametrize(
    "schema, table, first, fields",
    [
        ("staging", "stg_zuora__billing_runs", 0, RUN_COLUMNS),
        ("versions.staging", "int_zuora__billing_run_versions", 0, RUN_COLUMNS),
        ("audit", "audit_billing_run_rejects", 3, RUN_COLUMNS),
        ("staging", "stg_zuora__entities", 0, ENTITY_COLUMNS),
        ("versions.staging", "int_zuora__entity_versions", 0, ENTITY_COLUMNS),
        ("audit", "audit_entity_rejects", 3, ENTITY_COLUMNS),
        ("marts", "dim_entities", 0, ENTITY_COLUMNS),
    ],
)
def test_each_models_columns_are_the_fields_of_the_list(schema, table, first, fields):
    """Each model that holds the fields holds every one, in the list's order, after its `first` own columns (the
    file and row of a quarantined row, and why it was rejected)."""
    assert _built_columns(schema, table)[first : first + len(fields)] == fields


@pytest.mark.parametrize(
    "table, fields",
    [("stg_zuora__billing_runs", BILLING_RUN_EXPORT_FIELDS), ("stg_zuora__entities", ENTITY_FIELDS)],
)
def test_staging_keeps_the_text_of_each_typed_field_and_the_row_as_written(table, fields):
    """The text a date, datetime or count was parsed from (the int models' checks read it), and `_raw`, the row as
    written under the fields' names (the quarantine shows it)."""
    columns = _built_columns("staging", table)
    typed = [f.column for f in fields if f.kind in ("date", "datetime", "integer")]
    assert [c.removesuffix("_text") for c in columns if c.endswith("_text")] == sorted(typed, key=columns.index)
    (raw_type,) = query(
        TEST_DB,
        "select data_type from duckdb_columns() where table_name = ? and column_name = '_raw'",
        [table],
    )[0]
    assert sorted(re.findall(r"(\w+) VARCHAR", raw_type)) == sorted(f.column for f in fields)


def test_the_daily_mart_counts_every_status():
    """One count column per status of the rule `statuses`, in its order, side by side."""
    columns = _built_columns("marts", "fct_billing_run_daily")
    status_columns = [status_column(s) for s in statuses()]
    start = columns.index(status_columns[0])
    assert columns[start : start + len(status_columns)] == status_columns


def test_the_files_labels_are_read_in_staging_only():
    """Zuora's labels are the raw layer's column names: staging renames each to its column, once, and no other model
    spells one."""
    renames = {}
    for sql in MODELS.rglob("*.sql"):
        text = sql.read_text()
        if sql.parent.name == "zuora" and sql.name.startswith("stg_"):
            renames[sql.stem] = dict(re.findall(r"adapter\.quote\('([^']+)'\) \}\} as (\w+)", text))
        else:
            assert not re.search(r"(Billing Run|Entity): ", text), sql
    assert renames["stg_zuora__billing_runs"] == {f.header_label: f.column for f in BILLING_RUN_EXPORT_FIELDS}
    assert renames["stg_zuora__entities"] == {f.header_label: f.column for f in ENTITY_FIELDS}


@pytest.mark.parametrize(
    "model, fields",
    [
        ("staging/zuora/stg_zuora__billing_runs", RUN_COLUMNS),
        ("intermediate/int_zuora__billing_run_versions", RUN_COLUMNS),
        ("marts/fct_billing_runs", RUN_COLUMNS + ENTITY_COLUMNS),
        ("audit/audit_billing_run_rejects", RUN_COLUMNS),
        ("staging/zuora/stg_zuora__entities", ENTITY_COLUMNS),
        ("intermediate/int_zuora__entity_versions", ENTITY_COLUMNS),
        ("marts/dim_entities", ENTITY_COLUMNS),
        ("audit/audit_entity_rejects", ENTITY_COLUMNS),
    ],
)
def test_grep_finds_every_field_in_every_model_that_selects_it(model, fields):
    """A reader follows a field from the file to the mart with grep: each model that selects the fields writes each
    one's name (no list generated by a macro)."""
    text = (MODELS / f"{model}.sql").read_text()
    assert [c for c in fields if not re.search(rf"\b{c}\b", text)] == []


def test_generated_column_lists_are_up_to_date():
    """The YAML and README blocks `make catalog` writes match the catalog (a field added or changed there shows up
    here until `make catalog` runs)."""
    from zuora_wh.catalog import update

    assert update(check=True) == [], "run `make catalog`"


def test_the_catalog_check_fails_on_a_stale_block(tmp_path, monkeypatch):
    """The check above can fail: a block edited by hand is out of date."""
    import zuora_wh.catalog as catalog

    for part in ("README.md", "dbt_project.yml", "seeds", "models"):
        src = ROOT / part
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, tmp_path / part)
        else:
            (tmp_path / part).write_text(src.read_text())
    monkeypatch.setattr(catalog, "ROOT", tmp_path)
    yml = tmp_path / "models" / "intermediate" / "_int_zuora__models.yml"
    yml.write_text(yml.read_text().replace("      - name: status\n", "      - name: state\n", 1))
    assert catalog.update(check=True) == ["models/intermediate/_int_zuora__models.yml"]
    catalog.update()
    assert catalog.update(check=True) == []
