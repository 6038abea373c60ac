"""The raw layer the dbt sources read, over the checked files of an export folder, for DuckDB or Spark.

``statements`` writes the statements that create, in schema raw:

- ``billing_run_export``: every Billing Run row of every file, under Zuora's label names, all text, after the
  lineage columns (``LINEAGE``: the file, its order, whether it is new, the row's number, the file's tenant and zone,
  the order of its slash dates); AQuA's deleted flag (empty for files without it), then whether the file may hold a
  Billing Run ID more than once (``REPEATS_IDS``, from the file check);
- ``entity_export``: every Entity row of the Entity exports and of the combined files;
- ``export_files``: one row per file read, with its kind, format, header style, tenant and what the check found;
- ``build_input``, ``ignored_files``, ``unavailable_fields``: the folder, the files that are no exports, and the
  fields a tenant does not have (from the extractor's state).

DuckDB reads the files in place: views over ``read_csv`` / ``read_json`` with explicit all-text columns, no type
sniffing (``register`` runs the statements in the build database). Spark reads each file into a temporary view with
all-text columns and writes the two exports' tables from them (the build runs the statements:
``macros/spark_raw_layer.sql``); a file whose name has a colon, which Hadoop cannot open, is read from a copy
(``readable_by_spark``). The quoting and type names of each engine are ``zuora_wh.sql``'s.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, ENTITY_FIELDS, deleted_column
from zuora_wh.input_files import InputFile, cached, duckdb_read, open_file
from zuora_wh.sql import DUCKDB, SPARK, Dialect, quote_identifier, spark_path
from zuora_wh.tenants import FolderTenant


def _json_is_array(ef: InputFile) -> bool:
    """Whether a JSON export is one array of records (Data Query's ``.json``), not one record per line."""
    with open_file(ef.path, ef.compression == "gzip") as fh:
        start = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"[")


def readable_by_spark(files: list[InputFile], cache_dir: Path) -> None:
    """Hadoop (Spark's file layer) cannot open a path with a colon in a name (``runs 10:30.csv``): such a file is
    read from a copy in the cache, as ZIP members and workbooks are. The file keeps its name everywhere else."""
    for ef in files:
        if ":" in str(ef.path):
            source = ef.path
            ef.path = cached(
                cache_dir,
                str(source.resolve()),
                source.name.replace(":", "_"),
                ef.stamp,
                lambda target, source=source: shutil.copyfile(source, target),
            )


@dataclass
class _Source:
    """How one engine reads one file: statements to run first, the relation to select from, and the column of
    each header in it."""

    setup: list[str]
    relation: str
    column: dict[str, str]


def _source(ef: InputFile, dialect: Dialect) -> _Source:
    """DuckDB: a ``read_csv`` / ``read_json`` call in place, its columns the header's names. Spark: a temporary
    view over the file. A delimited file's columns are named by position there (Spark skips the header line; a
    byte-order mark cannot leak into a name); a JSON file's are its keys. Every value is text; a row that does not
    fit fails the build (FAILFAST), though ``inspect`` has already read the file the way DuckDB does."""
    if dialect is DUCKDB:
        return _Source([], duckdb_read(ef), {h: quote_identifier(h) for h in ef.header})
    q, lit = SPARK.identifier, SPARK.string
    if ef.reader == "json":
        names = {h: h for h in ef.header}
        options = {"multiLine": "true" if _json_is_array(ef) else "false"}
    else:
        names = {h: f"c{i}" for i, h in enumerate(ef.header, start=1)}
        options = {"header": "true", "sep": ef.delimiter, "quote": '"', "escape": '"', "multiLine": "true"}
    options = {"path": spark_path(str(ef.path)), **options, "mode": "FAILFAST", "encoding": "UTF-8"}
    schema = ", ".join(f"{q(name)} string" for name in names.values())
    view = f"zuora_raw_file_{ef.order}"
    return _Source(
        [
            f"create or replace temporary view {view} ({schema}) using {'json' if ef.reader == 'json' else 'csv'} "
            f"options ({', '.join(f'{k} {lit(v)}' for k, v in options.items())})"
        ],
        view,
        {h: f"{view}.{q(name)}" for h, name in names.items()},
    )


