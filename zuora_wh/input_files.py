"""The files of an export folder: find them, check them, and classify them (``prepare``).

A folder of exports may hold Billing Run exports, Entity exports and the combined file Zuora's UI writes for
the data source (Billing Run and Entity columns side by side), headed by labels (``Billing Run: Status``) or
API names (``BillingRun.Status``), in every format Zuora writes, and what a spreadsheet writes when a person saves
one again (see ``FORMATS``):

- delimited text: ``.csv`` (comma, or the semicolon a spreadsheet writes in a European locale), ``.tsv``, ``.dsv``
  (Data Query's delimiter of the user's choice) and ``.txt`` (a spreadsheet's tab-delimited text, UTF-16 too); the
  delimiter is sniffed from the header;
- JSON (Data Query): an array of objects, or one object per line (``.json``, ``.jsonl``, ``.ndjson``);
- each of those gzip-compressed (``.csv.gz``, ``.json.gz``, ...), or inside a ``.zip``;
- workbooks (``.xlsx``, the UI's export; ``.xls`` and ``.ods``), converted once into a CSV in the build folder's
  cache.

UTF-8 with or without a byte-order mark. ``prepare`` checks every file (a file-level problem is an ``ExportError``
naming the file and what is wrong) and classifies it by its header; other files in the folder are listed as
ignored (hidden files and folders are skipped without a word). The check reads each file once, the way the build
will (``scan``): every row fits the header, and the file's own dates say the order of day and month of its slash
dates (``slash_date_order``). A file's tenant is the one named by the extractor's state file (``zuora_wh.tenants``)
in its folder or the nearest folder above it, up to the export folder.

What the build then lays over the files is ``zuora_wh.raw_layer``; what it remembers of them, ``zuora_wh.loaded_files``.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import xxhash

from zuora_wh.columns import (
    BILLING_RUN_EXPORT_FIELDS,
    ENTITY_FIELDS,
    Field,
    deleted_column,
    deleted_headers,
    space_characters,
)
from zuora_wh.errors import ExportError
from zuora_wh.sql import quote_identifier as _q
from zuora_wh.sql import quote_string as _s
from zuora_wh.tenants import FolderTenant, folder_tenant

if TYPE_CHECKING:
    from zuora_wh.loaded_files import Loaded

REQUIRED_BILLING_RUN = ("Id", "Status", "UpdatedDate")
REQUIRED_ENTITY = ("Id",)
CHUNK = 1 << 20
FILE_CHECK_THREADS = 2  # files checked at a time (prepare)
TAIL = 65536  # the characters of a file's end kept to check its last line (_check_last_line)


def content_hash():
    """The hash of a file's content, which says whether it changed since the last build: XXH3's 128 bits, not a
    cryptographic hash, since nobody forges an export to collide with another (at 10M bill runs, 0.04 s per file of
    370 MB against BLAKE2b's 0.3 s)."""
    return xxhash.xxh3_128()


# File name ending (before an optional .gz) -> (reader, format name). The one list of what is read. Beside Zuora's own
# formats, what a spreadsheet's "Save As" offers for a table (Microsoft: "File formats that are supported in Excel",
# "Excel formatting and features that are not transferred to other file formats"; LibreOffice and Google Sheets
# write the same kinds): text delimited by tabs (.txt, "Text (Tab delimited)", or UTF-16 "Unicode Text"), and the
# workbooks python-calamine reads.
FORMATS: dict[str, tuple[str, str]] = {
    ".csv": ("delimited", "CSV"),
    ".tsv": ("delimited", "TSV"),
    ".dsv": ("delimited", "DSV"),
    ".txt": ("delimited", "Text"),
    ".json": ("json", "JSON"),
    ".jsonl": ("json", "JSON"),
    ".ndjson": ("json", "JSON"),
    ".xlsx": ("excel", "Excel"),
    ".xls": ("excel", "Excel 97-2003"),
    ".ods": ("excel", "OpenDocument"),
    ".zip": ("zip", "ZIP"),
}
# What else a spreadsheet's "Save As" offers, which the build does not read (the same Microsoft pages): set aside
# with a warning, or refused when the file's name says it holds bill runs (``NAMED_AS_EXPORT``).
UNREAD_SPREADSHEET_FORMATS = {
    ".prn": "Formatted Text (Space delimited)",
    ".dif": "DIF (Data Interchange Format)",
    ".slk": "SYLK (Symbolic Link)",
    ".xml": "XML Spreadsheet 2003",
    ".htm": "Web Page",
    ".html": "Web Page",
    ".mht": "Single File Web Page",
    ".mhtml": "Single File Web Page",
    ".pdf": "PDF",
    ".xps": "XPS",
    ".dbf": "dBase",
    ".numbers": "Apple Numbers",
    ".xlk": "Excel backup",
    ".xlsb": "Excel Binary Workbook",
    ".xlsm": "Excel Macro-Enabled Workbook",
}
# A file whose name says it holds bill runs or entities is never set aside while the build succeeds without it.
NAMED_AS_EXPORT = re.compile(r"bill[\s_.-]*(ing)?[\s_.-]*runs?|entit(y|ies)|zuora", re.I)
SAVE_AS_ADVICE = "save it from the spreadsheet as 'CSV UTF-8 (Comma delimited) (.csv)' or 'Excel Workbook (.xlsx)'"
# Delimiters tried first when sniffing a header; any other punctuation in the header line is tried too.
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class Scan:
    """What one read of a file found (``_scan``): its rows, the rows that are only delimiters (a spreadsheet leaves
    them), and the evidence of the order of day and month in its dates written with slashes. An example is
    (row, column, value)."""

    rows: int = 0
    blank_rows: int = 0
    slash_dates: int = 0
    day_first: tuple[int, str, str] | None = None  # a first part above 12: 25/01/2026
    month_first: tuple[int, str, str] | None = None  # a second part above 12: 01/25/2026
    example: tuple[int, str, str] | None = None  # any slash date
    two_digit_year: tuple[int, str, str] | None = None  # 1/25/26: a spreadsheet's re-save
    # rows whose Billing Run ID another row of the file has too (repeated_id_key); None when not counted (a file
    # checked by an earlier version)
    repeated_billing_run_ids: int | None = None

    @property
    def may_repeat_billing_run_ids(self) -> bool:
        """Whether a Billing Run ID may be in the file more than once: the int model keeps the raw values of every
        row of such a file through its within-file duplicate check, as any of them may be rejected for it."""
        return self.repeated_billing_run_ids is None or self.repeated_billing_run_ids > 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Scan | None:
        try:
            data = json.loads(text)
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        except (ValueError, TypeError):
            return None


@dataclass
class InputFile:
    path: Path  # the file DuckDB reads (for a ZIP member or a workbook: the copy in the cache)
    display_name: str  # what the user knows it as: "exports/a.csv" or "exports/b.zip!b.csv"
    header: list[str]
    reader: str = "delimited"  # delimited | json
    file_format: str = "CSV"  # as the summary shows it: "CSV, semicolon", "JSON, gzip", "Excel", ...
    delimiter: str = ","
    compression: str = "uncompressed"  # uncompressed | gzip (DuckDB's names)
    billing_run_columns: dict[str, str] = field(default_factory=dict)  # label -> header as written
    entity_columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    header_style: str = "label"
    deleted_columns: dict[str, str] = field(default_factory=dict)  # AQuA's deleted flag -> header as written
    tenant: FolderTenant | None = None  # named by an extractor's state file; None: the default tenant
    extract_kind: str | None = None  # what the extractor wrote the file for (runs, entities, id_sweep); None: not it
    order: int = 0  # 1 = oldest; the newest file wins ties between versions of a row
    fingerprint: str = ""  # a hash of the content
    stamp: str = ""  # size and modification time
    scan: Scan = field(default_factory=Scan)
    slash_date_order: str | None = None  # MDY or DMY: how its slash dates are read (None: it has none)

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


def file_type(name: str) -> tuple[str, str, bool] | None:
    """(reader, format name, gzip-compressed) of a file name by its ending, or None when it is no export."""
    parts = name.lower().rsplit(".", 2)
    gz = len(parts) > 1 and parts[-1] == "gz"
    ending = "." + parts[-2] if gz and len(parts) > 2 else "." + parts[-1] if len(parts) > 1 else ""
    hit = FORMATS.get(ending)
    if hit is None or (gz and hit[0] in ("zip", "excel")):
        return None
    return hit[0], hit[1], gz


@dataclass
class Folder:
    exports: list[Path]
    ignored: list[tuple[str, str]]  # (file, why)


def not_read(name: str) -> str:
    """Why a file of the folder whose format is no export's is set aside; an ExportError when its name says it holds
    bill runs (the build must not succeed without it)."""
    ending = "." + name.lower().rsplit(".", 1)[-1] if "." in name else ""
    what = UNREAD_SPREADSHEET_FORMATS.get(ending)
    if NAMED_AS_EXPORT.search(Path(name).name):
        kind = f"a spreadsheet's {what} file" if what else "no format the build reads"
        raise ExportError(f"{name}: its name says it holds bill runs, but it is {kind}; {SAVE_AS_ADVICE}")
    return f"a spreadsheet's {what} file, which the build does not read" if what else "not an export file by its name"


def discover(export_dir: Path) -> Folder:
    """The export files of ``export_dir`` and its sub-folders, and the other files (ignored, with a reason).
    Hidden files and folders (a name starting with a dot) are left out without a word."""
    if export_dir.is_file():
        raise ExportError(f"{export_dir}: this is a file, not a folder; name the folder that holds the export files")
    if not export_dir.is_dir():
        raise ExportError(f"{export_dir}: no such folder (the export folder must be a folder of Zuora exports)")
    found = Folder([], [])
    for p in sorted(export_dir.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(export_dir).parts):
            continue
        if p.name.startswith("~$"):  # Excel's lock file, beside a workbook it has open (or had, when it crashed)
            found.ignored.append((str(p), f"Excel's lock file of {p.name[2:]} (Excel has that workbook open)"))
        elif file_type(p.name) is None:
            found.ignored.append((str(p), not_read(str(p))))
        else:
            found.exports.append(p)
    return found


def no_export_error(export_dir: Path, ignored: list[tuple[str, str]]) -> ExportError:
    seen = ", ".join(Path(f).name for f, _ in ignored[:5]) + (", ..." if len(ignored) > 5 else "")
    return ExportError(
        f"{export_dir}: no export file in this folder (looked for {', '.join(sorted(FORMATS))}, optionally .gz)"
        + (f"; found only: {seen}" if seen else "")
    )


def cached(cache_dir: Path, source: str, name: str, stamp: str, write) -> Path:
    """The cache copy of ``source`` (a ZIP member, a workbook), written by ``write(path)`` unless the copy of
    the same stamp is there already."""
    key = hashlib.sha1(source.encode()).hexdigest()[:12]
    target = cache_dir / f"{key}_{name}"
    marker = target.with_name(target.name + ".stamp")
    if not (target.exists() and marker.exists() and marker.read_text() == stamp):
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        write(partial)
        partial.replace(target)
        marker.write_text(stamp)
    return target


def _extract(zip_path: Path, cache_dir: Path, ignored: list[tuple[str, str]]) -> list[tuple[Path, str]]:
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise ExportError(f"{zip_path}: not a readable ZIP file") from None
    with archive:
        members, out = [], []
        for m in archive.infolist():
            if m.is_dir() or any(part.startswith(".") for part in Path(m.filename).parts):
                continue
            kind = file_type(m.filename)
            if kind is None or kind[0] not in ("delimited", "json"):
                ignored.append((f"{zip_path}!{m.filename}", not_read(f"{zip_path}!{m.filename}")))
            else:
                members.append(m)
        if not members:
            raise ExportError(f"{zip_path}: the ZIP holds no export file (.csv, .tsv, .dsv, .txt or .json)")
        for m in members:

            def write(target: Path, m=m) -> None:
                with archive.open(m) as src, target.open("wb") as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)

            try:
                path = cached(
                    cache_dir,
                    f"{zip_path.resolve()}!{m.filename}",
                    Path(m.filename).name,
                    f"{m.file_size}:{m.CRC}",
                    write,
                )
            except (zipfile.BadZipFile, zlib.error, EOFError) as e:
                raise ExportError(f"{zip_path}: not a readable ZIP file ({m.filename}: {e})") from None
            out.append((path, f"{zip_path}!{m.filename}"))
        return out


