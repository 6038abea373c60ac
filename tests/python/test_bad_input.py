"""Bad input never crashes the build and never loses a row.

Row-level problems: one folder holds one small export file per case; a single build of that folder must
succeed, and each case then checks its own file's outcome: which rows are quarantined with which reasons, or
which value a row was cleaned to. The reconciliation accounts for every row of every file.

File-level problems: each case is a folder with one broken file; the build must stop with exit code 2 and one
line naming the file and the problem, no traceback, and the published warehouse untouched.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from helpers import ROOT, copy_of_test_build, query, read_csv, write_csv, zuora_wh

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, ENTITY_FIELDS, deleted_column, headers, space_characters
from zuora_wh.generate import write_demo_files
from zuora_wh.report import SHARED_NUMBERS_TEST, summary

# is_deleted: AQuA's Deleted column, in the files of the cases that set it (extracts that ask for deleted records)
LABEL = {f.column: f.header_label for f in BILLING_RUN_EXPORT_FIELDS + ENTITY_FIELDS} | {"is_deleted": deleted_column()}
HEADER = headers(BILLING_RUN_EXPORT_FIELDS)
ENTITY_HEADER = headers(ENTITY_FIELDS)


def header_for(changes: list[dict[str, str]]) -> list[str]:
    return HEADER + [deleted_column()] * any("is_deleted" in c for c in changes)


_ids = itertools.count(1)


def run_row(template: dict[str, str], **changes: str) -> dict[str, str]:
    """A copy of the template row with a fresh ID and bill run number, and ``changes`` (by column name)."""
    n = next(_ids)
    row = dict(template)
    row[LABEL["billing_run_id"]] = f"{n:032x}"
    row[LABEL["billing_run_number"]] = f"BR-{90000000 + n:08d}"
    for column, value in changes.items():
        row[LABEL[column]] = value
    return row


def entity_row(template: dict[str, str], **changes: str) -> dict[str, str]:
    """A copy of the template entity with a fresh ID and name, and ``changes`` (by column name)."""
    n = next(_ids)
    row = dict(template)
    row[LABEL["entity_id"]] = f"{0xE0000000 + n:032x}"
    row[LABEL["entity_name"]] = f"Case {n}"
    for column, value in changes.items():
        row[LABEL[column]] = value
    return row


def posted_template(rows: list[dict[str, str]]) -> dict[str, str]:
    """A valid Posted, Regular run with an entity, every datetime with an offset, ISO dates."""
    for r in rows:
        if (
            r[LABEL["status"]] == "Posted"
            and r[LABEL["billing_run_type"]] == "Regular"
            and r[LABEL["entity_id"]]
            and all("T" in r[LABEL[c]] for c in ("created_at", "started_at", "ended_at", "posted_at", "updated_at"))
            and "-" in r[LABEL["target_date"]]
            and r[LABEL["number_of_credit_memos"]]
        ):
            return dict(r)
    raise AssertionError("no template row")


# A case is named after the reject code it proves (code, or code__variant): each row of its file must be
# rejected with that code, and every code of the reject reasons (seeds/zuora_reject_reasons.csv) has a case.
# name -> (rows of the case file, as changes to the template; expected reasons per row, in file order)
REJECTED: dict[str, tuple[list[dict[str, str]], list[str]]] = {
    "missing_id": ([{"billing_run_id": ""}], ["missing_id"]),
    "malformed_id__too_short": ([{"billing_run_id": "8ad0887e805061c8"}], ["malformed_id"]),
    "malformed_id__uppercase": ([{"billing_run_id": "8AD0887E805061C8018063A09FE2685A"}], ["malformed_id"]),
    # a deletion record only has to have a valid ID: AQuA may give nothing else
    "malformed_id__deletion_record": (
        [{"is_deleted": "true", "billing_run_id": "xyz", "status": ""}],
        ["malformed_id"],
    ),
    "unparseable_deleted_flag": ([{"is_deleted": "maybe"}], ["unparseable_deleted_flag"]),
    "malformed_billing_run_number__short": ([{"billing_run_number": "BR-12"}], ["malformed_billing_run_number"]),
    "malformed_billing_run_number__blank": ([{"billing_run_number": " "}], ["malformed_billing_run_number"]),
    "missing_status": ([{"status": ""}], ["missing_status"]),
    "unknown_status": ([{"status": "Archived"}], ["unknown_status"]),
    "unknown_status__with_two_other_codes": (
        [{"billing_run_id": "xyz", "status": "Archived", "number_of_accounts": "-1"}],
        ["malformed_id,unknown_status,negative_count"],
    ),
    "missing_billing_run_type": ([{"billing_run_type": ""}], ["missing_billing_run_type"]),
    "unknown_billing_run_type": ([{"billing_run_type": "Manual"}], ["unknown_billing_run_type"]),
    "missing_date": ([{"target_date": ""}], ["missing_date"]),
    "unparseable_date__impossible_day": ([{"target_date": "2025-02-30"}], ["unparseable_date"]),
    "unparseable_date__words": ([{"invoice_date": "next week"}], ["unparseable_date"]),
    "unparseable_datetime__month_13": ([{"created_at": "2025-13-01T10:00:00-08:00"}], ["unparseable_datetime"]),
    "unparseable_datetime__words": ([{"ended_at": "yesterday"}], ["unparseable_datetime"]),
    "missing_created_date": ([{"created_at": ""}], ["missing_created_date"]),
    "missing_updated_date": ([{"updated_at": ""}], ["missing_updated_date"]),
    "non_integer_count__decimal": ([{"number_of_accounts": "12.5"}], ["non_integer_count"]),
    "non_integer_count__thousands_separator": ([{"total_time_ms": "1,200"}], ["non_integer_count"]),
    "negative_count": ([{"number_of_invoices": "-3"}], ["negative_count"]),
    "negative_count__behind_apostrophe": ([{"total_time_ms": "'-5"}], ["negative_count"]),
    "end_before_start": (
        [
            {
                "started_at": "2025-05-01T10:00:00-07:00",
                "ended_at": "2025-05-01T09:00:00-07:00",
                "updated_at": "2030-01-01T10:00:00-08:00",
            }
        ],
        ["end_before_start"],
    ),
    "dates_out_of_order": ([{"created_at": "2030-01-01T00:00:01-08:00"}], ["dates_out_of_order"]),
    "malformed_user_id": ([{"created_by_id": "admin"}], ["malformed_user_id"]),
    "malformed_entity_id": ([{"entity_id": "Global"}], ["malformed_entity_id"]),
    "text_too_long": ([{"status": "Error", "posted_at": "", "error_message": "x" * 256}], ["text_too_long"]),
    # the state machine (var zuora_rules), one case per rule: each row breaks that rule and no other
    "inconsistent_with_status__pending_with_start": (
        [{"status": "Pending", "ended_at": "", "posted_at": ""}],
        ["inconsistent_with_status"],
    ),
    "inconsistent_with_status__paused_with_total_time": (
        [{"status": "Paused", "executed_at": "", "started_at": "", "ended_at": "", "posted_at": ""}],
        ["inconsistent_with_status"],
    ),
    "inconsistent_with_status__processing_with_end": (
        [{"status": "Processing", "posted_at": ""}],
        ["inconsistent_with_status"],
    ),
    "inconsistent_with_status__canceled_with_posted_date": ([{"status": "Canceled"}], ["inconsistent_with_status"]),
    "inconsistent_with_status__posted_without_posted_date": ([{"posted_at": ""}], ["inconsistent_with_status"]),
    "inconsistent_with_status__catch_up_with_invoices": (
        [{"billing_run_type": "CatchUp", "number_of_invoices": "3"}],
        ["inconsistent_with_status"],
    ),
    "duplicate_id_in_file": (
        [
            {"billing_run_id": "ab" * 16, "billing_run_name": "first"},
            {"billing_run_id": "ab" * 16, "billing_run_name": "second"},
        ],
        ["duplicate_id_in_file", "duplicate_id_in_file"],
    ),
    # the same ID once with spaces around it: staging cleans both to one ID, and the file check counts it as repeated
    "duplicate_id_in_file__padded": (
        [
            {"billing_run_id": "ef" * 16, "billing_run_name": "first"},
            {"billing_run_id": "  " + "ef" * 16 + " ", "billing_run_name": "second"},
        ],
        ["duplicate_id_in_file", "duplicate_id_in_file"],
    ),
    # the same ID once after a no-break space (a spreadsheet's re-save): staging trims it like a space, and so must the
    # file check's count (rule space_characters)
    "duplicate_id_in_file__no_break_space": (
        [
            {"billing_run_id": "12" * 16, "billing_run_name": "first"},
            {"billing_run_id": "\u00a0" + "12" * 16, "billing_run_name": "second"},
        ],
        ["duplicate_id_in_file", "duplicate_id_in_file"],
    ),
}

# The same for entity rows (an Entity export per case): name -> (rows, as changes to a valid entity; reasons)
ENTITY_REJECTED: dict[str, tuple[list[dict[str, str]], list[str]]] = {
    "missing_id": ([{"entity_id": ""}], ["missing_id"]),
    "malformed_id": ([{"entity_id": "GLOBAL"}], ["malformed_id"]),
    "missing_name": ([{"entity_name": ""}], ["missing_name"]),
    "malformed_name__ampersand": ([{"entity_name": "Acme & Co"}], ["malformed_name"]),
    "malformed_name__too_long": ([{"entity_name": "x" * 256}], ["malformed_name"]),
    "malformed_user_id": ([{"entity_updated_by_id": "admin"}], ["malformed_user_id"]),
    "text_too_long": ([{"entity_display_name": "x" * 256}], ["text_too_long"]),
    "dates_out_of_order": ([{"entity_created_at": "2031-01-01T00:00:00-08:00"}], ["dates_out_of_order"]),
    "unparseable_datetime": ([{"entity_updated_at": "soon"}], ["unparseable_datetime"]),
    "duplicate_id_in_file": (
        [
            {"entity_id": "cd" * 16, "entity_name": "First"},
            {"entity_id": "cd" * 16, "entity_name": "Second"},
        ],
        ["duplicate_id_in_file", "duplicate_id_in_file"],
    ),
}

# name -> (changes, {column of fct_billing_runs: the value it must be cleaned to})
CLEANED: dict[str, tuple[dict[str, str], dict[str, object]]] = {
    "whitespace": (
        {"billing_run_name": "  Month-end  ", "target_type": " Batch "},
        {"billing_run_name": "Month-end", "target_type": "Batch"},
    ),
    "status_lowercase": ({"status": "posted"}, {"status": "Posted"}),
    "status_uppercase": ({"status": "POSTED"}, {"status": "Posted"}),
    "status_ui_label": ({"status": "Post in progress"}, {"status": "PostInProgress"}),
    "csv_injection_apostrophe": ({"billing_run_name": "'-Q4 catch-up"}, {"billing_run_name": "-Q4 catch-up"}),
    "offset_without_colon": ({"created_at": "2025-01-10T09:00:00+0100"}, {"created_at": datetime(2025, 1, 10, 8)}),
    "offset_with_colon": ({"created_at": "2025-01-10T09:00:00+01:00"}, {"created_at": datetime(2025, 1, 10, 8)}),
    "offset_z": ({"created_at": "2025-01-10T09:00:00Z"}, {"created_at": datetime(2025, 1, 10, 9)}),
    "bare_date_midnight": ({"created_at": "2025-01-10"}, {"created_at": datetime(2025, 1, 10, 8)}),
    "us_dates": ({"target_date": "01/31/2025"}, {"target_date": datetime(2025, 1, 31).date()}),
    "deleted_flag_false": ({"is_deleted": "FALSE"}, {"status": "Posted"}),
    "unknown_entity_is_kept": (
        {"entity_id": "f" * 32},
        {"entity_id": "f" * 32, "has_unknown_entity": True, "entity_name": None},
    ),
}

# Empty counts are "not known yet", never a reason to reject a row (DECISIONLOG: counts of runs that never
# processed): for every status, a run whose export leaves the counts and Total Time empty reaches the mart with
# null counts. The other fields are set as Zuora's state machine has them in that status.
EMPTY_COUNTS = {"number_of_accounts": "", "number_of_invoices": "", "number_of_credit_memos": "", "total_time_ms": ""}
NOT_STARTED = {"executed_at": "", "started_at": "", "ended_at": "", "posted_at": ""}
STATUS_FIELDS: dict[str, dict[str, str]] = {
    "Pending": NOT_STARTED,
    "Paused": NOT_STARTED,
    "Cancel in progress": NOT_STARTED,
    "Canceled": NOT_STARTED,
    "Processing": {"ended_at": "", "posted_at": ""},
    "Completed": {"posted_at": ""},
    "Error": {"posted_at": "", "error_message": "There are no accounts to bill"},
    "Remove in progress": {"posted_at": ""},
    "Post in progress": {},
    "Posted": {},
}
for _status, _fields in STATUS_FIELDS.items():
    _api = _status.title().replace(" ", "")
    CLEANED[f"empty_counts_{_api.lower()}"] = (
        {"status": _status, **_fields, **EMPTY_COUNTS},
        {"status": _api, "number_of_accounts": None, "number_of_invoices": None, "invoices_per_account": None},
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bad_rows(exports: Path) -> tuple[int, int]:
    """One small export file per row-level case in ``exports`` (with a plain export beside them); returns the
    number of bill runs and of entities of the plain export. (make test-spark builds the same folder on Spark.)"""
    entity_path, run_path = write_demo_files(exports, bill_runs=30)
    _, rows = read_csv(run_path)
    template = posted_template(rows)
    for name, (changes, _) in REJECTED.items():
        case_rows = [run_row(template, **c) for c in changes]
        if name.startswith("duplicate_id_in_file"):  # one ID, one number: only the values differ
            case_rows[1][LABEL["billing_run_number"]] = case_rows[0][LABEL["billing_run_number"]]
        write_csv(exports / f"reject_{name}.csv", header_for(changes), case_rows)
    _, entities = read_csv(entity_path)
    for name, (changes, _) in ENTITY_REJECTED.items():
        write_csv(exports / f"entity_reject_{name}.csv", ENTITY_HEADER, [entity_row(entities[0], **c) for c in changes])
    for name, (changes, _) in CLEANED.items():
        write_csv(exports / f"clean_{name}.csv", header_for([changes]), [run_row(template, **changes)])
    same = run_row(template)
    write_csv(exports / "clean_exact_duplicate.csv", HEADER, [same, dict(same)])
    first, second = run_row(template), run_row(template)
    second[LABEL["billing_run_number"]] = first[LABEL["billing_run_number"]]
    write_csv(exports / "clean_shared_number.csv", HEADER, [first, second])
    write_csv(exports / "header_only.csv", HEADER, [])
    return len(rows), len(entities)


@pytest.fixture(scope="module")
def bad_rows_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_rows")
    exports = root / "exports"
    runs, entities = write_bad_rows(exports)
    result = zuora_wh("build", "--export-dir", str(exports), warehouse=root / "wh")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    db = root / "wh" / "zuora.duckdb"
    return {"db": db, "exports": exports, "stdout": result.stdout, "runs": runs, "entities": entities}


def file_rows(build, sql: str, file: str) -> list[tuple]:
    return query(build["db"], sql.replace("?", "'" + str(build["exports"] / file).replace("'", "''") + "'"))


def _codes(applies_to: str) -> set[str]:
    _, reasons = read_csv(ROOT / "seeds" / "zuora_reject_reasons.csv")
    return {r["reject_reason"] for r in reasons if r["applies_to"] in (applies_to, "both")}


@pytest.mark.parametrize(("cases", "applies_to"), [(REJECTED, "billing_run"), (ENTITY_REJECTED, "entity")])
def test_every_reject_code_has_a_case_named_after_it(cases, applies_to):
    """Each case proves the code it is named after (on every row of its file), and every code has a case."""
    for name, (_, reasons) in cases.items():
        assert all(name.split("__")[0] in r.split(",") for r in reasons), name
    assert {name.split("__")[0] for name in cases} == _codes(applies_to)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_row_is_quarantined_with_its_reasons(bad_rows_build, name):
    _, reasons = REJECTED[name]
    rejects = file_rows(
        bad_rows_build,
        "select _source_row_number, reject_reasons from audit.audit_billing_run_rejects where _source_file = ? "
        "order by 1",
        f"reject_{name}.csv",
    )
    assert rejects == [(i + 1, r) for i, r in enumerate(reasons)]
    loaded = file_rows(
        bad_rows_build, "select count(*) from marts.fct_billing_runs where _source_file = ?", f"reject_{name}.csv"
    )
    assert loaded == [(0,)]


@pytest.mark.parametrize("name", sorted(ENTITY_REJECTED))
def test_entity_row_is_quarantined_with_its_reasons(bad_rows_build, name):
    _, reasons = ENTITY_REJECTED[name]
    rejects = file_rows(
        bad_rows_build,
        "select _source_row_number, reject_reasons from audit.audit_entity_rejects where _source_file = ? order by 1",
        f"entity_reject_{name}.csv",
    )
    assert rejects == [(i + 1, r) for i, r in enumerate(reasons)]
    loaded = file_rows(
        bad_rows_build, "select count(*) from marts.dim_entities where _source_file = ?", f"entity_reject_{name}.csv"
    )
    assert loaded == [(0,)]


def test_quarantine_keeps_the_raw_values(bad_rows_build):
    raw = file_rows(
        bad_rows_build,
        "select total_time_ms, status from audit.audit_billing_run_rejects where _source_file = ?",
        "reject_negative_count__behind_apostrophe.csv",
    )
    assert raw == [("'-5", "Posted")]


def test_quarantine_keeps_the_raw_values_of_an_id_written_twice(bad_rows_build):
    """Rows whose only reason is another row of their file: the int model keeps their values as written only for
    files that the file check found repeating an ID, and it finds the ID written with spaces too."""
    raw = file_rows(
        bad_rows_build,
        "select billing_run_id, billing_run_name from audit.audit_billing_run_rejects where _source_file = ? "
        "order by _source_row_number",
        "reject_duplicate_id_in_file__padded.csv",
    )
    assert raw == [("ef" * 16, "first"), ("  " + "ef" * 16 + " ", "second")]


def test_a_file_check_that_missed_a_repeated_id_fails_the_build(tmp_path, monkeypatch, capsys):
    """Were the file check ever to count fewer repeats than the model finds, the rejected rows would lose their values
    as written: a data test of the int model fails the build instead (here, the count is made to say none)."""
    from zuora_wh import cli, input_files

    exports = tmp_path / "exports"
    _, run_path = write_demo_files(exports, bill_runs=10)
    _, rows = read_csv(run_path)
    changes, _ = REJECTED["duplicate_id_in_file"]
    case_rows = [run_row(posted_template(rows), **c) for c in changes]
    case_rows[1][LABEL["billing_run_number"]] = case_rows[0][LABEL["billing_run_number"]]
    write_csv(exports / "twice.csv", HEADER, case_rows)
    monkeypatch.setattr(input_files.Scan, "may_repeat_billing_run_ids", property(lambda self: False))
    assert cli.main(["--warehouse-dir", str(tmp_path / "wh"), "build", "--export-dir", str(exports)]) != 0
    out = capsys.readouterr()
    assert "int_zuora__billing_run_versions__keeps_the_values_as_written_of_rejected_rows_only" in out.out + out.err


@pytest.mark.parametrize("name", sorted(CLEANED))
def test_value_is_cleaned_and_loaded(bad_rows_build, name):
    _, expected = CLEANED[name]
    columns = ", ".join(expected)
    got = file_rows(
        bad_rows_build, f"select {columns} from marts.fct_billing_runs where _source_file = ?", f"clean_{name}.csv"
    )
    assert got == [tuple(expected.values())]
    rejects = file_rows(
        bad_rows_build,
        "select count(*) from audit.audit_billing_run_rejects where _source_file = ?",
        f"clean_{name}.csv",
    )
    assert rejects == [(0,)]


def test_duckdbs_trim_removes_the_rule_space_characters_and_nothing_else():
    """Staging trims text with DuckDB's trim() (default__zuora_trim), and Spark's is given the rule's list: the two
    agree only if DuckDB's trim() removes exactly the characters of the rule space_characters."""
    trimmed = {
        chr(code)
        for (code,) in duckdb.sql(
            "select code from range(1, 65536) t(code) "
            "where (code < 55296 or code > 57343) and length(trim(chr(code::int) || 'a' || chr(code::int))) = 1"
        ).fetchall()
    }
    assert trimmed == set(space_characters())


