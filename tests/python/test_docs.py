"""Documentation: `dbt docs generate` works, and every model, seed and column in the warehouse is described."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, TEST_BUILD, copy_of_test_build, query, sql_examples


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """`dbt docs generate` on the demo build of `make dbt-test` (target/test.duckdb: make test builds it first), in a
    copy: dbt opens the database for writing, and other test files read the original meanwhile."""
    target = tmp_path_factory.mktemp("docs_target")
    copy = copy_of_test_build(tmp_path_factory.mktemp("docs_db"))
    env = {
        **os.environ,
        "ZUORA_DUCKDB_PATH": str(copy),
        "ZUORA_INPUT": "demo",
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "docs", "generate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text()), json.loads((target / "catalog.json").read_text())


def test_every_model_and_seed_is_described(docs):
    manifest, _ = docs
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    assert len(nodes) >= 10
    assert [n["name"] for n in nodes if not n["description"].strip()] == []


def test_every_column_in_the_warehouse_is_described(docs):
    manifest, catalog = docs
    missing = []
    for unique_id, table in catalog["nodes"].items():
        described = {
            name.lower(): c["description"].strip() for name, c in manifest["nodes"][unique_id]["columns"].items()
        }
        missing += [f"{table['metadata']['name']}.{col}" for col in table["columns"] if not described.get(col.lower())]
    assert missing == []


def test_doc_blocks_are_sentences(docs):
    """Descriptions are whole sentences: they start with a capital or a code span and end with a period."""
    manifest, _ = docs
    bad = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed"):
            continue
        texts = [(node["name"], node["description"])] + [
            (f"{node['name']}.{c['name']}", c["description"]) for c in node["columns"].values()
        ]
        bad += [
            name
            for name, text in texts
            if text and not (text.strip().endswith(".") and text.strip()[0] in "ABCDEFGHIJKLMNOPQRSTUVWXYZ`")
        ]
    assert bad == []


@pytest.mark.parametrize(("where", "sql"), sql_examples(), ids=[w for w, _ in sql_examples()])
def test_every_sql_example_runs(where, sql):
    """The examples people copy work: each runs on the demo build of `make dbt-test` (target/test.duckdb)."""
    assert TEST_BUILD.exists(), "run `make dbt-test` first (make test does)"
    query(TEST_BUILD, sql)  # with the stored versions, as dbt attaches them


def test_the_sql_examples_are_found():
    assert len(sql_examples()) >= 15
