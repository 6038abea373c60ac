"""Publishing: the warehouse users read is replaced only by a complete, tested build, atomically.

dbt builds into the build file (``warehouse/build/<input>/zuora.duckdb``), which no reader ever opens, so a BI
tool holding the served file open never blocks a build and a build never breaks a dashboard. After the build and
every error-severity test passed, ``publish`` checkpoints the build file and copies it, byte for byte, into a
temporary file next to the served one, then renames that over the served file. The build file is written in the
storage format the DuckDB inside BI tools reads (``zuora_wh.warehouse.STORAGE_VERSION``), so the copy is the
served file as it is. A rename is atomic: readers that already have the old file open keep reading it, new
connections see the new one. The marts are also written as Parquet files the same way, a folder of files per
table (by quarter for the two large marts, PARTS), each file only when its content changed since the last publish
(``_write_parquet``), from the build file while the copy is made; they replace theirs once the copy is complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from zuora_wh.errors import BuildBusy
from zuora_wh.sql import quote_identifier, quote_string
from zuora_wh.warehouse import (
    HEADER_VERSION,
    STORAGE_VERSION,
    connect_within_limits,
    header_version,
    memory_limit,
)

LOCK_FILE = ".build.lock"


def _holder(fh) -> str:
    """Who holds the lock, as its holder wrote it: 'the build started at <time> by process <pid>'."""
    fh.seek(0)
    pid, _, started = fh.read().strip().partition(" ")
    return f"the build started at {started} by process {pid}" if pid else "another build (it did not say which)"


@contextlib.contextmanager
def build_lock(warehouse_dir: Path, wait: bool = True):
    """One build at a time per warehouse folder. A second one says which build it waits for, then waits; with
    ``wait=False`` it raises BuildBusy at once. The holder writes its process ID and start time in the lock
    file; the lock itself is the operating system's (flock), so a killed build never leaves it held."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    with (warehouse_dir / LOCK_FILE).open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fh)
            if not wait:
                raise BuildBusy(
                    f"{warehouse_dir} is busy: {holder} is still running; not waiting (--no-wait)"
                ) from None
            print(f"waiting for {holder} to finish ({warehouse_dir})", file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()} {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporary_files(served_db: Path, parquet_dir: Path | None) -> list[Path]:
    """Remove the temporary files that publishing builds killed half-way left behind (``.zuora.duckdb.<pid>.tmp``
    and its WAL, ``.<table>.<part>.parquet.<pid>.tmp``, the fingerprints'): those whose process is no longer
    running. Call it while holding the build lock. Returns what it removed."""
    patterns = [(served_db.parent, f".{served_db.name}.*.tmp*")]
    if parquet_dir is not None:
        patterns += [(parquet_dir, ".*.parquet.*.tmp"), (parquet_dir, f".{FINGERPRINTS}.*.tmp")]
    removed = []
    for folder, pattern in patterns:
        for path in folder.glob(pattern) if folder.is_dir() else []:
            pid = path.name.split(".tmp")[0].rsplit(".", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def publish(build_db: Path, served_db: Path, parquet_dir: Path | None = None, limit: str | None = None) -> None:
    """Copy ``build_db`` onto ``served_db`` (and the marts to ``parquet_dir``), each by an atomic rename; DuckDB
    writes the Parquet files within the memory ``limit`` (by default ``memory_limit``'s for rows not known).

    ``served_db`` must have the same file name as ``build_db``: DuckDB names a database after its file, and the
    views of the raw and staging layers refer to it by that name.
    """
    if build_db.name != served_db.name:
        raise ValueError(f"the served file must be named like the build file ({build_db.name})")
    if header_version(build_db) != HEADER_VERSION:
        raise ValueError(f"{build_db} is not in the storage format BI tools read ({STORAGE_VERSION})")
    served_db.parent.mkdir(parents=True, exist_ok=True)
    removed = remove_stale_temporary_files(served_db, parquet_dir)
    if removed:
        print(
            f"publish: removed {len(removed)} temporary file(s) left by builds killed while publishing: "
            + ", ".join(sorted(p.name for p in removed))
        )
    with duckdb.connect(str(build_db)) as con:
        con.execute("checkpoint")  # every change in the file itself, none in its write-ahead log
    tmp = served_db.with_name(f".{served_db.name}.{os.getpid()}.tmp")
    try:
        # The copy (the kernel's work) goes on while DuckDB writes the Parquet files from the build file, which
        # nothing writes now (at 10M bill runs the copy is 6 s); the Parquet files replace theirs once it is done.
        with ThreadPoolExecutor(max_workers=1) as pool:
            copied = pool.submit(_copy_synced, build_db, tmp)
            if parquet_dir is not None:
                with connect_within_limits(build_db.parent, limit or memory_limit(None)) as con:
                    con.execute(f"attach {quote_string(str(build_db))} as build (read_only)")
                    _write_parquet(con, parquet_dir, copied.result)
            copied.result()
        os.replace(tmp, served_db)
        fsync_path(served_db.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_synced(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    fsync_path(target)


PUBLISHED_SCHEMAS = ("marts", "audit")  # what analysts read: the marts, and the warehouse's own records


def marts_of(con, database: str = "build") -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Every table of the schemas analysts read (marts, audit) of ``database``: name -> (schema, its columns and
    their types, in order)."""
    rows = con.execute(
        "select c.table_schema, c.table_name, c.column_name, c.data_type from information_schema.columns as c join "
        "information_schema.tables as t on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema and "
        "c.table_name = t.table_name where c.table_catalog = ? and list_contains(?, c.table_schema) and "
        "t.table_type = 'BASE TABLE' order by c.table_name, c.ordinal_position",
        [database, list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    marts: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for schema, table, column, kind in rows:
        marts.setdefault(table, (schema, []))[1].append((column, kind))
    return marts


# In the Parquet folder: the content fingerprint of each file as it holds it, by table and part (``_write_parquet``).
FINGERPRINTS = ".fingerprints.json"

# Each table is a folder of Parquet files. The two large marts are split by the quarter (UTC) of a time that no later
# version of a row changes, one file a quarter (``2026-Q2.parquet``; ``unknown.parquet`` for rows without one): a
# build that writes the newest runs, as Zuora's Updated Date window brings them, rewrites the newest quarter's file
# rather than the whole table. Each file is a scan of the table, so months would cost a full build more: at 10M
# bill runs the fact took 9.8 s as one file, 11.4 s as 9 quarters, 14.8 s as 25 months. Every other table, and a
# table without rows, is one file, ``all.parquet``.
PARTS = {"fct_billing_runs": "created_at", "fct_billing_run_status_history": "updated_at"}
WHOLE, UNKNOWN = "all", "unknown"


# The tables whose every row carries the stamp of the build that wrote it (macro zuora_build_started_at), and the
# column it is in. An incremental build writes a small part of them: its data tests look at the rows it wrote
# (macro get_where_subquery), and publishing fingerprints the published ones by their stamps.
STAMPED = {
    "int_zuora__billing_run_versions": "_loaded_at",
    "fct_billing_runs": "_written_at",
    "fct_billing_run_status_history": "recorded_at",
}


def _part_of(table: str) -> str:
    """A row's part of ``table`` (PARTS) as SQL over its row ``t``: its year and quarter as one number (20262 is
    ``2026-Q2``: a tenth of the time text would take at 10M bill runs), null without one; 0 for a table in one."""
    if table not in PARTS:
        return "0"
    column = f"t.{quote_identifier(PARTS[table])}"
    return f"year({column}) * 10 + quarter({column})"


def _part_name(part: int | None) -> str:
    """The name of the part ``_part_of`` numbered: its file is ``<name>.parquet``."""
    return WHOLE if part == 0 else UNKNOWN if part is None else f"{part // 10}-Q{part % 10}"


def _rows_of_part(table: str, part: str) -> str:
    """The condition on a row ``t`` of ``table`` that it is in ``part``."""
    if part == WHOLE:
        return "true"
    column = f"t.{quote_identifier(PARTS[table])}"
    if part == UNKNOWN:
        return f"{column} is null"
    year, quarter = part.split("-Q")
    first = quote_string(f"{year}-{3 * int(quarter) - 2:02d}-01")
    return f"{column} >= timestamp {first} and {column} < timestamp {first} + interval 3 month"


def _fingerprints(con, schema: str, table: str, columns: list[tuple[str, str]]) -> dict[str, str]:
    """The content of each part of a table (a table without rows: one part, WHOLE), in a few bytes: its columns and
    types, its row count, and two sums of its rows' hashes (the order of the rows does not count; a sum and an xor,
    so that a pair of equal rows does not vanish). A stamped table (STAMPED) is hashed by its stamps alone: a build
    that writes a row stamps it, so a row written, rewritten or deleted since changes the count or the sums (at 10M
    bill runs, 0.2 s instead of 5 s). One scan of the table for all its parts."""
    hashed = f"t.{quote_identifier(STAMPED[table])}" if table in STAMPED else "t"
    rows = con.execute(
        f"select {_part_of(table)} as part, count(*), sum(hash({hashed})), bit_xor(hash({hashed})) "
        f"from build.{schema}.{quote_identifier(table)} as t group by 1"
    ).fetchall()
    return {
        _part_name(part): json.dumps([columns, count, str(total), str(xor)]) for part, count, total, xor in rows
    } or {WHOLE: json.dumps([columns, 0, None, None])}


def _write_parquet(con, parquet_dir: Path, before_replacing: Callable[[], object]) -> None:
    """Every mart and audit table as a folder of Parquet files (PARTS), each file written when its content changed
    since it was written (and no file of a part or a table that is gone): each written beside its file, then, once
    ``before_replacing`` returned, renamed over it (atomic for readers, file by file). Their timestamps are UTC
    without a zone (the warehouse's rule); in Parquet they are written as instants (TIMESTAMP WITH TIME ZONE,
    isAdjustedToUTC), so that every reader, whatever its own zone, shows the same moment."""
    con.execute("set TimeZone = 'UTC'")  # the session in UTC, as everywhere in the project
    # A table's rows have no order: without keeping the build file's, DuckDB writes the row groups of a file in
    # parallel (the largest mart at 1M bill runs: 0.98 s against 1.34 s).
    con.execute("set preserve_insertion_order = false")
    parquet_dir.mkdir(parents=True, exist_ok=True)
    marts = marts_of(con)
    known_path = parquet_dir / FINGERPRINTS
    known = json.loads(known_path.read_text()) if known_path.exists() else {}
    written: dict[str, dict[str, str]] = {}
    ready: dict[Path, Path] = {}
    copies: list[tuple[Path, str]] = []  # each file to write, and the statement that writes it
    try:
        for mart, (schema, columns) in marts.items():
            written[mart] = _fingerprints(con, schema, mart, columns)
            had = known.get(mart) if isinstance(known.get(mart), dict) else {}
            # the same microseconds since the epoch, typed as an instant: exact, and without the time-zone
            # arithmetic of a cast (a quarter of the largest mart's write at 1M bill runs)
            select = ", ".join(
                f"make_timestamptz(epoch_us({quote_identifier(c)})) as {quote_identifier(c)}"
                if kind == "TIMESTAMP"
                else quote_identifier(c)
                for c, kind in columns
            )
            for part, fingerprint in written[mart].items():
                final = parquet_dir / mart / f"{part}.parquet"
                if final.exists() and had.get(part) == fingerprint:
                    continue
                # written beside the table's folder, which a new table gets only once its files are complete
                tmp = ready[final] = parquet_dir / f".{mart}.{part}.parquet.{os.getpid()}.tmp"
                # zstd's level 1: a third faster to write than its default, for files within a percent of its size
                copies.append(
                    (
                        tmp,
                        f"copy (select {select} from build.{schema}.{quote_identifier(mart)} as t "
                        f"where {_rows_of_part(mart, part)}) to {quote_string(str(tmp))} "
                        "(format parquet, compression zstd, compression_level 1)",
                    )
                )
        _copy_side_by_side(con, copies)
        before_replacing()
        for final, tmp in ready.items():
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
    finally:
        for tmp in ready.values():
            tmp.unlink(missing_ok=True)
    _remove_stale_parquet(parquet_dir, written)
    write_json(known_path, written)


def _copy_side_by_side(con, copies: list[tuple[Path, str]]) -> None:
    """Write the files ``copies`` (each by its COPY statement, then synced), as many at once as DuckDB has threads,
    each by one thread. A quarter of the fact at 1M bill runs is one row group, which one thread writes: one file
    after the other, with every thread on each, left a core idle (the Parquet files at 1M bill runs: 2.2 s to 1.5 s;
    at 10M, 16.3 s to 14.1 s)."""
    (threads,) = con.execute("select current_setting('threads')").fetchone()
    con.execute("set threads = 1")

    def write(copy: tuple[Path, str]) -> None:
        tmp, statement = copy
        with con.cursor() as cursor:
            cursor.execute(statement)
        fsync_path(tmp)

    try:
        with ThreadPoolExecutor(max_workers=int(threads)) as pool:
            list(pool.map(write, copies))
    finally:
        con.execute(f"set threads = {int(threads)}")


def _remove_stale_parquet(parquet_dir: Path, parts: dict[str, dict[str, str]]) -> None:
    """The folder holds the warehouse's tables, nothing else: a table renamed or gone takes its folder with it, a
    quarter without rows left its file, and a file of the layout before folders (``<table>.parquet``) goes."""
    for path in parquet_dir.iterdir():
        if path.is_file() and path.suffix == ".parquet":
            path.unlink()
        elif path.is_dir() and path.name not in parts:
            shutil.rmtree(path)
        elif path.is_dir():
            for stale in path.glob("*.parquet"):
                if stale.stem not in parts[path.name]:
                    stale.unlink()


def write_json(path: Path, data: object) -> None:
    """``data`` as the JSON file ``path``, replaced atomically: a temporary file beside it (``.<name>.<pid>.tmp``),
    synced, renamed over it, the rename synced. A process killed half-way leaves the old file, never half a new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries (a rename in it), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