def excel_cell_text(value) -> str:
    """A workbook cell as the text Zuora would have written in a CSV: whole numbers without '.0', dates and
    datetimes in ISO form (tenant-local time, as the UI shows them), booleans as true/false."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds") if value.time() != dt.time(0) else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _convert_excel(xlsx: Path, cache_dir: Path) -> Path:
    """The first worksheet of ``xlsx`` as a UTF-8 CSV in the cache (python-calamine reads the workbook)."""
    from python_calamine import CalamineWorkbook

    def write(target: Path) -> None:
        try:
            workbook = CalamineWorkbook.from_path(str(xlsx))
            rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except Exception as e:  # calamine raises its own error types for every kind of damage
            raise ExportError(f"{xlsx}: not a readable workbook ({type(e).__name__}: {e})") from None
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for row in rows:
                writer.writerow([excel_cell_text(v) for v in row])

    stat = xlsx.stat()
    return cached(cache_dir, str(xlsx.resolve()), xlsx.stem + ".csv", f"{stat.st_size}:{stat.st_mtime_ns}", write)


def _utf16_as_utf8(path: Path, cache_dir: Path) -> Path:
    """A UTF-16 text file (Excel's "Unicode Text", tab-delimited, with a byte-order mark) as a UTF-8 copy in the
    cache, which DuckDB reads."""

    def write(target: Path) -> None:
        try:
            with path.open(encoding="utf-16", newline="") as src, target.open("w", encoding="utf-8", newline="") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
        except UnicodeError as e:
            raise ExportError(f"{path}: not readable UTF-16 text ({e})") from None

    stat = path.stat()
    return cached(
        cache_dir, str(path.resolve()), path.stem + ".utf8" + path.suffix, f"{stat.st_size}:{stat.st_mtime_ns}", write
    )


def _is_utf16(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def open_file(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else path.open("rb")


def _read_checked(path: Path, name: str, gz: bool) -> tuple[str, str]:
    """Read the whole file once (``inspect`` has refused an empty one): it must be UTF-8 text, with content once
    decompressed. Returns (a hash of its content, its tail)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    digest = content_hash()
    offset, tail = 0, ""
    try:
        with open_file(path, gz) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                if b"\x00" in chunk:
                    raise ExportError(
                        f"{name}: not a text file (it holds binary data, at byte {offset + chunk.index(0)})"
                    )
                # A chunk of ASCII alone, with no character left open by the one before, is UTF-8 as it is: only
                # its end is decoded, for the tail (the check of a file at 10M bill runs: 0.17 s to 0.05).
                held = len(decoder.getstate()[0])  # the bytes of a character the last chunk left open
                try:
                    text = chunk[-TAIL:].decode("ascii") if chunk.isascii() and not held else decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    at = offset - held + e.start  # the decoder counts from the bytes it held
                    raise ExportError(
                        f"{name}: not UTF-8 text (line {_line_at(path, gz, at)}: invalid byte at offset {at}); a "
                        "spreadsheet's 'CSV (Comma delimited)' writes the Windows code page: save it as 'CSV UTF-8 "
                        "(Comma delimited)', or export it again from Zuora"
                    ) from None
                tail = (tail + text)[-TAIL:]
                offset += len(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise ExportError(f"{name}: not a readable gzip file ({e}); export or download it again") from None
    if offset == 0:
        raise ExportError(f"{name}: the file is empty (no content); a valid export has at least its header line")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ExportError(f"{name}: not UTF-8 text (the file ends inside a character)") from None
    return digest.hexdigest(), tail


def _line_at(path: Path, gz: bool, offset: int) -> int:
    """The line of the byte at ``offset``, counting line feeds before it (carriage returns in a file that has no
    line feed before it: a Mac CSV ends its lines in CR). Read again only for an error message, so that the reading
    of every good file does not count lines."""
    lf = cr = 0
    with open_file(path, gz) as fh:
        while offset > 0 and (chunk := fh.read(min(CHUNK, offset))):
            lf, cr, offset = lf + chunk.count(b"\n"), cr + chunk.count(b"\r"), offset - len(chunk)
    return (lf or cr) + 1


def stamp_of(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def sniff_delimiter(line: str, preferred: str = ",") -> str:
    """The delimiter that splits a header line into the most fields of the data source (ties: ``preferred``,
    then the usual ones); Data Query lets the user pick any character, so any punctuation is a candidate."""
    others = sorted({c for c in line if not c.isalnum() and c not in " :.\"'_-"})
    candidates = [preferred, *DELIMITERS, *others]
    best, best_score = preferred, -1
    for delim in dict.fromkeys(candidates):
        try:
            fields = next(csv.reader([line], delimiter=delim))
        except csv.Error:
            continue
        score = sum(1 for f in fields if f.strip().casefold() in LOOKUP)
        if score > best_score:
            best, best_score = delim, score
    return best


def _header_of_text(path: Path, name: str, gz: bool, preferred: str) -> tuple[list[str], str]:
    with (
        gzip.open(path, "rt", encoding="utf-8-sig", newline="") if gz else path.open(encoding="utf-8-sig", newline="")
    ) as fh:
        first = fh.readline().rstrip("\r\n")
        if not first.strip():
            raise ExportError(f"{name}: not a delimited text file (no header line)")
        delimiter = sniff_delimiter(first, preferred)
        fh.seek(0)
        try:
            header = next(csv.reader(fh, delimiter=delimiter))
        except (StopIteration, csv.Error) as e:
            raise ExportError(f"{name}: not a delimited text file ({e or 'no header line'})") from None
    return header, delimiter


def _json_read(path: Path, compression: str, columns: list[str] | None = None) -> str:
    cols = "" if columns is None else ", columns = {" + ", ".join(f"{_s(c)}: 'VARCHAR'" for c in columns) + "}"
    return f"read_json({_s(str(path))}, format = 'auto', compression = {_s(compression)}{cols})"


def _header_of_json(path: Path, name: str, compression: str) -> tuple[list[str], str]:
    """The keys of the JSON records (every record's, not only the first's), and a hash of the file, reading
    the whole file once with DuckDB: an unreadable or cut-short file is an error here, not in the build."""
    try:
        with duckdb.connect() as con:
            described = con.execute(
                f"describe select * from read_json({_s(str(path))}, format = 'auto', compression = "
                f"{_s(compression)}, sample_size = -1)"
            ).fetchall()
    except duckdb.Error as e:
        first = str(e).strip().splitlines()[0]
        raise ExportError(f"{name}: not a readable JSON export ({first})") from None
    digest = content_hash()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return [row[0] for row in described], digest.hexdigest()


def inspect(
    path: Path,
    name: str,
    known: dict[str, Loaded] | None = None,
    slash_setting: str | None = None,
    display_format: str | None = None,
) -> InputFile | None:
    """Check one export file and classify it by its header. Raises ExportError on a file-level problem; returns
    None for a text file (``.txt``) that is no export at all (a note beside the exports).

    A file loaded by the last successful build whose size and modification time are unchanged (in ``known``)
    is not read through again; any other file is read whole, and its content hash says whether it changed.
    ``slash_setting`` (ZUORA_SLASH_DATE_ORDER) says how to read slash dates that could be either way.
    """
    typed = file_type(name.rsplit("!", 1)[-1]) or file_type(path.name)
    if typed is None:
        raise ExportError(f"{name}: not an export file by its name")
    reader, format_name, gz = typed
    if reader == "excel":
        reader, gz = "delimited", False
    format_name = display_format or format_name
    compression = "gzip" if gz else "uncompressed"
    if path.stat().st_size == 0:
        raise ExportError(f"{name}: the file is empty (0 bytes); a valid export has at least its header line")
    stamp = stamp_of(path)
    previous = (known or {}).get(name)
    reuse = previous is not None and previous.stamp == stamp
    tail = "\n"
    if reader == "json":
        header, fingerprint = _header_of_json(path, name, compression)
        delimiter = ""
    else:
        fingerprint, tail = (previous.fingerprint, "\n") if reuse else _read_checked(path, name, gz)
        header, delimiter = _header_of_text(path, name, gz, "\t" if format_name in ("TSV", "Text") else ",")
    # A spreadsheet writes a column it has formatted but that holds nothing with an empty name: named by position.
    header = [h.strip() or f"(unnamed column {i})" for i, h in enumerate(header, start=1)]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ExportError(f"{name}: the header names these columns more than once: {', '.join(dupes)}")
    shown_format = format_name
    if reader == "delimited" and typed[0] != "excel":
        shown_format += f", {DELIMITER_NAMES.get(delimiter, repr(delimiter))}"
    shown_format += ", gzip" if gz else ""
    ef = InputFile(
        path=path,
        display_name=name,
        header=header,
        reader=reader,
        file_format=shown_format,
        delimiter=delimiter,
        compression=compression,
    )
    api_names = 0
    for h in header:
        if h.casefold() in deleted_headers():
            ef.deleted_columns[deleted_column()] = h
            continue
        hit = LOOKUP.get(h.casefold())
        if hit is None:
            ef.ignored_columns.append(h)
            continue
        kind, f = hit
        (ef.billing_run_columns if kind == "billing_run" else ef.entity_columns)[f.header_label] = h
        api_names += "." in h and ":" not in h
    if not ef.billing_run_columns and not ef.entity_columns:
        if format_name == "Text" and not NAMED_AS_EXPORT.search(Path(name).name):
            return None  # a note, not an export: set aside with the other files that are no exports
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        raise ExportError(
            f"{name}: not a Zuora Billing Run or Entity export: none of its columns ({shown}) is a field of the "
            "Billing Run data source, by label (Billing Run: Status) or API name (BillingRun.Status)"
        )
    named = len(header) - len(ef.ignored_columns) - len(ef.deleted_columns)
    ef.header_style = "api" if api_names * 2 > named else "label"
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
    if reader == "delimited":
        _check_last_line(tail, len(header), name, delimiter)
    remembered = Scan.from_json(previous.scan) if reuse and previous.scan else None
    ef.scan = remembered or _scan(ef)
    ef.slash_date_order = slash_date_order(name, ef.scan, slash_setting)
    ef.fingerprint, ef.stamp = fingerprint, stamp
    return ef


_CSV_ERROR = re.compile(r"CSV Error on Line: (\d+).*?Expected Number of Columns: (\d+) Found: (\d+)", re.S)
# Dates written with slashes, day and month first (1 or 2 digits), the year last: the spellings of en_US and en_GB
# exports, and of a spreadsheet that re-saved a file in such a locale.
_SLASH_DATE = r"^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}([^0-9]|$)"
_DAY_FIRST = r"^\s*(1[3-9]|2[0-9]|3[01])/[0-9]{1,2}/[0-9]{4}([^0-9]|$)"
_MONTH_FIRST = r"^\s*[0-9]{1,2}/(1[3-9]|2[0-9]|3[01])/[0-9]{4}([^0-9]|$)"
_TWO_DIGIT_YEAR = r"^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}([^0-9]|$)"


def repeated_id_key(column: str) -> str:
    """What the file check counts as one Billing Run ID, as SQL on ``column``: the text without any whitespace, space
    character (the rule space_characters, which staging trims: a no-break space among them) or apostrophe, hashed.
    Two IDs that staging cleans to the same value (zuora_clean_text trims them and drops a leading apostrophe) have
    the same key, so the count of repeats is never below the int model's; a hash collision can only raise it (a file
    then takes the slower path of a file with repeats, never a wrong one). A function, so that the rules are read when
    a file is checked, not when the module is imported (zuora_wh.columns)."""
    return f"hash(regexp_replace({column}, '[[:space:]{space_characters()}'']', '', 'g'))"


def _scan(ef: InputFile) -> Scan:
    """Read the file once, the way the build will (DuckDB, a fast parallel scan): every row has the header's fields
    (a row that does not fit, a delimiter or a line break inside an unquoted value, is a file-level error naming
    its line, not a failure in the middle of the build); how many rows are only delimiters; and the evidence of the
    order of day and month in its slash dates (``Scan``)."""
    labels = {**ef.billing_run_columns, **ef.entity_columns}
    dated = [h for label, h in labels.items() if LOOKUP[label.casefold()][1].kind in ("date", "datetime")]
    cells = ", ".join(f"struct_pack(c := {_s(h)}, v := {_q(h)})" for h in dated) or "struct_pack(c := '', v := '')"
    blank = f"trim(concat({', '.join(_q(h) for h in ef.header)})) = ''"

    patterns = {
        "day_first": _DAY_FIRST,
        "month_first": _MONTH_FIRST,
        "example": _SLASH_DATE,
        "two_digit_year": _TWO_DIGIT_YEAR,
    }
    firsts = ", ".join(f"list_filter(_slashed, x -> regexp_matches(x.v, '{p}'))[1] as {k}" for k, p in patterns.items())
    examples = ", ".join(
        f"arg_min(struct_pack(n := _n, c := {k}.c, v := {k}.v), _n) filter (where {k} is not null)" for k in patterns
    )
    # A first pass counts the rows, the rows with no ID (a row of delimiters is one), the rows with a dated cell with
    # a slash, and the rows whose Billing Run ID an earlier row has: it reads only those columns, and is all there is
    # to read in a file of ISO dates and no blank row.
    ids = [h for label, h in labels.items() if label in ("Billing Run: ID", "Entity: ID")]
    no_id = " and ".join(f"nullif(trim({_q(h)}), '') is null" for h in ids) or "false"
    slashed = f"contains(concat({', '.join(_q(h) for h in dated)}), '/')" if dated else "false"
    run_id = ef.billing_run_columns.get("Billing Run: ID")
    key = repeated_id_key(_q(run_id)) if run_id else "null"
    quick = (
        f"select count(*), count(*) filter (where {no_id}), count(*) filter (where {slashed}), "
        f"count({key}) - count(distinct {key}) from {duckdb_read(ef)}"
    )
    try:
        with duckdb.connect() as con:
            rows, without_id, with_slash, repeated = con.execute(quick).fetchone()
    except duckdb.Error as e:
        _raise_unreadable(ef, e)
    if not without_id and not with_slash:
        return Scan(int(rows), repeated_billing_run_ids=int(repeated))
    # else one more pass: the rows that are only delimiters; the dated cells with a slash, and per row the first cell
    # of each kind
    sql = f"""
        select count(*), count(*) filter (where _blank), coalesce(sum(_slash_dates), 0), {examples}
        from (
            select _n, _blank, len(list_filter(_slashed, x -> regexp_matches(x.v, '{_SLASH_DATE}'))) as _slash_dates,
                {firsts}
            from (
                select row_number() over () as _n, {blank} as _blank,
                    list_filter([{cells}], x -> contains(x.v, '/')) as _slashed
                from {duckdb_read(ef)}
            )
        )
    """
    try:
        with duckdb.connect() as con:
            row = con.execute(sql).fetchone()
    except duckdb.Error as e:
        _raise_unreadable(ef, e)
    rows, blank_rows, slash, day_first, month_first, example, two_digit_year = row

    def at(x) -> tuple[int, str, str] | None:
        return (int(x["n"]), x["c"], x["v"]) if x else None

    return Scan(
        int(rows),
        int(blank_rows),
        int(slash),
        at(day_first),
        at(month_first),
        at(example),
        at(two_digit_year),
        int(repeated),
    )


def _raise_unreadable(ef: InputFile, e: duckdb.Error):
    text = str(e)
    if ef.reader == "delimited":
        try:  # DuckDB's strict reader does not say where; the lenient one names the line
            with duckdb.connect() as con:
                con.execute(f"select count(*) from {duckdb_read(ef, strict=False)}").fetchone()
        except duckdb.Error as lenient:
            text = str(lenient)
    found = _CSV_ERROR.search(text)
    if found:
        line, expected, got = found.groups()
        raise ExportError(
            f"{ef.display_name}: line {line} has {got} of the header's {expected} fields (a delimiter or a line "
            "break inside an unquoted value?); fix that line, or export the file again"
        ) from None
    first = text.strip().splitlines()[0]
    kind = "delimited file" if ef.reader == "delimited" else "JSON export"
    raise ExportError(f"{ef.display_name}: not a readable {kind} ({first})") from None


SLASH_SETTING = "ZUORA_SLASH_DATE_ORDER"


def slash_date_order(name: str, scan: Scan, setting: str | None) -> str | None:
    """The order of day and month of a file's slash dates, from its own dates: a first part above 12 means day
    first (DMY), a second part above 12 month first (MDY). A file that says both, a setting that contradicts the
    file, and a file whose every slash date could be either way without a setting are refused: a date is never
    guessed. None when the file has no slash dates."""

    def shown(at: tuple[int, str, str]) -> str:
        return f"row {at[0]} has {at[1]} {at[2]}"

    if scan.two_digit_year:
        raise ExportError(
            f"{name}: {shown(scan.two_digit_year)}, a date with a two-digit year, as a spreadsheet writes dates when "
            "it saves a file again; the century is not written, so the date cannot be read for sure: export the file "
            f"again from Zuora, or {SAVE_AS_ADVICE} after formatting the dates with four-digit years"
        )
    if not scan.slash_dates:
        return None
    if scan.day_first and scan.month_first:
        raise ExportError(
            f"{name}: its dates disagree on the order of day and month: {shown(scan.day_first)} (day first) and "
            f"{shown(scan.month_first)} (month first); a file is written in one locale: export it again"
        )
    evidence = "DMY" if scan.day_first else "MDY" if scan.month_first else None
    if evidence and setting and setting != evidence:
        at = scan.day_first or scan.month_first
        first = "day" if evidence == "DMY" else "month"
        raise ExportError(
            f"{name}: {SLASH_SETTING}={setting} contradicts the file: {shown(at)}, {first} first; the file says its "
            f"order itself: remove the setting, or build this file on its own"
        )
    if evidence or setting:
        return evidence or setting
    raise ExportError(
        f"{name}: its {scan.slash_dates:,} dates written with slashes (such as {scan.example[2]} in row "
        f"{scan.example[0]}, {scan.example[1]}) could be day first or month first, and none says which: set "
        f"{SLASH_SETTING}=DMY (day first: en_GB, most of Europe) or {SLASH_SETTING}=MDY (month first: en_US) for "
        "this build"
    )


def _check_last_line(tail: str, width: int, name: str, delimiter: str) -> None:
    """A download cut short ends in the middle of a row: no final newline, and too few fields."""
    if tail.endswith(("\n", "\r")):
        return
    last = tail.splitlines()[-1] if tail.splitlines() else ""
    try:
        fields = next(csv.reader(io.StringIO(last), delimiter=delimiter), [])
    except csv.Error:
        fields = []
    if len(fields) != width or last.count('"') % 2:
        raise ExportError(
            f"{name}: the last line is truncated (it has {len(fields)} of {width} fields and no line end); "
            "the download was probably cut short: export the file again"
        )


def prepare(
    export_dir: Path, cache_dir: Path, known: dict[str, Loaded] | None = None, slash_setting: str | None = None
):
    """Every export file of ``export_dir``, checked and classified, oldest first; and the ignored files.

    Order decides which version of a row wins a tie on Updated Date: files are ordered by modification time,
    then by name, and the newest wins. ``slash_setting`` is the user's ZUORA_SLASH_DATE_ORDER (``slash_date_order``).
    """
    if slash_setting is not None and slash_setting.upper() not in ("MDY", "DMY"):
        raise ExportError(f"{SLASH_SETTING}={slash_setting}: say MDY (month first, en_US) or DMY (day first, en_GB)")
    folder = discover(export_dir)
    ignored = list(folder.ignored)
    found: list[tuple[Path, str, float, str | None]] = []
    for p in folder.exports:
        reader, format_name, gz = file_type(p.name)  # type: ignore[misc]
        if reader == "zip":
            found += [(member, name, p.stat().st_mtime, None) for member, name in _extract(p, cache_dir, ignored)]
        elif reader == "excel":
            found.append((_convert_excel(p, cache_dir), str(p), p.stat().st_mtime, None))
        elif reader == "delimited" and not gz and _is_utf16(p):  # Excel's "Unicode Text"
            found.append((_utf16_as_utf8(p, cache_dir), str(p), p.stat().st_mtime, f"{format_name}, UTF-16"))
        else:
            found.append((p, str(p), p.stat().st_mtime, None))
    found.sort(key=lambda t: (t[2], t[1]))
    setting = slash_setting.upper() if slash_setting else None
    files = []
    # Two files at a time: the reading and hashing of one (Python, one core) goes on while DuckDB scans another
    # (the file check at 10M bill runs: 16 s to 11 s). The results, and the first file-level error, in file order.
    with ThreadPoolExecutor(max_workers=FILE_CHECK_THREADS) as pool:
        checked = list(pool.map(lambda f: inspect(f[0], f[1], known, setting, f[3]), found))
    for (_, name, _, _), ef in zip(found, checked, strict=True):
        if ef is None:
            ignored.append((name, "not an export: its first line names no field of the data source"))
        else:
            files.append(ef)
    for archive in {p for p in folder.exports if file_type(p.name)[0] == "zip"}:  # type: ignore[index]
        if not any(ef.display_name.startswith(f"{archive}!") for ef in files):
            raise ExportError(f"{archive}: the ZIP holds no export file (.csv, .tsv, .dsv, .txt or .json)")
    if not files:
        raise no_export_error(export_dir, ignored)
    tenants: dict[Path, FolderTenant | None] = {}  # the tenant of each folder, read once
    for i, ef in enumerate(files, start=1):
        ef.order = i
        folder = Path(ef.display_name.split("!", 1)[0]).parent
        if folder not in tenants:
            tenants[folder] = folder_tenant(folder, export_dir)
        ef.tenant = tenants[folder]
        ef.extract_kind = ef.tenant.extract_kind(Path(ef.display_name)) if ef.tenant else None
    return files, ignored


def warnings(files: Iterable[InputFile], ignored: list[tuple[str, str]] = ()) -> list[str]:
    out = []
    for ef in files:
        if ef.ignored_columns:
            out.append(
                f"{ef.display_name}: ignoring columns that are not fields of the Billing Run data source: "
                + ", ".join(repr(c) for c in ef.ignored_columns)
            )
        if ef.scan.blank_rows:
            out.append(
                f"{ef.display_name}: skipping {ef.scan.blank_rows:,} rows that hold nothing but delimiters "
                "(a spreadsheet leaves them when it saves a file)"
            )
    if ignored:
        out.append(
            f"ignoring {len(ignored)} file(s) of the export folder that are not exports: "
            + ", ".join(name for name, _ in ignored)
        )
    return out


def duckdb_read(ef: InputFile, strict: bool = True) -> str:
    if ef.reader == "json":
        return _json_read(ef.path, ef.compression, ef.header)
    types = ", ".join(f"{_s(h)}: 'VARCHAR'" for h in ef.header)
    return (
        f"read_csv({_s(str(ef.path))}, header = true, auto_detect = false, delim = {_s(ef.delimiter)}, "
        f"quote = '\"', escape = '\"', compression = {_s(ef.compression)}, columns = {{{types}}}"
        + ("" if strict else ", strict_mode = false")
        + ")"
    )
