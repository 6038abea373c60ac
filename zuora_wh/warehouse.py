"""The warehouse folder (``--warehouse-dir``, ``ZUORA_WAREHOUSE_DIR``, by default ``warehouse/``) and what is in it.

- ``zuora.duckdb``: the served warehouse, which BI tools read; only a complete, tested build replaces it
  (``zuora_wh.publish``), and it says what it was built from (``audit.audit_warehouse_build``).
- ``parquet/``, ``metrics/``, ``report/``: the marts, the saved queries and the health page, as files.
- ``build/<input>/``: one build folder per input (the demo, or one export folder), so that incremental state never
  mixes: the build file ``zuora.duckdb`` that dbt writes, dbt's artifacts and logs, ``input.txt`` naming the input,
  and ``spark/`` for a build on Spark.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb

DB_NAME = "zuora.duckdb"
DEMO = "demo"
SPARK = "spark"  # the Spark build's folder in a build folder


def served_db(warehouse_dir: Path) -> Path:
    return warehouse_dir / DB_NAME


def build_db_path(warehouse_dir: Path, export_dir: Path | None) -> Path:
    """Each input (the demo, or one export folder) keeps its own build file, so incremental state never mixes.
    The folder is named after the export folder (plus a short hash of its full path), and ``input.txt`` in it
    names the input in full."""
    if export_dir is None:
        key = DEMO
    else:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", export_dir.name).strip("-") or "exports"
        key = f"{slug}-{hashlib.sha1(str(export_dir).encode()).hexdigest()[:8]}"
    return warehouse_dir / "build" / key / DB_NAME


def spark_dir(build_db: Path) -> Path:
    """The folder of a Spark build of the input whose DuckDB build file is ``build_db``: its metastore, its tables
    (Parquet, under ``warehouse/``), the raw layer's statements and dbt's artifacts."""
    return build_db.parent / SPARK


def input_mode(export_dir: Path | None) -> str:
    """What the raw layer is for dbt (var zuora_input): the demo seeds, or the views over an export folder."""
    return DEMO if export_dir is None else "exports"


def input_name(export_dir: Path | None) -> str:
    """How a warehouse names its input (audit.audit_warehouse_build.built_from)."""
    return DEMO if export_dir is None else str(export_dir)


def published_input(served: Path) -> str | None:
    """The input the served warehouse was built from, or None (no warehouse, or one too old to say)."""
    if not served.exists():
        return None
    try:
        with duckdb.connect(str(served), read_only=True) as con:
            return con.execute("select built_from from audit.audit_warehouse_build").fetchone()[0]
    except duckdb.Error:
        return None


def published_build(warehouse_dir: Path) -> Path | None:
    """The build file of the input the served warehouse was built from, or None when nothing is published."""
    served = published_input(served_db(warehouse_dir))
    if served is None:
        return None
    return build_db_path(warehouse_dir, None if served == DEMO else Path(served))
