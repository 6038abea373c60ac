"""Property: random mutations of a valid export never crash the build and never lose a row.

Hypothesis rewrites random fields of random rows of a small valid export (random text, empty values, tricky
spellings), sometimes duplicating or dropping rows; every build must succeed (exit 0: bad rows are
quarantined, not fatal) and the reconciliation must account for every row written.
Each example is a whole build, so the number of examples is small; the seed is fixed (derandomize) so that
CI is repeatable, and a failing example is printed by Hypothesis as the exact mutation list.
"""

from __future__ import annotations

from pathlib import Path

from helpers import query, read_csv, write_csv, zuora_wh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, ENTITY_FIELDS
from zuora_wh.generate import write_demo_files

RUNS = 12
RUN_LABELS = [f.header_label for f in BILLING_RUN_EXPORT_FIELDS if f.column not in ("billing_run_number",)]
ENTITY_LABELS = [f.header_label for f in ENTITY_FIELDS]
TRICKY = [
    "",
    " ",
    "'-1",
    "-1",
    "1.5",
    "1,000",
    "2025-02-30",
    "02/30/2025",
    "2025-01-01T25:00:00-08:00",
    "2025-01-01",
    "2025-01-01T10:00:00Z",
    "posted",
    "POST IN PROGRESS",
    "Archived",
    "catchup",
    "=1+1",
    "@x",
    "'",
    '"',
    "\n",
    "8AD0887E805061C8018063A09FE2685A",
    "BR-1",
    "ünïcødé",
    "x" * 300,
    "null",
    "NaN",
]
values = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
)
mutation = st.tuples(st.integers(0, RUNS - 1), st.sampled_from(RUN_LABELS), values)
entity_mutation = st.tuples(st.integers(0, 3), st.sampled_from(ENTITY_LABELS), values)


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mutations=st.lists(mutation, min_size=1, max_size=12),
    entity_mutations=st.lists(entity_mutation, max_size=3),
    duplicate=st.sets(st.integers(0, RUNS - 1), max_size=3),
    drop=st.sets(st.integers(0, RUNS - 1), max_size=2),
)
def test_random_mutations_never_crash_and_never_lose_a_row(
    tmp_path_factory, mutations, entity_mutations, duplicate, drop
):
    root: Path = tmp_path_factory.mktemp("property")
    exports = root / "exports"
    entity_path, run_path = write_demo_files(exports, bill_runs=RUNS)
    header, rows = read_csv(run_path)
    for i, label, value in mutations:
        rows[i][label] = value
    rows = [r for i, r in enumerate(rows) if i not in drop] + [dict(rows[i]) for i in sorted(duplicate)]
    write_csv(run_path, header, rows, lineterminator="\r\n")  # quotes values with a carriage return, as Zuora does
    en_header, en_rows = read_csv(entity_path)
    for i, label, value in entity_mutations:
        en_rows[i][label] = value
    write_csv(entity_path, en_header, en_rows, lineterminator="\r\n")

    result = zuora_wh("build", "--export-dir", str(exports), warehouse=root / "wh")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    db = root / "wh" / "zuora.duckdb"
    recon = query(
        db,
        "select record_type, sum(rows_read), sum(rows_unaccounted) from audit.audit_export_file_reconciliation "
        "group by 1 order by 1",
    )
    assert recon == [("billing_run", len(rows), 0), ("entity", len(en_rows), 0)]
