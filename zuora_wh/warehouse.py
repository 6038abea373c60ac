"""The warehouse folder (``--warehouse-dir``, ``ZUORA_WAREHOUSE_DIR``, by default ``warehouse/``) and what is in it.

- ``zuora.duckdb``: the served warehouse, which BI tools read; only a complete, tested build replaces it
  (``zuora_wh.publish``), and it says what it was built from (``audit.audit_warehouse_build``).
- ``parquet/``, ``metrics/``, ``report/``: the marts, the saved queries and the health page, as files.
- ``build/<input>/``: one build folder per input (the demo, or one export folder), so that incremental state never
  mixes: the build file ``zuora.duckdb`` that dbt writes, the stored versions of every export row beside it
  (``zuora.duckdb.versions``: the int models, which publishing does not copy), dbt's artifacts and logs,
  ``input.txt`` naming the input, and ``spark/`` for a build on Spark.

The build file is written in the storage format of DuckDB 1.0 (``STORAGE_VERSION``), which the DuckDB inside BI
tools reads, so that publishing it is a copy of the file (``zuora_wh.publish``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from zuora_wh.errors import UsageError
from zuora_wh.sql import quote_identifier, quote_string

DB_NAME = "zuora.duckdb"
DEMO = "demo"
# DuckDB 1.0 and every later version open this format: the DuckDB JDBC driver inside DBeaver and the Metabase DuckDB
# driver lag behind the Python package by several releases. Its number in a file's header is HEADER_VERSION.
STORAGE_VERSION = "v1.0.0"
HEADER_VERSION = 64
SPARK = "spark"  # the Spark build's folder in a build folder
# The memory DuckDB may use, in dbt (macro zuora_duckdb_memory_limit) and in the tooling's own work on the build
# (publishing, rewriting): ZUORA_DUCKDB_MEMORY_LIMIT, else what ``memory_limit`` decides from the rows of the export
# files, from MIN_MEMORY_LIMIT_MB to MEMORY_LIMIT (the macro's own default, for plain dbt: tested). Beyond it DuckDB
# spills into ZUORA_DUCKDB_TEMP_DIR, by default SPILL_DIR in the build folder.
MEMORY_LIMIT_SETTING = "ZUORA_DUCKDB_MEMORY_LIMIT"
MIN_MEMORY_LIMIT_MB, MAX_MEMORY_LIMIT_MB = 1_000, 2_500
MEMORY_LIMIT = f"{MAX_MEMORY_LIMIT_MB}MB"
MEMORY_MB_PER_MILLION_ROWS = 1_000
SPILL_DIR = ".duckdb_tmp"
# What a full refresh keeps of the build file (start_afresh): the tables of the models dbt never rebuilds
# (full_refresh=false). A test keeps the list in step with the models' configs.
KEPT_BY_FULL_REFRESH = (("marts", "fct_billing_run_status_history"),)


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


def versions_db(build_db: Path) -> Path:
    """The file of the stored versions (the int models: every row of every export file loaded) of the build file
    ``build_db``, which profiles.yml attaches beside it as ``versions``. Publishing does not copy it."""
    return build_db.with_name(build_db.name + ".versions")


def wal_of(db: Path) -> Path:
    """The write-ahead log DuckDB keeps beside the database file ``db`` while changes are not yet checkpointed."""
    return db.with_name(db.name + ".wal")


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


def header_version(path: Path) -> int | None:
    """The storage version number in a DuckDB file's header, or None when the file is no DuckDB file."""
    with path.open("rb") as fh:
        header = fh.read(20)
    return int.from_bytes(header[12:20], "little") if header[8:12] == b"DUCK" else None


def memory_limit(export_rows: int | None) -> str:
    """The memory DuckDB may use in a build of export files that hold ``export_rows`` rows: the user's
    ZUORA_DUCKDB_MEMORY_LIMIT, else 1 GB for each million rows, from 1 GB to 2.5 GB; when the rows are not known (a
    publish alone, the rewrite of an old build file before the files are checked), 2.5 GB.

    DuckDB takes the memory its limit allows: at 1M bill runs a build under 1 GB took the time it took under 3 GB and
    peaked at 1.0 GiB against 1.2 to 1.5 GiB (DECISIONLOG: Performance rules); at 10M, 2.5 GB took the time of 3 GB,
    and the peak stayed further under the 4 GiB a laptop can spare. The limit is set by dbt's on-run-start, not its
    profile, so that builds of every folder share one parse."""
    asked = memory_setting()
    if asked:
        return asked
    if export_rows is None:
        return MEMORY_LIMIT
    wanted = export_rows * MEMORY_MB_PER_MILLION_ROWS // 1_000_000
    return f"{min(max(wanted, MIN_MEMORY_LIMIT_MB), MAX_MEMORY_LIMIT_MB)}MB"


