"""Fixtures shared by the Python tests."""

from __future__ import annotations

import pytest
from helpers import ROOT, read_csv


@pytest.fixture(scope="session")
def demo_exports() -> tuple[tuple[list[str], list[dict[str, str]]], tuple[list[str], list[dict[str, str]]]]:
    """The embedded demo exports, parsed: (bill-run header, rows), (entity header, rows)."""
    return (
        read_csv(ROOT / "seeds" / "zuora_billing_run_export.csv"),
        read_csv(ROOT / "seeds" / "zuora_entity_export.csv"),
    )