# The raw views' lineage columns (before the fields), with their types (sql.Dialect's attribute names).
LINEAGE = {
    "_source_file": "text",
    "_source_file_order": "integer",
    "_is_new_file": "boolean",
    "_source_row_number": "bigint",
    "_tenant": "text",
    "_tenant_timezone": "text",
    "_slash_date_order": "text",
}


# The last column of raw.billing_run_export: whether the row's file may hold a Billing Run ID more than once
# (Scan.may_repeat_billing_run_ids).
REPEATS_IDS = "_file_repeats_ids"


def _select(
    ef: InputFile,
    source: _Source,
    columns: dict[str, str],
    labels: list[str],
    new_files: set[str],
    dialect: Dialect,
    required: str | None = None,
    flags: dict[str, bool] | None = None,
) -> str:
    """The select of one file's rows under the view's columns in ``dialect``, then the boolean columns ``flags``; with
    ``required``, only the rows with a value in that column (a label)."""
    q = dialect.identifier
    tenant = ef.tenant or FolderTenant(None, None)
    lineage = [
        dialect.literal(ef.display_name, dialect.text),
        str(ef.order),
        dialect.literal(ef.display_name in new_files, dialect.boolean),
        dialect.row_number,
        dialect.literal(tenant.name, dialect.text),
        dialect.literal(tenant.time_zone, dialect.text),
        dialect.literal(ef.slash_date_order, dialect.text),
    ]
    cols = [f"{value} as {name}" for value, name in zip(lineage, LINEAGE, strict=True)]
    cols += [
        f"{source.column[columns[label]]} as {q(label)}"
        if label in columns
        else f"{dialect.literal(None, dialect.text)} as {q(label)}"
        for label in labels
    ]
    cols += [f"{dialect.literal(value, dialect.boolean)} as {name}" for name, value in (flags or {}).items()]
    conditions = [f"trim(coalesce({source.column[columns[required]]}, '')) <> ''"] if required else []
    if ef.scan.blank_rows:  # rows of delimiters only, as a spreadsheet leaves them: no data (named in a warning)
        everything = ", ".join(f"coalesce({source.column[h]}, '')" for h in ef.header)
        conditions.append(f"trim(concat({everything})) <> ''")
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return f"select {', '.join(cols)} from {source.relation}{where}"


def _union(selects: list[str], labels: list[str], dialect: Dialect, flags: tuple[str, ...] = ()) -> str:
    if selects:
        return "\nunion all\n".join(selects)
    empty = [f"{dialect.literal(None, getattr(dialect, t))} as {c}" for c, t in LINEAGE.items()]
    empty += [f"{dialect.literal(None, dialect.text)} as {dialect.identifier(label)}" for label in labels]
    empty += [f"{dialect.literal(None, dialect.boolean)} as {name}" for name in flags]
    return f"select {', '.join(empty)} where false"


def _relation(name: str, select: str, dialect: Dialect) -> list[str]:
    """DuckDB: a view (the files are read in place at every query). Spark: a Parquet table written from the files'
    temporary views (the Hive metastore cannot hold a view's text this long, and temporary views end with the
    session)."""
    if dialect is SPARK:
        return [f"drop table if exists {name}", f"create table {name} using parquet as\n{select}"]
    return [f"create or replace view {name} as\n{select}"]


def _table(name: str, columns: dict[str, str], rows: list[tuple], dialect: Dialect) -> list[str]:
    """A small table of literal rows; ``columns`` maps each column to its type (a Dialect attribute name)."""
    types = {c: getattr(dialect, t) for c, t in columns.items()}
    schema = ", ".join(f"{c} {t}" for c, t in types.items())
    out = (
        [f"drop table if exists {name}", f"create table {name} ({schema}) using parquet"]
        if dialect is SPARK
        else [f"create or replace table {name} ({schema})"]
    )
    if rows:
        values = ", ".join(
            "(" + ", ".join(dialect.literal(v, types[c]) for v, c in zip(row, columns, strict=True)) + ")"
            for row in rows
        )
        out.append(f"insert into {name} values {values}")
    return out


