"""Real-export mode: every file variant Zuora (or a user) produces builds the right warehouse.

Each test writes a small folder of exports with the generator, builds it with ``python -m zuora_wh build``
into a throw-away warehouse, and checks the published mart.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zipfile
from pathlib import Path

import duckdb
import pytest
from helpers import MART_KEYS, REFERENCE_ONLY, mart_rows, memory_limit_set, query, read_csv, write_csv, zuora_wh

from zuora_wh.columns import BILLING_RUN_EXPORT_FIELDS, deleted_column, headers
from zuora_wh.generate import write_demo_files, write_demo_reexport
from zuora_wh.sql import quote_string
from zuora_wh.warehouse import memory_limit, versions_db

RUNS = 300


def build(export_dir: Path, warehouse: Path, *extra: str):
    result = zuora_wh("build", "--export-dir", str(export_dir), *extra, warehouse=warehouse)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def reference_build(tmp_path_factory) -> Path:
    """One plain label-header export (exports/) built into warehouse/."""
    root = tmp_path_factory.mktemp("reference")
    write_demo_files(root / "exports", bill_runs=RUNS)
    build(root / "exports", root / "warehouse")
    return root


@pytest.fixture(scope="module")
def reference(reference_build):
    """The mart built from one plain label-header export: what every variant must equal."""
    return mart_rows(reference_build / "warehouse"), mart_rows(reference_build / "warehouse", "dim_entities")


def test_reference_holds_every_bill_run(reference):
    runs, entities = reference
    assert len(runs) == RUNS and len(entities) == 4


def test_dbt_is_given_the_memory_limit_of_the_rows_of_the_files(reference_build):
    """The build decides DuckDB's memory limit from the rows the file check counted (warehouse.memory_limit: a small
    folder gets the least) and dbt's on-run-start sets it."""
    (build_folder,) = (reference_build / "warehouse" / "build").iterdir()
    assert memory_limit_set(build_folder) == memory_limit(RUNS + 4) == "1000MB"


def test_combined_ui_file_alone_builds_the_warehouse(tmp_path, reference):
    write_demo_files(tmp_path / "exports", bill_runs=RUNS, combined=True)
    build(tmp_path / "exports", tmp_path / "wh")
    assert mart_rows(tmp_path / "wh") == reference[0]
    # Entities come from the combined file: the four entities the runs reference.
    assert mart_rows(tmp_path / "wh", "dim_entities") == reference[1]


def test_overlapping_reexports_latest_updated_date_wins(tmp_path, reference):
    paths = write_demo_files(tmp_path / "exports", bill_runs=RUNS, files=3, overlap=0.3)
    build(tmp_path / "exports", tmp_path / "wh")
    runs = mart_rows(tmp_path / "wh")
    assert len(runs) == RUNS
    staged = query(tmp_path / "wh" / "zuora.duckdb", "select count(*) from staging.stg_zuora__billing_runs")[0][0]
    assert staged > RUNS, "the re-exported rows are staged, then collapse to one per bill run"
    by_id = {r[0]: r for r in runs}
    again = read_csv(paths[2])[1][0]  # first row of file 2: a re-export of a run of file 1
    winner = by_id[again["Billing Run: ID"]]
    # The winner is the re-exported version: later than the run's only version in the reference build.
    ref = {r[0]: r for r in reference[0]}
    assert winner[13] > ref[winner[0]][13]  # updated_at


def test_which_version_wins_a_tie_and_a_late_copy_of_an_old_export(tmp_path):
    """Two versions with the same Updated Date: the newer file's wins. Then an incremental build writes again the
    runs of the files it loads, from all of their versions: a file that arrives later with an older version of a
    run (an old export copied in late) leaves the newer version in place, as a fresh build of the folder would. A
    new file dated before files already loaded makes a rebuild, so that the order of files stays a fresh build's."""
    exports = tmp_path / "exports"
    _, run_path = write_demo_files(exports, bill_runs=20)
    header, rows = read_csv(run_path)
    tied = [dict(r, **{"Billing Run: Name": "from the newer file"}) for r in rows[:3]]
    newer = exports / "later_export.csv"
    write_csv(newer, header, tied)
    stat = run_path.stat()
    os.utime(newer, (stat.st_atime + 60, stat.st_mtime + 60))
    build(exports, tmp_path / "wh")
    db = tmp_path / "wh" / "zuora.duckdb"
    names = dict(query(db, "select billing_run_id, billing_run_name from marts.fct_billing_runs"))
    assert all(names[r["Billing Run: ID"]] == "from the newer file" for r in rows[:3])
    run = next(r for r in rows[3:] if r["Billing Run: Status"] == "Posted")
    # the same run as it was when it had just been created: Pending, updated when it was created, nothing counted
    pending = {"Status": "Pending", "Name": "older", "Updated Date": run["Billing Run: Created Date"]}
    not_yet = ("Executed Date", "Start Date", "End Date", "Posted Date", "Total Time", "Number Of Accounts")
    pending |= {name: "" for name in (*not_yet, "Number Of Invoices", "Number of Credit Memos")}
    older = dict(run, **{"Billing Run: " + name: value for name, value in pending.items()})
    late_copy = exports / "late_copy_of_an_old_export.csv"
    write_csv(late_copy, header, [older])
    os.utime(late_copy, (stat.st_atime + 120, stat.st_mtime + 120))  # copied in after the others
    result = build(exports, tmp_path / "wh")
    assert "1 to load" in result.stdout and "rebuilding" not in result.stdout  # incremental
    sql = "select billing_run_name, _source_file from marts.fct_billing_runs where billing_run_id = ?"
    assert query(db, sql, [run["Billing Run: ID"]]) == [(run["Billing Run: Name"] or None, str(run_path))]
    superseded = query(
        db,
        "select rows_superseded from audit.audit_export_file_reconciliation where source_file like '%late_copy%'",
    )
    assert superseded == [(1,)]
    # a copy that kept an old date, with other values at the same Updated Dates: it comes before files the last build
    # loaded, so the build starts again from every file, and the newest file still wins the tie
    old_copy = exports / "old_copy.csv"
    write_csv(old_copy, header, [dict(r, **{"Billing Run: Name": "from an old copy"}) for r in rows[:3]])
    os.utime(old_copy, (stat.st_atime - 60, stat.st_mtime - 60))
    result = build(exports, tmp_path / "wh")
    assert f"1 new file(s) older than files the last build loaded ({old_copy}): rebuilding" in result.stdout
    names = dict(query(db, "select billing_run_id, billing_run_name from marts.fct_billing_runs"))
    assert all(names[r["Billing Run: ID"]] == "from the newer file" for r in rows[:3])