def test_exact_duplicate_in_one_file_is_one_bill_run(bad_rows_build):
    recon = file_rows(
        bad_rows_build,
        "select rows_read, rows_loaded, rows_rejected, rows_superseded from audit.audit_export_file_reconciliation "
        "where source_file = ?",
        "clean_exact_duplicate.csv",
    )
    assert recon == [(2, 1, 0, 1)]


def test_header_only_file_adds_nothing_and_is_counted(bad_rows_build):
    recon = file_rows(
        bad_rows_build,
        "select record_type, rows_read, rows_unaccounted from audit.audit_export_file_reconciliation "
        "where source_file = ?",
        "header_only.csv",
    )
    assert recon == [("billing_run", 0, 0)]


def test_every_row_of_every_file_is_accounted_for(bad_rows_build):
    recon = query(
        bad_rows_build["db"],
        "select sum(rows_read), sum(rows_unaccounted), count(*) "
        "from audit.audit_export_file_reconciliation where record_type = 'billing_run'",
    )
    cases = sum(len(c) for c, _ in REJECTED.values()) + len(CLEANED) + 4
    assert recon == [(bad_rows_build["runs"] + cases, 0, len(REJECTED) + len(CLEANED) + 4)]
    entity_recon = query(
        bad_rows_build["db"],
        "select sum(rows_read), sum(rows_rejected), sum(rows_unaccounted), count(*) "
        "from audit.audit_export_file_reconciliation where record_type = 'entity'",
    )
    entity_cases = sum(len(c) for c, _ in ENTITY_REJECTED.values())
    assert entity_recon == [(bad_rows_build["entities"] + entity_cases, entity_cases, 0, len(ENTITY_REJECTED) + 1)]


