"""What the last successful build loaded of an export folder, file by file, and how the folder differs from it.

A build loads only the files that are new or changed since the last successful build (``changes``); a bill-run file
the last build loaded that is gone or changed makes it a full refresh (``Changes.stale``), as does a file that a
failed build began to load and that is gone or changed since (``unfinished``). The record is kept where
the build's engine keeps its tables: a table of the DuckDB build file (``raw.export_files_loaded``, so that the
record and the data it describes are one file, and a build file deleted takes its record with it); for Spark, whose
metastore the command cannot open while dbt runs, a JSON file in its folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zuora_wh.input_files import InputFile


@dataclass
class Loaded:
    """What the last successful build recorded of one file it loaded."""

    fingerprint: str  # a hash of the content
    stamp: str  # size and modification time then: when they are the same, the content is not hashed again
    kind: str
    scan: str = ""  # what the file check's read of it found (Scan, as JSON), so that it is not read again
    slash_date_order: str | None = None  # the order its slash dates were read in


# The tables of the record in schema raw: what the last successful build loaded, and what the last build laid its
# raw layer over (every file of the folder then, written before dbt runs; the same as the first after a success).
LOADED, ATTEMPTED = "export_files_loaded", "export_files"


def read_record(con, table: str = LOADED) -> dict[str, Loaded]:
    """file -> what the last successful build into ``con``'s database recorded of it (``table`` ATTEMPTED: what the
    last build, successful or not, began with). (State written by an older version, without content hashes, makes
    every file count as changed once.)"""
    con.execute("create schema if not exists raw")
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
    }
    if not columns:
        return {}
    kind = "kind" if "kind" in columns else "'billing_run'"
    stamp = "stamp" if "stamp" in columns else "''"
    scan, order = ("scan", "slash_date_order") if "scan" in columns else ("''", "null")
    rows = con.execute(f"select file, fingerprint, {stamp}, {kind}, {scan}, {order} from raw.{table}")
    return {file: Loaded(*known) for file, *known in rows.fetchall()}


@dataclass
class Changes:
    """How the folder differs from what the last successful build loaded."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # same name, other content
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def stale(self) -> list[str]:
        """Files that the last build loaded and that are gone or changed: their rows may be the versions the marts
        hold, and an incremental build only adds and replaces rows (on Spark, only adds them), so the build must
        start again from every file. Entity exports count too: their versions are stored by file, as the bill
        runs' are."""
        return self.changed + self.removed


def content(file: Loaded | InputFile) -> tuple[str, str | None]:
    """What tells a file's rows apart, recorded or as it is now: its content's hash, and the order its slash dates
    are read in."""
    return file.fingerprint, file.slash_date_order


def changes(loaded: dict[str, Loaded], files: list[InputFile]) -> Changes:
    current = {ef.display_name: ef for ef in files}
    out = Changes()
    for name, ef in current.items():
        if name not in loaded:
            out.new.append(name)
        elif content(loaded[name]) != content(ef):
            out.changed.append(name)  # other content, or its dates read in another order (the setting changed)
        else:
            out.unchanged += 1
    out.removed = sorted(set(loaded) - set(current))
    return out


def unfinished(attempted: dict[str, Loaded], loaded: dict[str, Loaded], files: list[InputFile]) -> list[str]:
    """Files that the last build began to load and did not finish (it failed, or was killed, after laying its raw
    layer: in ``attempted`` other than the last successful build loaded them) and that are gone or changed since.
    The marts may hold their rows of then, and an incremental build only adds and replaces rows: a run that the
    file no longer holds would stay (found on 2026-11-30: a run whose ID failed a test, the file then corrected,
    kept failing the next builds). Like a loaded file changed (``Changes.stale``), they make a full refresh."""
    current = {ef.display_name: ef for ef in files}
    out = []
    for name, then in attempted.items():
        if name in loaded and content(loaded[name]) == content(then):
            continue  # as the last successful build loaded it: not loaded again then
        if name not in current or content(current[name]) != content(then):
            out.append(name)
    return sorted(out)


def read_record_json(path: Path) -> dict[str, Loaded]:
    """The same as ``read_record``, for a Spark build: its record is a JSON file (the command cannot open
    Spark's metastore while dbt runs); none, or one that cannot be read, is no file loaded (a build from every
    file)."""
    try:
        return {file: Loaded(**known) for file, known in json.loads(path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, TypeError):
        return {}


def record_json(path: Path, files: list[InputFile]) -> None:
    """After a successful Spark build: its files are loaded (``record`` for DuckDB), written atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps(
            {
                ef.display_name: {
                    "fingerprint": ef.fingerprint,
                    "stamp": ef.stamp,
                    "kind": ef.kind,
                    "scan": ef.scan.to_json(),
                    "slash_date_order": ef.slash_date_order,
                }
                for ef in files
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    tmp.replace(path)


def record(con) -> None:
    """After a successful build: the files of this build are loaded (an incremental build skips them)."""
    con.execute(
        f"create or replace table raw.{LOADED} as select file, fingerprint, stamp, kind, scan, "
        f"slash_date_order from raw.{ATTEMPTED}"
    )