def test_missing_optional_columns_become_nulls(tmp_path):
    exports = tmp_path / "exports"
    entity_path, run_path = write_demo_files(exports, bill_runs=40)
    entity_path.unlink()  # no Multi-entity: no Entity export at all
    header, rows = read_csv(run_path)
    dropped = ("Billing Run: Number of Credit Memos", "Entity: ID")
    keep = [h for h in header if h not in dropped]
    write_csv(run_path, keep, [{h: r[h] for h in keep} for r in rows])
    build(exports, tmp_path / "wh")
    db = tmp_path / "wh" / "zuora.duckdb"
    assert query(
        db, "select count(*), count(number_of_credit_memos), count(entity_id) from marts.fct_billing_runs"
    ) == [(40, 0, 0)]
    assert query(db, "select count(*) from marts.dim_entities") == [(0,)]


def test_incremental_builds_always_equal_a_fresh_build_of_the_folder(tmp_path):
    """One export folder through its life, built incrementally into one warehouse, compared at each step with a
    build from scratch:
    1. a re-export, and a later Entity export with one entity renamed (its runs follow): only the two new files
       are loaded, and the mart equals a full refresh;
    2. both deleted again: a rebuild from every file, back to the start;
    3. a file replaced under the same name by a shorter export: a rebuild, and only its new content counts;
    4. an entity gone from the entity export (replaced under the same name): a rebuild too, and the entity's runs
       keep their entity ID, flagged has_unknown_entity;
    5. a re-export alone: an incremental build that builds neither the views nor the seeds (nor the table of one)
       nor the entities again (the project and the Entity exports are as the last build left them), and the mart
       equals a fresh build."""
    exports, wh = tmp_path / "exports", tmp_path / "wh"
    write_demo_files(exports, bill_runs=RUNS, files=2, overlap=0.2)
    build(exports, wh)
    start = mart_rows(wh)
    # 1.
    reexport = write_demo_reexport(exports, RUNS, share=0.1, new_runs=15)
    entity_file = exports / "zuora_entity_export.csv"
    header, rows = read_csv(entity_file)
    rows[1]["Entity: Display Name"] = "Acme Inc. (renamed)"
    rows[1]["Entity: Updated Date"] = "2026-11-01T10:00:00-07:00"
    later_entities = exports / "zuora_entity_export_later.csv"
    write_csv(later_entities, header, rows[1:2])
    assert "2 to load" in build(exports, wh).stdout
    build(exports, tmp_path / "full", *REFERENCE_ONLY)
    incremental = mart_rows(wh)
    assert incremental == mart_rows(tmp_path / "full") and len(incremental) == RUNS + 15
    assert mart_rows(wh, "fct_billing_run_daily") == mart_rows(tmp_path / "full", "fct_billing_run_daily")
    assert any(r[23] == "Acme Inc. (renamed)" for r in incremental)
    # 2.
    reexport.unlink()
    later_entities.unlink()
    result = build(exports, wh)
    assert "files the last build loaded were 2 removed (" in result.stdout
    assert "rebuilding from every file" in result.stdout
    assert mart_rows(wh) == start
    # 3.
    first = sorted(exports.glob("zuora_billing_run_export*.csv"))[0]
    header, rows = read_csv(first)
    write_csv(first, header, rows[:-10])
    result = build(exports, wh)
    assert f"were 1 changed in content ({first}): rebuilding from every file" in result.stdout
    # 4.
    header, rows = read_csv(entity_file)
    gone = rows[1]["Entity: ID"]
    write_csv(entity_file, header, [r for r in rows if r["Entity: ID"] != gone])
    assert f"were 1 changed in content ({entity_file}): rebuilding from every file" in build(exports, wh).stdout
    flagged = query(
        wh / "zuora.duckdb",
        "select count(*), bool_and(has_unknown_entity), count(entity_name) "
        f"from marts.fct_billing_runs where entity_id = '{gone}'",
    )
    assert flagged[0][0] > 0 and flagged[0][1] is True and flagged[0][2] == 0
    # 5.
    write_demo_reexport(exports, RUNS, share=0.05, new_runs=5, name="zuora_billing_run_export_later.csv")
    assert "1 to load" in build(exports, wh).stdout
    run_results = next((wh / "build").iterdir()) / "target" / "run_results.json"
    ran = {r["unique_id"].split(".")[-1] for r in json.loads(run_results.read_text())["results"]}
    assert "fct_billing_runs" in ran and "int_zuora__billing_run_versions" in ran
    assert not ran & {
        "stg_zuora__billing_runs",
        "zuora_reject_reasons",
        "audit_reject_reasons",
        "dim_entities",
        "int_zuora__entity_versions",
    }
    # step 5, incremental, equals a build from scratch
    build(exports, tmp_path / "fresh", *REFERENCE_ONLY)
    assert mart_rows(wh) == mart_rows(tmp_path / "fresh")
    assert mart_rows(wh, "dim_entities") == mart_rows(tmp_path / "fresh", "dim_entities")
    assert mart_rows(wh, "fct_billing_run_daily") == mart_rows(tmp_path / "fresh", "fct_billing_run_daily")