def test_two_ids_sharing_a_number_are_two_bill_runs_and_named(bad_rows_build):
    """A hand-edited or re-numbered export must not hold back the warehouse: both runs are kept (the ID is the
    key), the uniqueness test only warns, and the summary names the pair."""
    loaded = file_rows(
        bad_rows_build,
        "select billing_run_number, billing_run_id from marts.fct_billing_runs where _source_file = ? order by 2",
        "clean_shared_number.csv",
    )
    assert len(loaded) == 2 and loaded[0][0] == loaded[1][0]
    assert (
        f"warning: 1 bill run number(s) shared by several IDs, each kept as its own bill run: {loaded[0][0]} "
        f"({loaded[0][1]}, {loaded[1][1]})" in bad_rows_build["stdout"]
    )


def test_the_summary_names_numbers_shared_within_a_tenant_unless_the_build_found_none(tmp_path):
    """The summary names the numbers two IDs share within a tenant, as the warning test counts them: the same number
    in two tenants is no warning. After a build whose own run of that test passed, it does not look again (a scan of
    every number: 1 s at 10M bill runs): then it names none, even here, where the data was changed after the test."""
    db = copy_of_test_build(tmp_path)
    with duckdb.connect(str(db)) as con:
        number, first = con.execute(
            "select billing_run_number, billing_run_id from marts.fct_billing_runs order by 2 limit 1"
        ).fetchone()
        con.execute(  # the same number and ID in another tenant
            "insert into marts.fct_billing_runs by name select * replace ('other' as tenant) "
            "from marts.fct_billing_runs where billing_run_id = ?",
            [first],
        )
    results = tmp_path / "run_results.json"

    def ran(status: str) -> None:
        unique_id = f"test.zuora_billing_runs.{SHARED_NUMBERS_TEST}.971cac7986"
        results.write_text(json.dumps({"results": [{"unique_id": unique_id, "status": status}]}))

    warning = "bill run number(s) shared by several IDs"
    ran("warn")
    assert warning not in summary(db, results)  # one number in two tenants
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into marts.fct_billing_runs by name select * replace (? as billing_run_id) "
            "from marts.fct_billing_runs where billing_run_id = ? and tenant = 'default'",
            ["f" * 32, first],
        )
    assert f"warning: 1 {warning}, each kept as its own bill run: {number} ({first}, {'f' * 32})" in summary(
        db, results
    )
    assert f"{number} ({first}, {'f' * 32})" in summary(db)  # no dbt run to go by (python -m zuora_wh report)
    ran("pass")
    assert warning not in summary(db, results)