BILLING_RUN_LABELS = [f.header_label for f in BILLING_RUN_EXPORT_FIELDS]
ENTITY_LABELS = [f.header_label for f in ENTITY_FIELDS]
# The columns of raw.billing_run_export: the fields, then AQuA's deleted flag (null for files without it).
EXPORT_FILES_COLUMNS = {
    "file": "text",
    "read_from": "text",
    "kind": "text",
    "file_format": "text",
    "header_style": "text",
    "tenant": "text",
    "file_order": "integer",
    "fingerprint": "text",
    "stamp": "text",
    "is_new": "boolean",
    "ignored_columns": "texts",
    "extract_kind": "text",
    "slash_date_order": "text",
    "scan": "text",
}
UNAVAILABLE_FIELDS_COLUMNS = {"tenant": "text", "field": "text", "reason": "text"}


def statements(
    export_dir: Path,
    files: list[InputFile],
    new_names: set[str],
    ignored: list[tuple[str, str]] = (),
    dialect: Dialect = DUCKDB,
) -> list[str]:
    """The statements that lay the raw layer the dbt sources read (schema raw) over ``files``, in ``dialect``;
    ``new_names`` are the files that are new or changed since the last build (every file on a first build or a
    full refresh)."""
    sources = {ef.order: _source(ef, dialect) for ef in files}
    runs = [
        _select(
            ef,
            sources[ef.order],
            {**ef.billing_run_columns, **ef.entity_columns, **ef.deleted_columns},
            [*BILLING_RUN_LABELS, deleted_column()],
            new_names,
            dialect,
            flags={REPEATS_IDS: ef.scan.may_repeat_billing_run_ids},
        )
        for ef in files
        if ef.billing_run_columns
    ]
    entities = [
        _select(ef, sources[ef.order], ef.entity_columns, ENTITY_LABELS, new_names, dialect)
        for ef in files
        if ef.kind == "entity"
    ]
    # A combined file repeats its entity on every bill run; a run without an entity is no entity row.
    entities += [
        _select(ef, sources[ef.order], ef.entity_columns, ENTITY_LABELS, new_names, dialect, required="Entity: ID")
        for ef in files
        if ef.kind == "combined" and "Entity: ID" in ef.entity_columns
    ]
    listed = [
        (
            ef.display_name,
            str(ef.path),
            ef.kind,
            ef.file_format,
            ef.header_style,
            ef.tenant and ef.tenant.name,
            ef.order,
            ef.fingerprint,
            ef.stamp,
            ef.display_name in new_names,
            ef.ignored_columns,
            ef.extract_kind,
            ef.slash_date_order,
            ef.scan.to_json(),
        )
        for ef in files
    ]
    tenants = {ef.tenant.name: ef.tenant for ef in files if ef.tenant is not None}
    unavailable = [
        (name, label, why)
        for name, tenant in sorted(tenants.items(), key=lambda t: t[0] or "")
        for label, why in sorted(tenant.unavailable.items())
    ]
    return [
        "create schema if not exists raw",
        *[statement for source in sources.values() for statement in source.setup],
        *_relation(
            "raw.billing_run_export",
            _union(runs, [*BILLING_RUN_LABELS, deleted_column()], dialect, (REPEATS_IDS,)),
            dialect,
        ),
        *_relation("raw.entity_export", _union(entities, ENTITY_LABELS, dialect), dialect),
        *_table("raw.export_files", EXPORT_FILES_COLUMNS, listed, dialect),
        *_table("raw.build_input", {"built_from": "text"}, [(str(export_dir),)], dialect),
        *_table("raw.ignored_files", {"file": "text", "reason": "text"}, list(ignored), dialect),
        *_table("raw.unavailable_fields", UNAVAILABLE_FIELDS_COLUMNS, unavailable, dialect),
    ]


def register(
    con, export_dir: Path, files: list[InputFile], new_names: set[str], ignored: list[tuple[str, str]] = ()
) -> None:
    """Lay the raw layer over ``files`` in the DuckDB connection ``con`` (``statements``)."""
    for statement in statements(export_dir, files, new_names, ignored):
        con.execute(statement)