def test_runs_deleted_by_an_incremental_build_leave_the_daily_mart_as_a_fresh_build_does(tmp_path):
    """Zuora deletes Canceled and Error runs (then they vanish; an AQuA export with deleted records says so). An
    incremental build that loads deletion records for some of a folder's runs, then for all the rest, leaves the
    daily mart as a fresh build of the same files: the days of the deleted runs counted again, and a tenant without
    runs left with no day at all."""
    exports, wh = tmp_path / "exports", tmp_path / "wh"
    _, run_file = write_demo_files(exports, bill_runs=RUNS)
    header, rows = read_csv(run_file)
    removable = [r for r in rows if r["Billing Run: Status"] in ("Canceled", "Error")]
    write_csv(run_file, header, removable)
    build(exports, wh)
    assert query(wh / "zuora.duckdb", "select sum(bill_runs) from marts.fct_billing_run_daily") == [(len(removable),)]

    def deleted(name: str, gone: list[dict]) -> None:
        later = "2026-11-20T10:00:00-08:00"
        records = [{"Billing Run: ID": r["Billing Run: ID"], "Billing Run: Updated Date": later} for r in gone]
        write_csv(exports / name, [*header, deleted_column()], [r | {deleted_column(): "true"} for r in records])

    left = len(removable)
    for step, gone in enumerate([removable[:5], removable[5:]]):
        deleted(f"zuora_billing_run_export_deleted_{step}.csv", gone)
        build(exports, wh)
        build(exports, tmp_path / f"fresh-{step}", *REFERENCE_ONLY)
        daily, left = mart_rows(wh, "fct_billing_run_daily"), left - len(gone)
        assert daily == mart_rows(tmp_path / f"fresh-{step}", "fct_billing_run_daily")
        assert sum(row[4] for row in daily) == left  # bill_runs
    assert daily == [] and left == 0


def test_an_incremental_build_tests_the_rows_it_wrote(tmp_path):
    """An incremental build of the same project and settings runs the tests of the stamped marts on the rows it
    wrote (macro get_where_subquery), and still catches what is wrong with them. A row it did not write is not
    tested again (an old row broken here by hand, in the build file, shows it), but a warning that found rows the
    last time it ran reads every row, so that every build reports it; the build after a failed one tests every row.
    The quarantine is off (and the same in every build), so that broken rows reach the mart. (A unique test's keys
    written now, counted across every row: test_data_tests_fail.py.)"""
    exports, wh = tmp_path / "exports", tmp_path / "wh"
    quarantine_off = ("--", "--vars", "{zuora_quarantine: false}")
    write_demo_files(exports, bill_runs=40)
    build(exports, wh, *quarantine_off)
    db = next((wh / "build").iterdir()) / "zuora.duckdb"
    (shared,), (broken,) = query(db, "select billing_run_number from marts.fct_billing_runs limit 2")
    with duckdb.connect(str(db)) as con:  # an old row, broken after it was tested: an error's rule and a warning's
        con.execute(
            "update marts.fct_billing_runs set billing_run_number = 'BR-123', target_type = 'SomeAccounts' "
            "where billing_run_number = ?",
            [broken],
        )
    pattern_test = "fct_billing_runs__billing_run_number_is_br_and_eight_digits"

    def new_run(name: str, run_id: str, number: str) -> None:
        header, rows = read_csv(next(exports.glob("zuora_billing_run_export*.csv")))
        new = {"Billing Run: ID": run_id, "Billing Run: Billing Run Number": number}
        write_csv(exports / name, header, [rows[0] | new | {"Billing Run: Updated Date": "2026-11-20T10:00:00-08:00"}])

    def outcome(test: str) -> tuple[str, int]:
        results = json.loads((db.parent / "target" / "run_results.json").read_text())["results"]
        found = next(r for r in results if r["unique_id"].split(".")[2] == test)
        return found["status"], found["failures"]

    shared_test, target_type_test = (
        "fct_billing_runs__billing_run_number_is_unique_per_tenant",
        "fct_billing_runs__target_type_is_a_known_target_type",
    )
    # a new run that shares an old run's number: a warning, found by the number written now
    new_run("zuora_billing_run_export_later.csv", "e" * 32, shared)
    assert "look at the rows this build writes" in build(exports, wh, *quarantine_off).stdout
    assert outcome(shared_test) == ("warn", 1)
    assert outcome(target_type_test) == ("pass", 0)  # the old broken row is not tested again, for a warning ...
    assert outcome(pattern_test) == ("pass", 0)  # ... or for an error
    # a new run with nothing wrong: the warning found in the last build reads every row, and says so again
    new_run("zuora_billing_run_export_later_still.csv", "d" * 32, "BR-99999999")
    said = build(exports, wh, *quarantine_off).stdout
    assert f"the warnings found before read every row: {shared_test}" in said, said
    assert outcome(shared_test) == ("warn", 1)  # both runs of the pair are old rows now
    assert outcome(target_type_test) == ("pass", 0)
    # a new run whose number is no Zuora number: caught among the rows written now
    new_run("zuora_billing_run_export_latest.csv", "f" * 32, "BR-124")
    failed = zuora_wh("build", "--export-dir", str(exports), *quarantine_off, warehouse=wh)
    assert failed.returncode != 0 and f"{pattern_test} (fail)" in failed.stderr
    assert outcome(pattern_test) == ("fail", 1)
    # after a failed build, every row: the old broken row too
    again = zuora_wh("build", "--export-dir", str(exports), *quarantine_off, warehouse=wh)
    assert again.returncode != 0 and "look at the rows this build writes" not in again.stdout
    assert outcome(pattern_test) == ("fail", 2)
    assert outcome(target_type_test) == ("warn", 1)


