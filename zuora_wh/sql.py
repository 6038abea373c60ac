"""Quoting and type names for the SQL the tooling writes: the one place that knows how each engine spells them.

DuckDB is the engine of every command; Spark only receives the raw layer over an export folder
(``raw_layer.statements``), when a build runs with ``--target spark``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


def quote_identifier(identifier: str) -> str:
    """DuckDB: ``Billing Run: ID`` -> ``"Billing Run: ID"`` (a double quote inside is doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_string(text: str) -> str:
    """DuckDB: ``it's`` -> ``'it''s'`` (a single quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


def spark_identifier(identifier: str) -> str:
    """Spark: ``Billing Run: ID`` -> ```Billing Run: ID``` (a backtick inside is doubled)."""
    return "`" + identifier.replace("`", "``") + "`"


def spark_string(text: str) -> str:
    """Spark: ``it's`` -> ``'it\\'s'``: Spark's string literals take backslash escapes (two literals side by side
    are joined, so doubling a quote would drop it)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def spark_path(path: str) -> str:
    """A file's path as Spark takes it: Hadoop reads a path as a glob pattern, so its glob characters are escaped
    (a file named ``runs [1].csv`` is that file, not ``runs 1.csv``)."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", path)


@dataclass(frozen=True)
class Dialect:
    """How one engine quotes, and names the types of the raw layer (texts: an array of text)."""

    name: str
    identifier: Callable[[str], str]
    string: Callable[[str], str]
    text: str
    integer: str
    bigint: str
    boolean: str
    texts: str
    array: str  # the function that makes an array of its arguments
    # a row's number in the order a file is read (dbt's twin, for the demo seeds: macro zuora_row_number_in_file)
    row_number: str

    def literal(self, value: str | int | bool | list[str] | None, type_: str) -> str:
        """A value as a literal of ``type_`` (one of this dialect's type names; a list is an array of text)."""
        if isinstance(value, list):
            return f"cast({self.array}({', '.join(self.string(v) for v in value)}) as {type_})"
        if value is None:
            return f"cast(null as {type_})"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return self.string(value)


DUCKDB = Dialect(
    name="duckdb",
    identifier=quote_identifier,
    string=quote_string,
    text="varchar",
    integer="integer",
    bigint="bigint",
    boolean="boolean",
    texts="varchar[]",
    array="list_value",
    row_number="row_number() over ()",
)
SPARK = Dialect(
    name="spark",
    identifier=spark_identifier,
    string=spark_string,
    text="string",
    integer="int",
    bigint="bigint",
    boolean="boolean",
    texts="array<string>",
    array="array",
    row_number="row_number() over (order by monotonically_increasing_id())",
)