def test_warnings_are_shown_with_their_test(bad_rows_build):
    """The build's warn-level tests are not hidden with the per-test lines: the summary shows each, by its name."""
    log = next((bad_rows_build["db"].parent / "build").iterdir()) / "dbt-build.log"
    warned = [
        line.split("  ", 1)[1].strip() for line in log.read_text().splitlines() if " WARN " in line and " of " in line
    ]
    names = {line.split()[5] for line in warned}  # "78 of 123 WARN 3 <test name> ..."
    # the shared number (clean_shared_number.csv), the unknown entity, and the counts of runs processed without them
    assert names == {
        "fct_billing_runs__billing_run_number_is_unique_per_tenant",
        "fct_billing_runs__entity_id_is_in_dim_entities",
        "fct_billing_runs__number_of_accounts_is_set_once_the_run_is_processed",
        "fct_billing_runs__number_of_invoices_is_set_once_the_run_is_processed",
    }
    assert [line for line in warned if line not in bad_rows_build["stdout"]] == []


def test_build_prints_the_summary(bad_rows_build):
    out = bad_rows_build["stdout"]
    assert "rejected, by reason" in out and "duplicate_id_in_file 2" in out
    assert "1 with an unknown entity" in out


# ---------- file-level problems: exit 2, one line naming the file, nothing published


