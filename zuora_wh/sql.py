"""Quoting for the SQL the tooling writes: the one place that knows how DuckDB quotes names and strings."""

from __future__ import annotations


def quote_identifier(identifier: str) -> str:
    """``Billing Run: ID`` -> ``"Billing Run: ID"`` (a double quote inside is doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_string(text: str) -> str:
    """``it's`` -> ``'it''s'`` (a single quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"