def test_a_warning_is_remembered_until_it_runs_again_and_finds_nothing(tmp_path):
    """The warnings that found rows the last time they ran (build.still_warning, kept in built.json): one that ran and
    warned is added; one that ran and passed is dropped; one that did not run (its model left out) is kept; a
    model's own result is no warning. A dbt run that wrote no results (an older file is left, or none) tells
    nothing (build.results_since): the build then records no successful build, so that the next one tests every
    row."""
    from zuora_wh.build import results_since, still_warning

    def result(kind: str, name: str, status: str) -> dict:
        return {"unique_id": f"{kind}.zuora_billing_runs.{name}", "status": status}

    run_results = tmp_path / "run_results.json"
    results = [
        result("test", "warns_now", "warn"),
        result("test", "warned_then_passes", "pass"),
        result("test", "errors_pass", "pass"),
        result("model", "a_model", "success"),
        result("test", "skipped", "skipped"),
    ]
    run_results.write_text(json.dumps({"results": results}))
    before = ["warned_then_passes", "left_out", "skipped"]
    written = run_results.stat().st_mtime
    assert results_since(run_results, written) == results
    assert still_warning(before, results) == ["left_out", "skipped", "warns_now"]
    assert still_warning([], results) == ["warns_now"]
    assert results_since(run_results, written + 1) is None
    run_results.unlink()
    assert results_since(run_results, written) is None


def test_a_spark_builds_record_of_loaded_files_tells_what_changed(tmp_path):
    """A Spark build keeps what it loaded in a JSON file (the command cannot read Spark's metastore): read back, it
    tells new, changed and removed files as the DuckDB build's table does; a damaged record means every file is
    loaded again (make test-spark runs the incremental Spark build itself)."""
    from zuora_wh import input_files, loaded_files

    entity, runs = write_demo_files(tmp_path / "exports", bill_runs=20)
    record = tmp_path / "export_files_loaded.json"
    files, _ = input_files.prepare(tmp_path / "exports", tmp_path / "cache")
    loaded_files.record_json(record, files)
    loaded = loaded_files.read_record_json(record)
    assert loaded_files.changes(loaded, files).unchanged == 2
    reexport = write_demo_reexport(tmp_path / "exports", bill_runs=20, share=0.5)
    runs.write_text(runs.read_text().replace("Posted", "Completed", 1))
    entity.unlink()
    files, _ = input_files.prepare(tmp_path / "exports", tmp_path / "cache", known=loaded)
    diff = loaded_files.changes(loaded, files)
    assert (diff.new, diff.changed, diff.removed) == ([str(reexport)], [str(runs)], [str(entity)])
    assert diff.stale() == [str(runs), str(entity)], "a changed or removed file, bill runs or entities: a full refresh"
    record.write_text("{not json")
    assert loaded_files.read_record_json(record) == {}


def test_a_file_a_failed_build_began_to_load_then_changed_makes_a_full_refresh(tmp_path):
    """Files that the last build began to load and did not finish (``loaded_files.unfinished``): the build's record
    of what it laid its raw layer over, against the last successful build's and the folder now. A file loaded as the
    successful build loaded it, or begun and unchanged since (a build killed, then run again), is no reason to
    rebuild; begun, then changed or removed, it is: the failed build may have written its rows of then."""
    from zuora_wh import input_files, loaded_files

    exports = tmp_path / "exports"
    _, runs = write_demo_files(exports, bill_runs=20)
    loaded_record, attempt = tmp_path / "loaded.json", tmp_path / "attempt.json"
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    loaded_files.record_json(loaded_record, files)
    later = write_demo_reexport(exports, bill_runs=20, share=0.5, name="zuora_billing_run_export_later.csv")
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    loaded_files.record_json(attempt, files)  # the build that began to load the re-export, and failed
    loaded, attempted = loaded_files.read_record_json(loaded_record), loaded_files.read_record_json(attempt)
    assert loaded_files.unfinished(attempted, loaded, files) == []  # run again as it was: no reason to rebuild
    assert loaded_files.unfinished(loaded, loaded, files) == []  # the last build succeeded
    later.write_text(later.read_text().replace("Posted", "Completed", 1))
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    assert loaded_files.unfinished(attempted, loaded, files) == [str(later)]
    later.unlink()
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    assert loaded_files.unfinished(attempted, loaded, files) == [str(later)]
    runs.write_text(runs.read_text().replace("Posted", "Completed", 1))  # loaded by the successful build: stale
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    assert loaded_files.unfinished(attempted, loaded, files) == [str(later)]