def _fresh_folder(tmp_path: Path) -> Path:
    exports = tmp_path / "exports"
    write_demo_files(exports, bill_runs=5)
    return exports


def _bom_latin1(folder: Path) -> Path:
    path = folder / "latin1.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\nBR-00000001,Regular,caf\xe9\n")
    return path


def _truncated(folder: Path) -> Path:
    _, rows = read_csv(folder / "zuora_billing_run_export.csv")
    path = folder / "cut_short.csv"
    text = ",".join(HEADER) + "\n" + ",".join(rows[0].values()) + "\n" + ",".join(list(rows[1].values())[:7])
    path.write_text(text)
    return path


def _missing(column: str, style: str = "label"):
    def make(folder: Path) -> Path:
        header = [h for h in headers(BILLING_RUN_EXPORT_FIELDS, style) if not h.endswith(column)]
        path = folder / f"no_{column.lower()}.csv"
        path.write_text(",".join(header) + "\n")
        return path

    return make


def _zip_without_csv(folder: Path) -> Path:
    path = folder / "export.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("README.txt", "no data here")
    return path


def _corrupt_zip(folder: Path) -> Path:
    path = folder / "broken.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    return path


def _cut_gzip(folder: Path) -> Path:
    import gzip

    whole = gzip.compress((folder / "zuora_billing_run_export.csv").read_bytes())
    path = folder / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _row_edit(change):
    """A maker of a copy of the bill-run export whose second row is edited by hand with ``change``."""

    def make(folder: Path) -> Path:
        lines = (folder / "zuora_billing_run_export.csv").read_text().split("\n")
        lines[2] = change(lines[2])
        path = folder / "edited.csv"
        path.write_text("\n".join(lines))
        return path

    return make


