"""Real Zuora export files: find them, check them, and lay the raw layer over them as DuckDB views.

A folder of exports may hold Billing Run exports, Entity exports and the combined file Zuora's UI writes for
the data source (Billing Run and Entity columns side by side), each as CSV or as CSV inside a ZIP, UTF-8 with
or without a byte-order mark, headed by labels (``Billing Run: Status``) or API names (``BillingRun.Status``).

``prepare`` checks every file (file-level problems are a ``ExportError`` naming the file and what is wrong)
and classifies it by its header; ``register`` creates, in the build database, the views the dbt sources read:

- ``raw.billing_run_export``: every Billing Run row of every file, under Zuora's label names, all text;
- ``raw.entity_export``: every Entity row of the Entity exports and of the combined files;
- ``raw.export_files``: one row per file read, with its kind, header style and ignored columns.

DuckDB reads the files in place (``read_csv`` with explicit all-text columns, no type sniffing); nothing is
copied through Python, except CSV members of ZIP files, which are extracted once into a cache folder.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, ENTITY_FIELDS, Field

REQUIRED_BILLING_RUN = ("Id", "Status", "UpdatedDate")
REQUIRED_ENTITY = ("Id",)
CHUNK = 1 << 20


class ExportError(Exception):
    """A file-level problem: the message names the file and what is wrong with it."""


@dataclass
class ExportFile:
    path: Path  # the CSV DuckDB reads (for a ZIP member: the extracted copy)
    display_name: str  # what the user knows it as: "exports/a.csv" or "exports/b.zip!b.csv"
    header: list[str]
    billing_run_columns: dict[str, str] = field(default_factory=dict)  # label -> header as written
    entity_columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    header_style: str = "label"
    order: int = 0  # 1 = oldest; the newest file wins ties between versions of a row
    fingerprint: str = ""

    @property
    def kind(self) -> str:
        if self.billing_run_columns:
            has_entity_fields = set(self.entity_columns) - {"Entity: ID"}
            return "combined" if has_entity_fields else "billing_run"
        return "entity"


def _lookup() -> dict[str, tuple[str, Field]]:
    """Header spelling (label or API name, case-insensitive) -> (which export, field)."""
    table: dict[str, tuple[str, Field]] = {}
    for f in BILLING_RUN_EXPORT_FIELDS:
        if f.obj_api == "BillingRun":
            for spelling in (f.header_label, f.header_api):
                table[spelling.casefold()] = ("billing_run", f)
    for f in ENTITY_FIELDS:
        for spelling in (f.header_label, f.header_api):
            table[spelling.casefold()] = ("entity", f)
    return table


LOOKUP = _lookup()


def discover(export_dir: Path) -> list[Path]:
    """The CSV and ZIP files of ``export_dir`` (and its sub-folders), hidden files left out."""
    if not export_dir.is_dir():
        raise ExportError(f"{export_dir}: no such folder (ZUORA_EXPORT_DIR must name a folder of Zuora exports)")
    files = [
        p
        for p in export_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in (".csv", ".zip")
        and not any(part.startswith(".") for part in p.relative_to(export_dir).parts)
    ]
    if not files:
        raise ExportError(f"{export_dir}: no .csv or .zip export in this folder")
    return files


def _extract(zip_path: Path, cache_dir: Path) -> list[tuple[Path, str]]:
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise ExportError(f"{zip_path}: not a readable ZIP file") from None
    with archive:
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".csv") and not m.is_dir()]
        if not members:
            raise ExportError(f"{zip_path}: the ZIP holds no .csv file")
        out = []
        for m in members:
            key = hashlib.sha1(f"{zip_path.resolve()}!{m.filename}".encode()).hexdigest()[:12]
            target = cache_dir / f"{key}_{Path(m.filename).name}"
            stamp = f"{m.file_size}:{m.CRC}"
            marker = target.with_suffix(".extracted")
            if not (target.exists() and marker.exists() and marker.read_text() == stamp):
                cache_dir.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, target.open("wb") as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                marker.write_text(stamp)
            out.append((target, f"{zip_path}!{m.filename}"))
        return out


def _check_text(path: Path, name: str) -> str:
    """Read the whole file once: it must be non-empty UTF-8 text. Returns its last line."""
    size = path.stat().st_size
    if size == 0:
        raise ExportError(f"{name}: the file is empty (0 bytes); a valid export has at least its header line")
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, tail = 0, ""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            if b"\x00" in chunk:
                raise ExportError(f"{name}: not a CSV file (it holds binary data, at byte {offset + chunk.index(0)})")
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as e:
                raise ExportError(
                    f"{name}: not UTF-8 text (invalid byte at offset {offset + e.start}); "
                    "export again from Zuora as UTF-8, or re-save the file as UTF-8"
                ) from None
            tail = (tail + text)[-65536:]
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ExportError(f"{name}: not UTF-8 text (the file ends inside a character)") from None
    return tail


def fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def inspect(path: Path, name: str, known: Collection[tuple[str, str]] = frozenset()) -> ExportFile:
    """Check one CSV file and classify it by its header. Raises ExportError on a file-level problem.

    A file already loaded by a successful build, unchanged since (in ``known``), is not read through again.
    """
    stamp = fingerprint(path)
    tail = "\n" if (name, stamp) in known else _check_text(path, name)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            header = next(csv.reader(fh))
        except (StopIteration, csv.Error) as e:
            raise ExportError(f"{name}: not a CSV file ({e or 'no header line'})") from None
    header = [h.strip() for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ExportError(f"{name}: the header names these columns more than once: {', '.join(dupes)}")
    ef = ExportFile(path=path, display_name=name, header=header)
    api_names = 0
    for h in header:
        hit = LOOKUP.get(h.casefold())
        if hit is None:
            ef.ignored_columns.append(h)
            continue
        kind, f = hit
        (ef.billing_run_columns if kind == "billing_run" else ef.entity_columns)[f.header_label] = h
        api_names += "." in h and ":" not in h
    if not ef.billing_run_columns and not ef.entity_columns:
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        raise ExportError(
            f"{name}: not a Zuora Billing Run or Entity export: none of its columns ({shown}) is a field of the "
            "Billing Run data source, by label (Billing Run: Status) or API name (BillingRun.Status)"
        )
    ef.header_style = "api" if api_names * 2 > len(header) - len(ef.ignored_columns) else "label"
    required = (
        [f for f in BILLING_RUN_EXPORT_FIELDS if f.obj_api == "BillingRun" and f.api in REQUIRED_BILLING_RUN]
        if ef.billing_run_columns
        else [f for f in ENTITY_FIELDS if f.api in REQUIRED_ENTITY]
    )
    columns = ef.billing_run_columns if ef.billing_run_columns else ef.entity_columns
    missing = [f for f in required if f.header_label not in columns]
    if missing:
        names = ", ".join(f"{f.header_label} ({f.header_api})" for f in missing)
        raise ExportError(f"{name}: a required column is missing: {names}")
    _check_last_line(tail, len(header), name)
    ef.fingerprint = stamp
    return ef


def _check_last_line(tail: str, width: int, name: str) -> None:
    """A download cut short ends in the middle of a row: no final newline, and too few fields."""
    if tail.endswith(("\n", "\r")):
        return
    last = tail.splitlines()[-1] if tail.splitlines() else ""
    try:
        fields = next(csv.reader(io.StringIO(last)), [])
    except csv.Error:
        fields = []
    if len(fields) != width or last.count('"') % 2:
        raise ExportError(
            f"{name}: the last line is truncated (it has {len(fields)} of {width} fields and no line end); "
            "the download was probably cut short: export the file again"
        )


def loaded_files_of(con) -> dict[tuple[str, str], str]:
    """(file, fingerprint) -> kind of every file the last successful build into ``con``'s database loaded. (State
    written before the kind was recorded counts every file as one with bill runs.)"""
    con.execute("create schema if not exists raw")
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'export_files_loaded'"
        ).fetchall()
    }
    if not columns:
        return {}
    kind = "kind" if "kind" in columns else "'billing_run'"
    rows = con.execute(f"select file, fingerprint, {kind} from raw.export_files_loaded").fetchall()
    return {(file, fingerprint): k for file, fingerprint, k in rows}


def stale_files(loaded: dict[tuple[str, str], str], files: list[ExportFile]) -> list[str]:
    """Names of the files with bill runs in ``loaded`` (see loaded_files_of) that are no longer in the folder, or
    whose content changed since. Their rows may be the versions the marts hold, and an incremental build only adds
    and replaces rows: when there are any, the build must start again from every file (a full refresh). Entity
    exports do not count: the entities are rebuilt from every file on every build."""
    current = {(ef.display_name, ef.fingerprint) for ef in files}
    return sorted({name for (name, fp), kind in loaded.items() if kind != "entity" and (name, fp) not in current})


def prepare(export_dir: Path, cache_dir: Path, known: Collection[tuple[str, str]] = frozenset()) -> list[ExportFile]:
    """Every export file of ``export_dir``, checked and classified, oldest first.

    Order decides which version of a row wins a tie on Updated Date: files are ordered by modification time,
    then by name, and the newest wins.
    """
    csvs: list[tuple[Path, str, float]] = []
    for p in discover(export_dir):
        if p.suffix.lower() == ".zip":
            csvs += [(member, name, p.stat().st_mtime) for member, name in _extract(p, cache_dir)]
        else:
            csvs.append((p, str(p), p.stat().st_mtime))
    csvs.sort(key=lambda t: (t[2], t[1]))
    files = [inspect(path, name, known) for path, name, _ in csvs]
    for i, ef in enumerate(files, start=1):
        ef.order = i
    return files


def warnings(files: Iterable[ExportFile]) -> list[str]:
    return [
        f"{ef.display_name}: ignoring columns that are not fields of the Billing Run data source: "
        + ", ".join(repr(c) for c in ef.ignored_columns)
        for ef in files
        if ef.ignored_columns
    ]


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(ef: ExportFile, columns: dict[str, str], labels: list[str], new_files: set[str], where: str = "") -> str:
    types = ", ".join(f"{_s(h)}: 'VARCHAR'" for h in ef.header)
    read = (
        f"read_csv({_s(str(ef.path))}, header = true, auto_detect = false, delim = ',', quote = '\"', "
        f"escape = '\"', columns = {{{types}}})"
    )
    cols = [f"{_q(columns[label])} as {_q(label)}" if label in columns else f"null::varchar as {_q(label)}"
            for label in labels]  # fmt: skip
    return (
        f"select {_s(ef.display_name)} as _source_file, {ef.order} as _source_file_order, "
        f"{'true' if ef.display_name in new_files else 'false'} as _is_new_file, "
        f"row_number() over () as _source_row_number, {', '.join(cols)} from {read}{where}"
    )


def _view_sql(parts: list[str], labels: list[str]) -> str:
    if parts:
        return "\nunion all\n".join(parts)
    empty = ", ".join(f"null::varchar as {_q(label)}" for label in labels)
    return (
        "select null::varchar as _source_file, null::integer as _source_file_order, null::boolean as _is_new_file, "
        f"null::bigint as _source_row_number, {empty} where false"
    )


BILLING_RUN_LABELS = [f.header_label for f in BILLING_RUN_EXPORT_FIELDS]
ENTITY_LABELS = [f.header_label for f in ENTITY_FIELDS]


def register(con, files: list[ExportFile], loaded: Collection[tuple[str, str]] = frozenset()) -> list[ExportFile]:
    """Create the raw views over ``files`` in the DuckDB connection ``con``; return the files that are not in
    ``loaded`` (see loaded_files_of; empty on a first build or a full refresh): new or changed since."""
    con.execute("create schema if not exists raw")
    new = [ef for ef in files if (ef.display_name, ef.fingerprint) not in loaded]
    new_names = {ef.display_name for ef in new}
    runs = [_select(ef, {**ef.billing_run_columns, **ef.entity_columns}, BILLING_RUN_LABELS, new_names)
            for ef in files if ef.billing_run_columns]  # fmt: skip
    entities = [_select(ef, ef.entity_columns, ENTITY_LABELS, new_names) for ef in files if ef.kind == "entity"]
    # A combined file repeats its entity on every bill run; a run without an entity is no entity row.
    entities += [
        _select(ef, ef.entity_columns, ENTITY_LABELS, new_names,
                f" where trim(coalesce({_q(ef.entity_columns['Entity: ID'])}, '')) <> ''")
        for ef in files
        if ef.kind == "combined" and "Entity: ID" in ef.entity_columns
    ]  # fmt: skip
    con.execute(f"create or replace view raw.billing_run_export as\n{_view_sql(runs, BILLING_RUN_LABELS)}")
    con.execute(f"create or replace view raw.entity_export as\n{_view_sql(entities, ENTITY_LABELS)}")
    con.execute(
        "create or replace table raw.export_files (file varchar, read_from varchar, kind varchar, "
        "header_style varchar, file_order integer, fingerprint varchar, is_new boolean, ignored_columns varchar[])"
    )
    con.executemany(
        "insert into raw.export_files values (?, ?, ?, ?, ?, ?, ?, ?)",
        [(ef.display_name, str(ef.path), ef.kind, ef.header_style, ef.order, ef.fingerprint,
          ef.display_name in new_names, ef.ignored_columns) for ef in files],
    )  # fmt: skip
    return new


def mark_loaded(con) -> None:
    """After a successful build: the files of this build are loaded (an incremental build skips them)."""
    con.execute(
        "create or replace table raw.export_files_loaded as select file, fingerprint, kind from raw.export_files"
    )
