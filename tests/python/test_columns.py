"""The fields are one list (var zuora_fields): the Python tooling, the dbt models and the marts all follow it."""

from __future__ import annotations

import re
import shutil

import yaml
from helpers import ROOT, query

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, BILLING_RUN_FIELDS, ENTITY_FIELDS, MART_COLUMNS

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
]


def test_python_reads_the_fields_in_zuoras_order():
    labels = [f.label for f in BILLING_RUN_FIELDS]
    assert labels == sorted(labels, key=str.casefold) and labels[0] == "Billing Run Number"
    assert len(BILLING_RUN_FIELDS) == 21 and len(ENTITY_FIELDS) == 14
    assert BILLING_RUN_EXPORT_FIELDS[-1].header_label == "Entity: ID"
    assert {f.header_api for f in BILLING_RUN_FIELDS} >= {
        "BillingRun.Id",
        "BillingRun.Status",
        "BillingRun.UpdatedDate",
    }


def test_built_mart_has_the_catalogs_columns_in_order():
    """The demo build of `make dbt-test` (target/test.duckdb, built before pytest by `make test`): the mart's columns
    are the catalog's, in its order, then the tenant and the derived statistics."""
    db = ROOT / "target" / "test.duckdb"
    assert db.exists(), "run `make dbt-test` first (make test does): this test reads the demo build it makes"
    columns = [
        c
        for (c,) in query(
            db,
            "select column_name from duckdb_columns() where schema_name = 'marts' and "
            "table_name = 'fct_billing_runs' order by column_index",
        )
    ]
    assert columns == [*MART_COLUMNS, *DERIVED]


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
    assert sorted(labels) == sorted(fields) and len(labels) == len(set(labels)) == 35


def test_no_model_lists_the_fields_by_hand():
    """The SQL takes the fields from the catalog: no model spells out a Zuora label."""
    for sql in (ROOT / "models").rglob("*.sql"):
        assert not re.search(r'"(Billing Run|Entity): ', sql.read_text()), sql


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