def _target_dates(*values: str):
    """A maker of a copy of the bill-run export whose first rows' Target Dates are ``values`` (a hand edit, or a
    spreadsheet's re-save)."""

    def make(folder: Path) -> Path:
        header, rows = read_csv(folder / "zuora_billing_run_export.csv")
        for row, value in zip(rows, values, strict=False):
            row["Billing Run: Target Date"] = value
        path = folder / "resaved.csv"
        write_csv(path, header, rows)
        return path

    return make


def _file(name: str, content: bytes):
    """A maker of the file ``name`` with ``content`` in the export folder."""

    def make(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return make


NOT_ZUORA = (
    "not a Zuora Billing Run or Entity export: none of its columns (Account Number, Name) is a field of the "
    "Billing Run data source, by label (Billing Run: Status) or API name (BillingRun.Status)"
)
FILE_ERRORS = {
    "empty_file": (_file("empty.csv", b""), "the file is empty (0 bytes); a valid export has at least its header line"),
    "binary_file": (
        _file("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00"),
        "not a text file (it holds binary data, at byte 8)",
    ),
    "not_a_zuora_export": (_file("accounts.csv", b"Account Number,Name\nA1,x\n"), NOT_ZUORA),
    "missing_status": (_missing("Status"), "a required column is missing: Billing Run: Status (BillingRun.Status)"),
    "missing_updated_date_api": (
        _missing("UpdatedDate", "api"),
        "a required column is missing: Billing Run: Updated Date (BillingRun.UpdatedDate)",
    ),
    "missing_id": (_missing(": ID"), "a required column is missing: Billing Run: ID (BillingRun.Id)"),
    "windows_code_page": (
        _bom_latin1,
        f"not UTF-8 text (line 2: invalid byte at offset {len(','.join(HEADER)) + 24}); "
        "a spreadsheet's 'CSV "
        "(Comma delimited)' writes the Windows code page: save it as 'CSV UTF-8 (Comma "
        "delimited)', or export it again from Zuora",
    ),
    "slash_dates_disagree": (
        _target_dates("25/01/2025", "01/02/2025", "01/25/2025"),
        "its dates disagree on the order of day and month: row 1 has Billing Run: Target Date "
        "25/01/2025 (day first) and row 3 has Billing Run: Target Date 01/25/2025 (month "
        "first); a file is written in one locale: export it again",
    ),
    "slash_dates_all_ambiguous": (
        _target_dates("01/02/2025", "03/04/2025"),
        "its 2 dates written with slashes (such as 01/02/2025 in row 1, Billing Run: Target "
        "Date) could be day first or month first, and none says which: set "
        "ZUORA_SLASH_DATE_ORDER=DMY (day first: en_GB, most of Europe) or "
        "ZUORA_SLASH_DATE_ORDER=MDY (month first: en_US) for this build",
    ),
    "two_digit_year": (
        _target_dates("2025-01-02", "1/25/25"),
        "row 2 has Billing Run: Target Date 1/25/25, a date with a two-digit year, as a spreadsheet "
        "writes dates when it saves a file again",
    ),
    "bill_runs_as_a_web_page": (
        _file("billing-runs.htm", b"<html><table></table></html>"),
        "its name says it holds bill runs, but it is a spreadsheet's Web Page file; save it "
        "from the spreadsheet as 'CSV UTF-8 (Comma delimited) (.csv)' or 'Excel Workbook "
        "(.xlsx)'",
    ),
    "bill_runs_as_a_binary_workbook": (
        _file("Billing Runs March.xlsb", b"PK\x03\x04"),
        "its name says it holds bill runs, but it is a spreadsheet's Excel Binary Workbook file",
    ),
    "bill_runs_in_an_unknown_format": (
        _file("billing_runs.numbers.bak", b"x"),
        "its name says it holds bill runs, but it is no format the build reads",
    ),
    "corrupt_xls": (_file("runs.xls", b"\xd0\xcf\x11\xe0 not a workbook"), "not a readable workbook ("),
    "truncated_last_line": (
        _truncated,
        "the last line is truncated (it has 7 of 22 fields and no line end); "
        "the download was probably cut short: export the file again",
    ),
    "zip_without_csv": (_zip_without_csv, "the ZIP holds no export file (.csv, .tsv, .dsv, .txt or .json)"),
    "corrupt_gzip": (_file("runs.csv.gz", b"\x1f\x8b this is not really gzip"), "not a readable gzip file ("),
    "cut_short_gzip": (_cut_gzip, "not a readable gzip file (Compressed file ended before the end-of-stream"),
    "corrupt_json": (
        _file("runs.json", b'[{"BillingRun.Id": "a", "BillingRun.Status": '),
        "not a readable JSON export (",
    ),
    "corrupt_xlsx": (_file("runs.xlsx", b"PK\x03\x04 not a workbook"), "not a readable workbook ("),
    "corrupt_zip": (_corrupt_zip, "not a readable ZIP file"),
    "row_with_an_extra_field": (
        _row_edit(lambda line: line.replace(",", ",,", 1)),
        "line 3 has 23 of the header's 22 fields (a delimiter or a line break inside an "
        "unquoted value?); fix that line, or export the file again",
    ),
    "carriage_return_in_an_unquoted_value": (
        _row_edit(lambda line: line.replace(",", "\r", 1)),
        "line 3 has 1 of the header's 22 fields",
    ),
    "duplicate_column": (
        _file("dup.csv", (",".join([*HEADER, "Billing Run: Status"]) + "\n").encode()),
        "the header names these columns more than once: Billing Run: Status",
    ),
}


def build_stops_with_one_line(tmp_path: Path, name: str, *args: str) -> None:
    """A build (with ``args``) of a fresh folder holding the broken file of FILE_ERRORS' case ``name`` exits 2 with
    one line naming the file and the problem, and no traceback. (make test-spark checks the same on Spark.)"""
    make, message = FILE_ERRORS[name]
    exports = _fresh_folder(tmp_path)
    bad = make(exports)
    result = zuora_wh("build", "--export-dir", str(exports), *args, warehouse=tmp_path / "wh")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: {bad}: {message}")


@pytest.mark.parametrize("name", sorted(FILE_ERRORS))
def test_file_level_problem_is_one_clear_line(tmp_path, name):
    build_stops_with_one_line(tmp_path, name)
    assert not (tmp_path / "wh" / "zuora.duckdb").exists(), "nothing is published"


def test_of_two_broken_files_the_oldest_is_named_and_a_mac_file_counts_its_lines(tmp_path):
    """The file check reads two files at a time, and still names the first broken file in the folder's order (the
    oldest); a file whose lines end in CR alone is counted by its CRs (files are checked without the build)."""
    from zuora_wh import input_files

    exports = _fresh_folder(tmp_path)
    binary, _ = FILE_ERRORS["binary_file"]
    older, newer = binary(exports), _bom_latin1(exports)
    for path, age in ((older, 200), (newer, 100)):
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - age))
    with pytest.raises(input_files.ExportError, match=f"^{re.escape(str(older))}: not a text file"):
        input_files.prepare(exports, tmp_path / "cache")
    os.utime(older, (older.stat().st_atime, newer.stat().st_mtime + 1))
    with pytest.raises(input_files.ExportError, match=f"^{re.escape(str(newer))}: not UTF-8 text \\(line 2:"):
        input_files.prepare(exports, tmp_path / "cache")
    newer.write_bytes(",".join(HEADER).encode() + b"\rBR-00000001,Regular,x\rBR-00000002,Regular,caf\xe9\r")
    older.unlink()
    with pytest.raises(input_files.ExportError, match=r"not UTF-8 text \(line 3:"):
        input_files.prepare(exports, tmp_path / "cache")


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 1 << 20])
def test_the_file_check_reads_utf8_across_its_chunks(tmp_path, monkeypatch, chunk):
    """The file check reads a file in chunks and decodes only the end of a chunk of ASCII alone: whatever the size of
    its chunks, a character cut by a chunk's end is whole, a lead byte followed by ASCII is refused, and so is a file
    that ends inside a character; the hash is of the whole content, and the tail is the file's end."""
    from zuora_wh import input_files

    monkeypatch.setattr(input_files, "CHUNK", chunk)
    monkeypatch.setattr(input_files, "TAIL", 5)
    text = "Id,Name\nx1,caf\u00e9 \u20ac\nx2,plain ascii\nx3,\u00fc\u00fc\n"
    good = tmp_path / "good.csv"
    good.write_bytes(text.encode())
    digest, tail = input_files._read_checked(good, "good.csv", False)
    assert (digest, tail) == (_hash_of(text.encode()), text[-5:])
    for content, error in (
        (b"Id,Name\nab\xc3cd,e\n", "not UTF-8 text (line 2: invalid byte at offset 10)"),
        (b"Id,Name\nab,\xe2\x82", "not UTF-8 text (the file ends inside a character)"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_bytes(content)
        with pytest.raises(input_files.ExportError, match=re.escape(f"bad.csv: {error}")):
            input_files._read_checked(bad, "bad.csv", False)


def _hash_of(content: bytes) -> str:
    from zuora_wh import input_files

    digest = input_files.content_hash()
    digest.update(content)
    return digest.hexdigest()


def test_slash_dates_follow_the_setting_only_where_the_file_is_silent(tmp_path):
    """ZUORA_SLASH_DATE_ORDER reads a file whose every slash date could be either way; it may not contradict a file
    that says its order."""
    make, _ = FILE_ERRORS["slash_dates_all_ambiguous"]
    exports = _fresh_folder(tmp_path)
    make(exports)
    result = zuora_wh(
        "build", "--export-dir", str(exports), warehouse=tmp_path / "wh", env={"ZUORA_SLASH_DATE_ORDER": "DMY"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dates = query(
        tmp_path / "wh" / "zuora.duckdb",
        "select target_date from marts.fct_billing_runs where _source_file like '%resaved.csv' "
        "and _source_row_number <= 2 order by _source_row_number",
    )
    assert [str(d) for (d,) in dates] == ["2025-02-01", "2025-04-03"]
    _target_dates("25/01/2025")(exports)
    result = zuora_wh(
        "build", "--export-dir", str(exports), warehouse=tmp_path / "wh", env={"ZUORA_SLASH_DATE_ORDER": "MDY"}
    )
    assert result.returncode == 2 and result.stderr.strip().endswith(
        "resaved.csv: ZUORA_SLASH_DATE_ORDER=MDY contradicts the file: row 1 has Billing Run: Target Date 25/01/2025, "
        "day first; the file says its order itself: remove the setting, or build this file on its own"
    )


def test_missing_folder_and_empty_folder(tmp_path):
    result = zuora_wh("build", "--export-dir", str(tmp_path / "nowhere"), warehouse=tmp_path / "wh")
    assert result.returncode == 2 and "no such folder" in result.stderr
    (tmp_path / "a-file.csv").write_text("x")
    result = zuora_wh("build", "--export-dir", str(tmp_path / "a-file.csv"), warehouse=tmp_path / "wh")
    assert result.returncode == 2 and "this is a file, not a folder" in result.stderr
    (tmp_path / "empty").mkdir()
    result = zuora_wh("build", "--export-dir", str(tmp_path / "empty"), warehouse=tmp_path / "wh")
    assert result.returncode == 2 and "no export file in this folder" in result.stderr
    (tmp_path / "empty" / "notes.txt").write_text("to do")
    result = zuora_wh("build", "--export-dir", str(tmp_path / "empty"), warehouse=tmp_path / "wh")
    assert result.returncode == 2 and result.stderr.strip().endswith("; found only: notes.txt")


def test_file_level_problem_leaves_the_last_good_warehouse(tmp_path):
    exports = _fresh_folder(tmp_path)
    good = zuora_wh("build", "--export-dir", str(exports), warehouse=tmp_path / "wh")
    assert good.returncode == 0, good.stderr[-2000:]
    served = tmp_path / "wh" / "zuora.duckdb"
    before = digest(served)
    _truncated(exports)
    result = zuora_wh("build", "--export-dir", str(exports), warehouse=tmp_path / "wh")
    assert result.returncode == 2
    assert digest(served) == before
    assert query(served, "select count(*) from marts.fct_billing_runs") == [(5,)]


def test_model_row_counts_are_what_the_docs_say(bad_rows_build):
    """Each model's description says what it holds; the counts of this build (re-exports, rejects, duplicates)
    agree: staging has a row per export row, the fact a row per distinct accepted bill run, and the
    reconciliation splits every row read into loaded, rejected and superseded."""
    db = bad_rows_build["db"]
    (staged,) = query(db, "select count(*) from staging.stg_zuora__billing_runs")[0]
    versions_sql = (
        "select count(*), count(distinct billing_run_id) filter (where _reject_reasons = '') "
        "from versions.staging.int_zuora__billing_run_versions"
    )
    (build_db,) = (db.parent / "build").glob("*/zuora.duckdb")  # the stored versions are the build's, not served
    (versions, accepted_ids) = query(build_db, versions_sql)[0]
    (runs,) = query(db, "select count(*) from marts.fct_billing_runs")[0]
    (rejects,) = query(db, "select count(*) from audit.audit_billing_run_rejects")[0]
    read, loaded, rejected, superseded = query(
        db,
        "select sum(rows_read), sum(rows_loaded), sum(rows_rejected), sum(rows_superseded) "
        "from audit.audit_export_file_reconciliation where record_type = 'billing_run'",
    )[0]
    assert staged == versions == read, "staging and the int model: one row per export row"
    assert runs == accepted_ids == loaded, "the fact: one row per distinct accepted bill run"
    assert rejects == rejected and superseded > 0
    assert read == loaded + rejected + superseded
    assert staged > runs, "staging has more rows than the fact when runs are re-exported or rejected"
    (entities,) = query(db, "select count(*) from marts.dim_entities")[0]
    (entity_loaded,) = query(
        db, "select sum(rows_loaded) from audit.audit_export_file_reconciliation where record_type = 'entity'"
    )[0]
    assert entities == entity_loaded