def test_a_spark_build_records_what_it_began_with(tmp_path, capsys):
    """A Spark build writes what it lays its raw layer over into its folder before dbt runs (the DuckDB build: the
    table raw.export_files), and the next build reads it back: a file begun and changed since is a full refresh on
    Spark too (make test-spark runs the Spark builds themselves)."""
    from zuora_wh import build as build_module

    exports = tmp_path / "exports"
    _, runs = write_demo_files(exports, bill_runs=20)
    build_db = tmp_path / "build" / "zuora.duckdb"
    (tmp_path / "build" / "spark").mkdir(parents=True)
    plan = build_module.plan_files(exports, tmp_path / "cache", {}, False)
    build_module.lay_raw_layer(build_db, exports, plan, spark=True)
    loaded, attempted = build_module.records(build_db, spark=True)
    assert loaded == {}  # no Spark build succeeded yet
    assert sorted(attempted) == sorted(ef.display_name for ef in plan.files)
    assert not build_module.plan_files(exports, tmp_path / "cache", {}, False, attempted).full_refresh
    runs.write_text(runs.read_text().replace("Posted", "Completed", 1))
    capsys.readouterr()
    assert build_module.plan_files(exports, tmp_path / "cache", {}, False, attempted).full_refresh
    assert f"did not finish were changed or removed since ({runs})" in capsys.readouterr().out


def test_a_file_corrected_after_a_failed_build_is_rebuilt(tmp_path):
    """A new file whose run fails an error-severity test (the quarantine off): the failed build wrote the run into
    the fact, and nothing was published. Corrected, the file is no longer that run's: the next build rebuilds from
    every file, so the run it no longer holds leaves the fact and the build passes (before, it stayed and every
    later build failed until a --full-refresh)."""
    exports, wh = tmp_path / "exports", tmp_path / "wh"
    quarantine_off = ("--", "--vars", "{zuora_quarantine: false}")
    _, runs = write_demo_files(exports, bill_runs=40)
    build(exports, wh, *quarantine_off)
    header, rows = read_csv(runs)
    later = exports / "zuora_billing_run_export_later.csv"
    write_csv(later, header, [rows[0] | {"Billing Run: ID": "not-an-id", "Billing Run: Billing Run Number": "BR-99"}])
    failed = zuora_wh("build", "--export-dir", str(exports), *quarantine_off, warehouse=wh)
    assert failed.returncode != 0 and "nothing was published" in failed.stderr
    write_csv(
        later, header, [rows[0] | {"Billing Run: ID": "f" * 32, "Billing Run: Billing Run Number": "BR-00000099"}]
    )
    result = build(exports, wh, *quarantine_off)
    assert "that the last build began to load and did not finish were changed or removed since" in result.stdout
    ids = query(
        wh / "zuora.duckdb",
        "select billing_run_id from marts.fct_billing_runs where billing_run_id in (?, ?)",
        ["not-an-id", "f" * 32],
    )
    assert ids == [("f" * 32,)]


def test_a_build_whose_stored_versions_are_gone_rebuilds_from_every_file(tmp_path):
    """The stored versions (the int models) are in a file of their own beside the build file, which publishing does
    not copy (``zuora_wh.warehouse.versions_db``). A build file of the earlier layout held them itself, and so did the
    served file; a versions file removed by hand holds none. Either way the next build has no versions to add to: it
    says so and rebuilds from every file, the old tables leave the build file and the served file, and the warehouse
    equals a fresh build of the folder."""
    exports, wh = tmp_path / "exports", tmp_path / "wh"
    write_demo_files(exports, bill_runs=RUNS, files=2, overlap=0.2)
    build(exports, wh)
    (build_db,) = (wh / "build").glob("*/zuora.duckdb")
    versions = versions_db(build_db)
    with duckdb.connect(str(build_db)) as con:  # the earlier layout: the stored versions in the build file
        con.execute(f"attach {quote_string(str(versions))} as versions")
        for table in ("int_zuora__billing_run_versions", "int_zuora__entity_versions"):
            con.execute(f"create table staging.{table} as from versions.staging.{table}")
    versions.unlink()
    write_demo_reexport(exports, RUNS, share=0.1, new_runs=15)
    result = build(exports, wh)
    assert (
        "exports: the stored versions of the files the last build loaded are missing (zuora.duckdb.versions): "
        "rebuilding from every file"
    ) in result.stdout
    assert "upgraded the build file: 2 tables renamed (CHANGELOG)" in result.stdout
    build(exports, tmp_path / "fresh", *REFERENCE_ONLY)
    for model in MART_KEYS:
        assert mart_rows(wh, model) == mart_rows(tmp_path / "fresh", model)
    reconciliation = "select * from audit.audit_export_file_reconciliation order by source_file, record_type"
    assert query(wh / "zuora.duckdb", reconciliation) == query(tmp_path / "fresh" / "zuora.duckdb", reconciliation)
    in_the_file = (
        "select count(*) from duckdb_tables() where database_name = current_database() and table_name like 'int%'"
    )
    assert query(build_db, in_the_file) == query(wh / "zuora.duckdb", in_the_file) == [(0,)]
    stored = "select count(distinct _source_file) from versions.staging.int_zuora__billing_run_versions"
    assert query(build_db, stored) == [(3,)]


