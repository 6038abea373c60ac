"""Publishing: the warehouse users read is replaced only by a complete, tested build, atomically.

dbt builds into the build file (``warehouse/build/zuora.duckdb``), which no reader ever opens, so a BI tool
holding the served file open never blocks a build and a build never breaks a dashboard. After the build and
every error-severity test passed, ``publish`` copies the build file into a temporary file next to the served
one (``COPY FROM DATABASE``, written in an old storage format that the DuckDB inside BI tools can open),
checkpoints it and renames it over the served file. A rename is atomic: readers that already have the old
file open keep reading it, new connections see the new one. The marts are also written as Parquet files the
same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import duckdb

# DuckDB 1.0 and every later version open this format: the DuckDB JDBC driver inside DBeaver and the Metabase
# DuckDB driver lag behind the Python package by several releases.
STORAGE_VERSION = "v1.0.0"
MARTS = ("fct_billing_runs", "dim_zuora_entities")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextlib.contextmanager
def build_lock(warehouse_dir: Path):
    """One build at a time per warehouse folder (a second one waits)."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    with (warehouse_dir / ".build.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def publish(build_db: Path, served_db: Path, parquet_dir: Path | None = None) -> None:
    """Copy ``build_db`` onto ``served_db`` (and the marts to ``parquet_dir``), each by an atomic rename.

    ``served_db`` must have the same file name as ``build_db``: DuckDB names a database after its file, and the
    views of the raw and staging layers refer to it by that name.
    """
    if build_db.name != served_db.name:
        raise ValueError(f"the served file must be named like the build file ({build_db.name})")
    served_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = served_db.with_name(f".{served_db.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"attach {_sql_string(str(build_db))} as build (read_only)")
        con.execute(f"attach {_sql_string(str(tmp))} as published (storage_version '{STORAGE_VERSION}')")
        con.execute("copy from database build to published")
        con.execute("checkpoint published")
        con.execute("detach published")
        if parquet_dir is not None:
            _write_parquet(con, parquet_dir)
        _fsync(tmp)
        os.replace(tmp, served_db)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _write_parquet(con, parquet_dir: Path) -> None:
    parquet_dir.mkdir(parents=True, exist_ok=True)
    for mart in MARTS:
        final = parquet_dir / f"{mart}.parquet"
        tmp = parquet_dir / f".{mart}.parquet.{os.getpid()}.tmp"
        try:
            con.execute(
                f"copy (select * from build.marts.{mart}) to {_sql_string(str(tmp))} (format parquet, compression zstd)"
            )
            _fsync(tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