def memory_setting() -> str | None:
    """The user's ZUORA_DUCKDB_MEMORY_LIMIT, if set: one DuckDB cannot read is refused (UsageError)."""
    asked = os.environ.get(MEMORY_LIMIT_SETTING)
    if asked:
        try:
            duckdb.connect(config={"memory_limit": asked}).close()
        except duckdb.Error as e:
            raise UsageError(f"{MEMORY_LIMIT_SETTING}={asked}: not a memory size DuckDB takes ({e})") from None
    return asked or None


def connect_within_limits(build_folder: Path, limit: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for the tooling's work on a build (the Parquet files, the rewrite of an old build file)
    that keeps to the build's memory ``limit`` (``memory_limit``) and spills where dbt does: without a limit, DuckDB
    takes 80% of the machine (publishing 10M bill runs as Parquet peaked at 5.5 GB)."""
    spill = build_folder / (os.environ.get("ZUORA_DUCKDB_TEMP_DIR") or SPILL_DIR)
    return duckdb.connect(config={"memory_limit": limit, "temp_directory": str(spill)})


@contextmanager
def _new_build_file(build_db: Path, purpose: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new build file, in the storage format BI tools read, written beside ``build_db`` and renamed over it once
    the block is done: a build killed meanwhile leaves the old one (and the next removes what it left). In the block,
    a connection with the new file attached as ``rewritten``, and the old one, if any, as ``previous`` (read-only)."""
    tmp = build_db.with_name(f".{build_db.name}.{purpose}.tmp")
    tmp.unlink(missing_ok=True)
    with connect_within_limits(build_db.parent, memory_limit(None)) as con:
        con.execute(f"attach {quote_string(str(tmp))} as rewritten (storage_version '{STORAGE_VERSION}')")
        if build_db.exists():
            con.execute(f"attach {quote_string(str(build_db))} as previous (read_only)")
        yield con
    tmp.replace(build_db)
    wal_of(build_db).unlink(missing_ok=True)  # the old file's


def prepare_build_file(build_db: Path) -> str | None:
    """The build file, in the storage format BI tools read (STORAGE_VERSION): created in it when missing; a build
    file that an earlier version wrote in a newer format is rewritten in it, once (returns the line that says so)."""
    build_db.parent.mkdir(parents=True, exist_ok=True)
    if build_db.exists() and header_version(build_db) == HEADER_VERSION:
        return None
    old = build_db.exists()
    with _new_build_file(build_db, "rewrite") as con:
        if old:
            con.execute("copy from database previous to rewritten")
    return f"rewrote {build_db} in the storage format BI tools read ({STORAGE_VERSION}), once" if old else None


def start_afresh(build_db: Path) -> str | None:
    """A full refresh's build file: a new one (``_new_build_file``), holding only what a full refresh keeps
    (KEPT_BY_FULL_REFRESH), copied with its table definitions. dbt builds each table anew beside the old one, and
    DuckDB reuses the blocks it freed later but does not give them back: a full refresh onto the old file left it as
    large as both builds (at 1M bill runs 446 MB against 243 MB, at 10M 4.5 GB against 2.5 GB), and every later
    publish copied the larger file, which BI tools then opened. The stored versions' file goes too: dbt stores every
    file's versions again. Returns the line that says so; None without a build file."""
    versions = versions_db(build_db)
    for path in (versions, wal_of(versions)):
        path.unlink(missing_ok=True)
    if not build_db.exists():
        return None
    kept = []
    with _new_build_file(build_db, "afresh") as con:
        con.execute("use rewritten")
        for schema, table in KEPT_BY_FULL_REFRESH:
            found = con.execute(
                "select sql from duckdb_tables() where database_name = 'previous' and schema_name = ? "
                "and table_name = ?",
                [schema, table],
            ).fetchone()
            if found is None:
                continue
            con.execute(f"create schema if not exists {quote_identifier(schema)}")
            con.execute(found[0])  # its definition, constraints too, in the new file (the one in use)
            name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            rows = con.execute(f"insert into rewritten.{name} select * from previous.{name}").fetchone()[0]
            kept.append(f"{schema}.{table} ({rows:,} rows)")
    return f"full refresh: a new build file, keeping {', '.join(kept) or 'nothing'}"