def test_an_unchanged_file_copied_or_touched_is_not_loaded_again(reference_build, reference, tmp_path):
    """Changes are told by content: a file copied over itself, or touched, is the same export."""
    exports, warehouse = reference_build / "exports", reference_build / "warehouse"
    run_path = next(exports.glob("zuora_billing_run_export*.csv"))
    os.utime(run_path, (run_path.stat().st_atime + 120, run_path.stat().st_mtime + 120))
    copy = tmp_path / "copy.csv"
    copy.write_bytes((exports / "zuora_entity_export.csv").read_bytes())
    copy.replace(exports / "zuora_entity_export.csv")
    result = build(exports, warehouse)
    assert "0 to load, 2 unchanged since the last build" in result.stdout
    assert "rebuilding" not in result.stdout
    assert (mart_rows(warehouse), mart_rows(warehouse, "dim_entities")) == reference


# ---------- every format Zuora writes, read all the way through to the mart


def _write_delimited(path: Path, header: list[str], rows: list[dict[str, str]], delimiter: str) -> None:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _write_json(path: Path, header: list[str], rows: list[dict[str, str]], lines: bool) -> None:
    """As Data Query writes JSON: nulls as null, counts as numbers, text as strings; API-name keys."""
    import gzip
    import json

    api = dict(zip(header, headers(BILLING_RUN_EXPORT_FIELDS, "api"), strict=True))
    counts = {f.header_label for f in BILLING_RUN_EXPORT_FIELDS if f.kind == "integer"}

    def value(h: str, v: str):
        return None if v == "" else int(v) if h in counts and v.lstrip("-").isdigit() else v

    records = [{api[h]: value(h, r[h]) for h in header} for r in rows]
    text = "\n".join(json.dumps(r) for r in records) + "\n" if lines else json.dumps(records, indent=1)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write(text)


