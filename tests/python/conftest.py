"""Fixtures shared by the Python tests."""

from __future__ import annotations

import pytest
from helpers import ROOT, read_csv

# The test files that build warehouses many times over, the longest first. pytest-xdist hands whole files to its
# workers in the order they are collected (make pytest turns off its reordering by number of tests), so these start
# first and no long file runs alone at the end: make test's time. The other files keep their order.
LONGEST_FILES = ("test_publish_and_clients.py", "test_real_exports.py", "test_extract.py", "test_alerts.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)  # a stable sort: the order within each file stays


@pytest.fixture(scope="session")
def demo_exports() -> tuple[tuple[list[str], list[dict[str, str]]], tuple[list[str], list[dict[str, str]]]]:
    """The embedded demo exports, parsed: (bill-run header, rows), (entity header, rows)."""
    return (
        read_csv(ROOT / "seeds" / "zuora_billing_run_export.csv"),
        read_csv(ROOT / "seeds" / "zuora_entity_export.csv"),
    )