def _write_xlsx(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(str(path)) as workbook:
        sheet = workbook.add_worksheet("Billing Run")
        sheet.write_row(0, 0, header)
        for i, r in enumerate(rows, start=1):
            for j, h in enumerate(header):
                if r[h] != "":
                    sheet.write_string(i, j, r[h])


def _write_zip(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    inner = path.with_name("zip_member.tsv")
    _write_delimited(inner, header, rows, "\t")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(inner, "export/billing_runs.tsv")
        z.writestr("export/README.txt", "what this export holds")
    inner.unlink()


def _write_api_names(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """API names as headers (AQuA with useQueryLabels, Export ZOQL), in another column order."""
    api = dict(zip(header, headers(BILLING_RUN_EXPORT_FIELDS, "api"), strict=True))
    order = list(reversed(header))
    write_csv(path, [api[h] for h in order], [{api[h]: r[h] for h in order} for r in rows])


def _write_bom_zip(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """A CSV with a byte-order mark, inside a ZIP (the UI's "CSV in a ZIP")."""
    inner = path.with_name("bom_member.csv")
    write_csv(inner, header, rows)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("export/runs.csv", b"\xef\xbb\xbf" + inner.read_bytes())
    inner.unlink()


def _write_extra_columns(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Columns that are no fields of the data source, beside the fields: ignored, and named in a warning."""
    write_csv(
        path,
        [*header, "Account: Name", "Custom__c"],
        [dict(r, **{"Account: Name": "x", "Custom__c": "y"}) for r in rows],
    )


# ---------- what a spreadsheet writes when a person opens an export and saves it again (Microsoft: "File formats that
# are supported in Excel", "Excel formatting and features that are not transferred to other file formats": text
# formats save values "as they are displayed", so dates in the locale's short format; LibreOffice and Google Sheets
# write the same kinds of files)

ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _as_displayed(value: str, locale: str) -> str:
    """A value as a spreadsheet in ``locale`` displays it, and so saves it: an ISO date (a Target Date, or a datetime
    that Zuora wrote as a bare date at midnight) in the locale's short date; anything else (a datetime with an
    offset is text to a spreadsheet) as it was."""
    found = ISO_DATE.fullmatch(value)
    if not found:
        return value
    year, month, day = found.groups()
    return f"{int(month)}/{int(day)}/{year}" if locale == "en_US" else f"{day}/{month}/{year}"


def _resaved(header: list[str], rows: list[dict[str, str]], locale: str) -> list[dict[str, str]]:
    out = [{h: _as_displayed(r[h], locale) for h in header} for r in rows]
    first = 0 if locale == "en_GB" else 1
    # the file's order must show: a day or a month above 12 somewhere (the writer of this test data makes sure)
    assert any(int(v.split("/")[first]) > 12 for r in out for v in r.values() if re.fullmatch(r"\d+/\d+/\d{4}", v))
    return out


def _write_excel_uk(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Excel in an en_GB locale, "CSV UTF-8 (Comma delimited)": a byte-order mark, CRLF, day-first dates; and what
    the sheet leaves: two formatted but empty columns at the end (no name), two rows of delimiters only."""
    width = len(header) + 2
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow([*header, "", ""])
        writer.writerows([*(r[h] for h in header), "", ""] for r in _resaved(header, rows, "en_GB"))
        writer.writerows([[""] * width] * 2)


def _write_excel_us(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Excel in an en_US locale, "CSV (Comma delimited)": month-first dates without leading zeros, CRLF."""
    write_csv(path, header, _resaved(header, rows, "en_US"), lineterminator="\r\n")


def _write_mac(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Excel for Mac, "CSV (Macintosh)": lines end in a carriage return alone."""
    write_csv(path, header, rows, lineterminator="\r")


def _write_tab_text(path: Path, header: list[str], rows: list[dict[str, str]], encoding: str = "utf-8") -> None:
    """Excel's "Text (Tab delimited)" (.txt), or with ``utf-16`` its "Unicode Text" (UTF-16 with a byte-order mark)."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter="\t", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def _write_xls(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """ "Excel 97-2003 Workbook" (.xls): text cells, and the Target Date as a real date cell, as Excel keeps a date."""
    import datetime as dt

    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Billing Run")
    as_date = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for j, h in enumerate(header):
        sheet.write(0, j, h)
    for i, r in enumerate(rows, start=1):
        for j, h in enumerate(header):
            if h == "Billing Run: Target Date" and r[h]:
                sheet.write(i, j, dt.date.fromisoformat(r[h]), as_date)
            elif r[h] != "":
                sheet.write(i, j, r[h])
    book.save(str(path))


def _write_ods(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """LibreOffice's and Google Sheets' "OpenDocument Spreadsheet" (.ods): text cells, the Target Date a date cell."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Billing Run")
    for values in [{h: h for h in header}, *rows]:
        tr = TableRow()
        for h in header:
            v = values[h]
            if values is not rows and h == "Billing Run: Target Date" and v and values[h] != h:
                cell = TableCell(valuetype="date", datevalue=v)
            else:
                cell = TableCell(valuetype="string") if v else TableCell()
            if v:
                cell.addElement(P(text=v))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))


# file name -> (how it is written, the format the build reports)
FORMAT_FILES = {
    "runs_excel_uk.csv": (_write_excel_uk, "CSV, comma"),
    "runs_excel_us.csv": (_write_excel_us, "CSV, comma"),
    "runs_excel_mac.csv": (_write_mac, "CSV, comma"),
    "runs_excel_tab.txt": (_write_tab_text, "Text, tab"),
    "runs_excel_unicode.txt": (lambda p, h, r: _write_tab_text(p, h, r, "utf-16"), "Text, UTF-16, tab"),
    "runs_excel_97.xls": (_write_xls, "Excel 97-2003"),
    "runs_calc.ods": (_write_ods, "OpenDocument"),
    "runs_api_names.csv": (_write_api_names, "CSV, comma"),
    "runs_bom.zip": (_write_bom_zip, "CSV, comma"),
    "runs_extra_columns.csv": (_write_extra_columns, "CSV, comma"),
    "runs.csv.gz": (lambda p, h, r: _write_delimited(p, h, r, ","), "CSV, comma, gzip"),
    "runs_excel_de.csv": (lambda p, h, r: _write_delimited(p, h, r, ";"), "CSV, semicolon"),
    "runs.tsv": (lambda p, h, r: _write_delimited(p, h, r, "\t"), "TSV, tab"),
    "runs.tsv.gz": (lambda p, h, r: _write_delimited(p, h, r, "\t"), "TSV, tab, gzip"),
    "runs.dsv": (lambda p, h, r: _write_delimited(p, h, r, "|"), "DSV, pipe"),
    "runs_tilde.dsv": (lambda p, h, r: _write_delimited(p, h, r, "~"), "DSV, '~'"),
    "runs.json": (lambda p, h, r: _write_json(p, h, r, lines=False), "JSON"),
    "runs.jsonl": (lambda p, h, r: _write_json(p, h, r, lines=True), "JSON"),
    "runs.json.gz": (lambda p, h, r: _write_json(p, h, r, lines=True), "JSON, gzip"),
    "runs.xlsx": (_write_xlsx, "Excel"),
    "runs.zip": (_write_zip, "TSV, tab"),
}


ZIP_MEMBERS = {"runs.zip": "!export/billing_runs.tsv", "runs_bom.zip": "!export/runs.csv"}


def write_every_format(root: Path) -> tuple[Path, dict[str, list[str]]]:
    """The reference runs split into one part per format (and a plain CSV part) in ``root/exports``, with files
    that are no exports beside them. Returns the folder and the IDs of each format's file. (make test-spark builds
    the same folder on Spark.)"""
    src = root / "plain"
    entity_path, run_path = write_demo_files(src, bill_runs=RUNS)
    header, rows = read_csv(run_path)
    exports = root / "exports"
    exports.mkdir()
    (exports / entity_path.name).write_bytes(entity_path.read_bytes())
    parts = len(FORMAT_FILES) + 1
    ids = {}
    for i, (name, (write, _)) in enumerate(FORMAT_FILES.items()):
        part = rows[i::parts]
        write(exports / name, header, part)
        ids[name] = sorted(r["Billing Run: ID"] for r in part)
    write_csv(exports / "runs_plain.csv", header, rows[len(FORMAT_FILES) :: parts])
    (exports / "README.md").write_text("exports of March")
    (exports / "notes.pdf").write_bytes(b"%PDF-1.4")
    (exports / "notes.txt").write_text("check the March runs\n")  # text, but no export: set aside
    (exports / "summary.htm").write_text("<html></html>")  # a spreadsheet's Web Page, not named as bill runs
    (exports / "~$runs.xlsx").write_bytes(b"\x0bExcel owner\x00" * 8)  # Excel's lock file beside the open workbook
    (exports / ".DS_Store").write_bytes(b"\x00\x01")
    (exports / ".hidden").mkdir()
    (exports / ".hidden" / "old.csv").write_text("not read")
    return exports, ids


@pytest.fixture(scope="module")
def every_format(tmp_path_factory, reference):
    root = tmp_path_factory.mktemp("formats")
    exports, ids = write_every_format(root)
    result = build(exports, root / "wh")
    return {"result": result, "exports": exports, "ids": ids, "db": root / "wh" / "zuora.duckdb"}


def test_every_format_together_gives_the_reference_mart(every_format, reference):
    assert mart_rows(every_format["db"].parent) == reference[0]
    recon = query(
        every_format["db"],
        "select sum(rows_read), sum(rows_unaccounted) from "
        "audit.audit_export_file_reconciliation where record_type = 'billing_run'",
    )
    assert recon == [(RUNS, 0)]


@pytest.mark.parametrize("name", sorted(FORMAT_FILES))
def test_format_is_read_to_the_mart(every_format, name):
    file = str(every_format["exports"] / name) + ZIP_MEMBERS.get(name, "")
    ids = query(
        every_format["db"],
        f"select billing_run_id from marts.fct_billing_runs where _source_file = '{file}' order by 1",
    )
    assert [i for (i,) in ids] == every_format["ids"][name]
    fmt = query(
        every_format["db"],
        f"select file_format from audit.audit_export_file_reconciliation where source_file = '{file}'",
    )
    assert fmt == [(FORMAT_FILES[name][1],)]
    assert FORMAT_FILES[name][1] in every_format["result"].stdout, "the summary shows each file's format"


def test_files_that_are_not_exports_are_named_once(every_format):
    warnings = [line for line in every_format["result"].stderr.splitlines() if "not exports" in line]
    exports = every_format["exports"]
    assert warnings == [
        f"warning: ignoring 6 file(s) of the export folder that are not exports: {exports / 'README.md'}, "
        f"{exports / 'notes.pdf'}, {exports / 'summary.htm'}, {exports / '~$runs.xlsx'}, "
        f"{exports / 'runs.zip'}!export/README.txt, {exports / 'notes.txt'}"
    ]
    reasons = dict(query(every_format["db"], "select file, reason from raw.ignored_files"))
    assert reasons[str(exports / "summary.htm")] == "a spreadsheet's Web Page file, which the build does not read"
    assert reasons[str(exports / "~$runs.xlsx")] == "Excel's lock file of runs.xlsx (Excel has that workbook open)"
    assert reasons[str(exports / "notes.txt")] == "not an export: its first line names no field of the data source"
    assert "ignored, not exports:" in every_format["result"].stdout
    assert ".DS_Store" not in every_format["result"].stdout + every_format["result"].stderr
    assert ".hidden" not in every_format["result"].stdout + every_format["result"].stderr


def test_what_a_spreadsheet_leaves_is_named_and_skipped(every_format):
    """Excel's re-save of a sheet: its formatted but empty columns have no name, its rows of delimiters no data."""
    uk = every_format["exports"] / "runs_excel_uk.csv"
    err = every_format["result"].stderr
    assert f"warning: {uk}: skipping 2 rows that hold nothing but delimiters" in err
    unnamed = "ignoring columns that are not fields of the Billing Run data source: '(unnamed column 23)'"
    assert f"warning: {uk}: {unnamed}" in err


def test_slash_dates_are_read_in_each_files_own_order(every_format):
    """A UK re-save (15/11/2024) and a US one (11/15/2024) in one folder: each file's own dates say its order."""
    orders = dict(query(every_format["db"], "select file, slash_date_order from raw.export_files"))
    exports = every_format["exports"]
    assert (orders[str(exports / "runs_excel_uk.csv")], orders[str(exports / "runs_excel_us.csv")]) == ("DMY", "MDY")
    assert orders[str(exports / "runs_plain.csv")] is None


def test_columns_that_are_no_fields_are_ignored_and_named(every_format):
    assert (
        f"warning: {every_format['exports'] / 'runs_extra_columns.csv'}: ignoring columns that are not fields of the "
        "Billing Run data source: 'Account: Name', 'Custom__c'" in every_format["result"].stderr
    )


def test_header_styles_are_recorded(every_format):
    styles = dict(query(every_format["db"], "select file, header_style from raw.export_files"))
    assert styles[str(every_format["exports"] / "runs_api_names.csv")] == "api"
    assert styles[str(every_format["exports"] / "runs_plain.csv")] == "label"


def test_the_file_check_counts_the_ids_a_file_repeats(tmp_path):
    """The count the int model trusts to drop the values as written of rows that passed every check: an ID written
    again, even with spaces or an apostrophe, is counted (never fewer repeats than staging's cleaned IDs give); a
    file of distinct IDs counts none; a file checked before the count existed (its remembered scan has none) may
    repeat IDs."""
    from zuora_wh import input_files

    exports = tmp_path / "exports"
    _, runs = write_demo_files(exports, bill_runs=20)
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    scan = next(ef.scan for ef in files if ef.path == runs)
    assert scan.repeated_billing_run_ids == 0 and not scan.may_repeat_billing_run_ids
    header, rows = read_csv(runs)
    first_id = rows[0]["Billing Run: ID"]
    rows[1]["Billing Run: ID"] = f"  {first_id} "
    rows[2]["Billing Run: ID"] = f"'{first_id}"
    write_csv(runs, header, rows)
    files, _ = input_files.prepare(exports, tmp_path / "cache")
    scan = next(ef.scan for ef in files if ef.path == runs)
    assert scan.repeated_billing_run_ids == 2 and scan.may_repeat_billing_run_ids
    old = input_files.Scan.from_json('{"rows": 20, "blank_rows": 0, "slash_dates": 0}')
    assert old.repeated_billing_run_ids is None and old.may_repeat_billing_run_ids
