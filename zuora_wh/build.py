"""The build: ``python -m zuora_wh build``, its steps in order (``build``); and the commands on the last build,
``publish`` (again) and ``docs``.

A build, on DuckDB (the default) or on Spark (``--target spark``):

1. takes the warehouse folder's lock: one build at a time (``zuora_wh.publish.build_lock``);
2. works in the build folder of its input (the demo, or one export folder: ``zuora_wh.warehouse``);
3. checks every file of the export folder, and tells which changed since the last successful build
   (``zuora_wh.input_files``, ``zuora_wh.loaded_files``): a bill-run file that is gone or changed, or that a failed
   build began to load and that changed since, makes it a full refresh; when nothing changed, the served warehouse
   is current (``zuora_wh.current``) and the build stops;
4. on DuckDB, moves the tables an earlier version built under other names, and for a full refresh starts a new
   build file that keeps only the status history (``zuora_wh.warehouse.start_afresh``); then lays the raw layer over
   the files (``zuora_wh.raw_layer``): DuckDB views in the build file, or the statements the Spark build runs first;
5. makes sure it replaces no warehouse of another input (the demo gives way);
6. runs ``dbt build`` (``zuora_wh.dbt_runner``): every model and data test; dbt's unit tests only when asked
   (``--unit-tests``): they test the SQL on fixed inputs, so they belong to development and CI (``make test``
   runs them), not to every build of the data (dbt Labs' page "Unit tests": "When to run unit tests");
7. records which files it loaded, prints the summary, and publishes (``zuora_wh.publish``): only a build whose every
   error-severity test passed reaches the served warehouse. A Spark build publishes nothing: its marts are the
   tables of its metastore.

A problem with the input or the command is one line naming the file and the problem (``ExportError``,
``UsageError``), before dbt runs; nothing is published, and a first attempt leaves no build folder behind.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from zuora_wh import alerts, current, input_files, loaded_files, options, raw_layer
from zuora_wh.dbt_runner import DUCKDB_TARGET, ROOT, SPARK_RAW_LAYER, SPARK_TARGET, run_dbt
from zuora_wh.errors import BuildFailed, ExportError, UsageError
from zuora_wh.publish import FINGERPRINTS, STAMPED, build_lock, publish
from zuora_wh.report import summary
from zuora_wh.sql import SPARK
from zuora_wh.tenants import tenants_file
from zuora_wh.warehouse import (
    DEMO,
    MAX_MEMORY_LIMIT_MB,
    MEMORY_LIMIT_SETTING,
    MEMORY_MB_PER_MILLION_ROWS,
    MIN_MEMORY_LIMIT_MB,
    build_db_path,
    input_name,
    memory_limit,
    memory_setting,
    prepare_build_file,
    published_input,
    served_db,
    spark_dir,
    start_afresh,
    versions_db,
)

# The stuck thresholds of the tenants file, by tenant, for dbt (macro zuora_stuck_after_hours).
STUCK_AFTER_HOURS = "ZUORA_STUCK_AFTER_HOURS_BY_TENANT"
# What the last successful Spark build loaded (on DuckDB: the table raw.export_files_loaded of the build file).
SPARK_LOADED = "export_files_loaded.json"
# What the last Spark build, successful or not, laid its raw layer over (on DuckDB: the table raw.export_files).
SPARK_ATTEMPTED = "export_files.json"

# Tables that earlier versions built under other names (CHANGELOG: breaking schema changes). The status history is
# appended to at every build, so it moves to its new name with its rows; the others are built anew every time
# under their new names, so the old tables go (else the served warehouse and its Parquet would keep them, stale).
MOVED_TABLES = {"staging.int_zuora__billing_run_status_history": "marts.fct_billing_run_status_history"}
DROPPED_TABLES = (
    "staging.int_zuora__billing_run_versions",  # now in the stored versions' file (warehouse.versions_db)
    "staging.int_zuora__entity_versions",
    "marts.dim_zuora_entities",
    "marts.dim_warehouse_build",
    "marts.dim_reject_reasons",
    "marts.fct_billing_run_rejects",
    "marts.fct_entity_rejects",
    "marts.fct_export_file_reconciliation",
)


@dataclass
class Plan:
    """What a build of an export folder loads: its files (checked), the files that are no exports, the names of the
    files to load, and whether the build must be a full refresh."""

    files: list[input_files.InputFile]
    ignored: list[tuple[str, str]]
    to_load: set[str]
    full_refresh: bool
    entities_changed: bool  # an Entity export (or a combined file) is to be loaded


def build(args) -> int:
    """``python -m zuora_wh build``: the steps of the module's docstring, in order."""
    spark = args.target == SPARK_TARGET
    if spark:
        check_spark()
    asked_memory = memory_setting()  # one DuckDB cannot read stops the build before its first step
    warehouse_dir, export_dir = options.warehouse_dir(args), options.export_dir(args)
    build_db = build_db_path(warehouse_dir, export_dir)
    folder = spark_dir(build_db) if spark else build_db.parent
    full_refresh = args.full_refresh
    plan = None
    steps = Steps()
    publishing = not (spark or args.no_publish)
    published = [served_db(warehouse_dir), warehouse_dir / "parquet" / FINGERPRINTS]
    with build_lock(warehouse_dir, wait=not args.no_wait):
        with build_folder(folder, build_db, export_dir):
            (folder / SPARK_RAW_LAYER).unlink(missing_ok=True)  # a Spark build runs only the statements laid now
            if not spark:
                say(prepare_build_file(build_db))
            if export_dir is not None:
                known, attempted = ({}, {}) if full_refresh else records(build_db, spark)
                versions = versions_db(build_db)
                if known and not spark and not versions.exists():
                    print(
                        f"exports: the stored versions of the files the last build loaded are missing "
                        f"({versions.name}): rebuilding from every file"
                    )
                    known, full_refresh = {}, True
                with steps.step("checking the export files"):
                    plan = plan_files(export_dir, folder / "cache", known, full_refresh, attempted)
                full_refresh = plan.full_refresh
            stuck = alerts.stuck_after_hours_by_tenant(alerts.thresholds(tenants_file()))
            if stuck:  # the tenants file's thresholds of stuck runs, for fct_stuck_billing_runs
                os.environ[STUCK_AFTER_HOURS] = json.dumps(stuck, sort_keys=True)
            unit_tests = [] if args.unit_tests else ["--exclude-resource-type", "unit_test"]
            settings = current.fingerprint([*unit_tests, *args.dbt_args])
            if publishing and not full_refresh and (plan is None or not plan.to_load):
                at = current.published_at(folder, settings, published)
                if at is not None:
                    print(f"the warehouse is current: nothing changed since the build published at {at}")
                    return 0
            built_settings, warned_before = current.built_with(folder)
            same_project = built_settings == settings
            warned = warned_before if same_project else []
            current.forget(folder)
            if not spark:
                move_renamed_tables(build_db)  # first: a full refresh keeps the history under its new name
                if full_refresh:
                    say(start_afresh(build_db))
            if plan is not None:
                lay_raw_layer(build_db, export_dir, plan, spark)
            if publishing:
                check_replace(served_db(warehouse_dir), export_dir, args.replace)
        limit = asked_memory or memory_limit(sum(ef.scan.rows for ef in plan.files) if plan is not None else 0)
        if not spark:
            rule = (
                f"{MEMORY_MB_PER_MILLION_ROWS}MB for each million rows of export files, from {MIN_MEMORY_LIMIT_MB}MB "
                f"to {MAX_MEMORY_LIMIT_MB}MB: {MEMORY_LIMIT_SETTING} sets another"
            )
            print(f"memory: DuckDB may use {limit} ({MEMORY_LIMIT_SETTING if asked_memory else rule})")
        dbt_args = [
            "build",
            *(["--full-refresh"] if full_refresh else []),
            *left_out(plan, full_refresh, same_project),
            *unit_tests,
            *args.dbt_args,
        ]
        written_rows_only = tests_written_rows_only(plan, full_refresh, same_project, spark)
        if written_rows_only:
            print(
                f"tests: the tests of {', '.join(STAMPED)} look at the rows this build writes (the others passed them "
                "when written; --full-refresh tests every row)"
                + (f"; the warnings found before read every row: {first_names(warned)}" if warned else "")
            )
        dbt_started = time.time()
        with steps.step("dbt"):
            rc = run_dbt(
                build_db,
                export_dir,
                dbt_args,
                SPARK_TARGET if spark else DUCKDB_TARGET,
                written_rows_only=written_rows_only,
                warned=warned,
                limit=limit,
            )
        if rc != 0:
            kept = "" if spark else f": {served_db(warehouse_dir)} still holds the last good build"
            what = f"dbt build{' on Spark' if spark else ''} failed (exit {rc}{failing(folder, dbt_started)})"
            raise BuildFailed(f"{what}; nothing was published{kept}", rc)
        run_results = folder / "target" / "run_results.json"
        results = results_since(run_results, dbt_started)
        if results is None:  # no results (--no-write-json): the next build tests every row, as after a failure
            run_results = None
        else:
            current.remember_built(folder, settings, still_warning(warned, results))
        if plan is not None:
            record_loaded(build_db, plan, spark)
        if spark:
            print(
                f"built on Spark: the marts are the tables of schemas marts and audit in the metastore of {folder} "
                f"(Parquet under {folder / 'warehouse'}); nothing is published (README: Run on Spark or Databricks)"
            )
            return 0
        print(summary(build_db, run_results))
        if args.no_publish:
            print(f"built {build_db} (not published)")
            return 0
        with steps.step("publishing"):
            publish(build_db, served_db(warehouse_dir), warehouse_dir / "parquet", limit)
        current.remember(folder, settings, published, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
        print(f"published {served_db(warehouse_dir)} and {warehouse_dir / 'parquet'}/ in {steps.total()}")
        print(f"  where the time went: {steps}")
    return 0


class Steps:
    """How long a build's steps took, printed under ``published ... in 16.6s`` (``where the time went: checking the
    export files 1.0s, dbt 13.0s, publishing 1.5s, the rest 0.2s``): where a scheduled refresh's time goes, and what
    ``bench/run.py`` reports. The rest is the lock, a full refresh's new build file, the raw layer, the summary and
    the records."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.took: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str):
        began = time.monotonic()
        try:
            yield
        finally:
            self.took[name] = self.took.get(name, 0.0) + time.monotonic() - began

    def total(self) -> str:
        return f"{time.monotonic() - self.started:.1f}s"

    def __str__(self) -> str:
        rest = max(0.0, time.monotonic() - self.started - sum(self.took.values()))
        return ", ".join([*(f"{name} {seconds:.1f}s" for name, seconds in self.took.items()), f"the rest {rest:.1f}s"])


@contextlib.contextmanager
def build_folder(folder: Path, build_db: Path, export_dir: Path | None):
    """The folder a build works in (the DuckDB build file's, or the Spark folder beside it), created, with the
    input named beside the build file. A problem with the input or the command inside the block, on the folder's
    first attempt, leaves no folder behind: nothing worth keeping, no build, no dbt log."""
    first_attempt = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    (build_db.parent / "input.txt").write_text(input_name(export_dir) + "\n")
    try:
        yield
    except (ExportError, UsageError):
        if first_attempt:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def records(build_db: Path, spark: bool) -> tuple[dict[str, loaded_files.Loaded], dict[str, loaded_files.Loaded]]:
    """What the last successful build of this input loaded, and what its last build, successful or not, laid its
    raw layer over, on its engine."""
    if spark:
        folder = spark_dir(build_db)
        loaded, attempted = (loaded_files.read_record_json(folder / name) for name in (SPARK_LOADED, SPARK_ATTEMPTED))
        return loaded, attempted
    with duckdb.connect(str(build_db)) as con:
        return loaded_files.read_record(con), loaded_files.read_record(con, loaded_files.ATTEMPTED)


def plan_files(
    export_dir: Path, cache_dir: Path, loaded: dict, full_refresh: bool, attempted: dict | None = None
) -> Plan:
    """Check every export file against what the last build loaded (on either engine), and against what a failed
    build began to load (``attempted``), and say what this build loads. The warnings (columns or files that are
    no exports) are printed here."""
    setting = os.environ.get(input_files.SLASH_SETTING) or None
    files, ignored = input_files.prepare(export_dir, cache_dir=cache_dir, known=loaded, slash_setting=setting)
    for warning in input_files.warnings(files, ignored):
        print(f"warning: {warning}", file=sys.stderr)
    diff = loaded_files.changes(loaded, files)
    stale = diff.stale()
    unfinished = loaded_files.unfinished(attempted or {}, loaded, files)
    # A new file ordered before a file the last build loaded (older by modification time: a copy that kept its
    # date) moves the order of the files after it, which the versions stored by earlier builds keep: a tie on
    # Updated Date would then not go to the newest file, as it does in a fresh build.
    last_loaded = max((ef.order for ef in files if ef.display_name in loaded), default=0)
    earlier = [ef.display_name for ef in files if ef.display_name in diff.new and ef.order < last_loaded]
    if stale:
        # The warehouse is always what a fresh build of the folder gives: rows of a file that is gone or was
        # replaced must leave the marts, which only a rebuild from every file does.
        what = [f"{len(diff.removed)} removed"] if diff.removed else []
        what += [f"{len(diff.changed)} changed in content"] if diff.changed else []
        print(
            f"exports: files the last build loaded were {' and '.join(what)} ({first_names(stale)}): rebuilding "
            "from every file"
        )
        full_refresh = True
    elif unfinished:
        print(
            f"exports: {len(unfinished)} file(s) that the last build began to load and did not finish were changed "
            f"or removed since ({first_names(unfinished)}): rebuilding from every file"
        )
        full_refresh = True
    elif earlier:  # (a --full-refresh compares with nothing loaded: no file is earlier)
        print(
            f"exports: {len(earlier)} new file(s) older than files the last build loaded ({first_names(earlier)}): "
            "rebuilding from every file, so that the newest file wins a tie on Updated Date"
        )
        full_refresh = True
    to_load = {ef.display_name for ef in files} if full_refresh else set(diff.new + diff.changed)
    print(
        f"exports: {len(files)} files in {export_dir}: {len(to_load)} to load, {len(files) - len(to_load)} "
        "unchanged since the last build"
    )
    # (a file that is gone made the build a full refresh above)
    entities_changed = any(ef.kind != "billing_run" for ef in files if ef.display_name in to_load)
    return Plan(files, ignored, to_load, full_refresh, entities_changed)


# What an incremental build need not build again when the project and its settings are those of the last build
# that succeeded: the views (their text is the project's), the seeds and the tables built from them alone (tag
# from_the_project), and the entities when no file with entities is new (no entity version to store, and
# dim_entities would come out the same). The tests of what is left out are left out with it; a test of a model
# that is built runs.
UNCHANGED_VIEWS_AND_SEEDS = ("config.materialized:view", "resource_type:seed", "tag:from_the_project")
ENTITY_MODELS = ("int_zuora__entity_versions", "dim_entities", "audit_entity_rejects")


def builds_on_the_last(plan: Plan | None, full_refresh: bool, same_project: bool) -> bool:
    """Whether this build adds to what the last one made: an incremental build of export files, after a dbt build in
    the folder that had the same project and settings and succeeded. What that build made and tested stands."""
    return plan is not None and not full_refresh and same_project


def left_out(plan: Plan | None, full_refresh: bool, same_project: bool) -> list[str]:
    """dbt's --exclude arguments for what this build need not build again (UNCHANGED_VIEWS_AND_SEEDS)."""
    if not builds_on_the_last(plan, full_refresh, same_project):
        return []
    return ["--exclude", *UNCHANGED_VIEWS_AND_SEEDS, *(() if plan.entities_changed else ENTITY_MODELS)]


def tests_written_rows_only(plan: Plan | None, full_refresh: bool, same_project: bool, spark: bool) -> bool:
    """Whether the data tests of the stamped marts may look only at the rows this build writes (macro
    get_where_subquery): when it builds on the last build, on DuckDB, every row it does not write passed the same
    tests then. Otherwise every row is tested."""
    return builds_on_the_last(plan, full_refresh, same_project) and not spark


def lay_raw_layer(build_db: Path, export_dir: Path, plan: Plan, spark: bool) -> None:
    """DuckDB: the raw views in the build file. Spark: the statements its build runs first (macro
    zuora_spark_raw_layer), written into its folder."""
    if not spark:
        with duckdb.connect(str(build_db)) as con:
            raw_layer.register(con, export_dir, plan.files, plan.to_load, plan.ignored)
        return
    folder = spark_dir(build_db)
    loaded_files.record_json(folder / SPARK_ATTEMPTED, plan.files)
    raw_layer.readable_by_spark(plan.files, folder / "cache")
    sql = raw_layer.statements(export_dir, plan.files, plan.to_load, plan.ignored, SPARK)
    (folder / SPARK_RAW_LAYER).write_text(
        "".join(json.dumps({"n": i, "statement": s}) + "\n" for i, s in enumerate(sql))
    )


def move_renamed_tables(build_db: Path) -> None:
    """A build file of an earlier version: its tables under their new names (MOVED_TABLES, DROPPED_TABLES)."""
    if not build_db.exists():
        return
    with duckdb.connect(str(build_db)) as con:
        sql = "select schema_name || '.' || table_name from duckdb_tables() where database_name = current_database()"
        tables = {name for (name,) in con.execute(sql).fetchall()}
        moved = [(old, new) for old, new in MOVED_TABLES.items() if old in tables]
        dropped = [old for old in DROPPED_TABLES if old in tables]
        for old, new in moved:
            if new not in tables:
                con.execute(f"create schema if not exists {new.split('.')[0]}")
                con.execute(f"create table {new} as select * from {old}")
            con.execute(f"drop table {old}")
        for old in dropped:
            con.execute(f"drop table {old}")
    if moved or dropped:
        what = [f"{old} is now {new}" for old, new in moved] + [f"{len(dropped)} tables renamed (CHANGELOG)"] * bool(
            dropped
        )
        print(f"upgraded the build file: {'; '.join(what)}")


def record_loaded(build_db: Path, plan: Plan, spark: bool) -> None:
    """After a successful build: its files are loaded (the next build skips them)."""
    if spark:
        loaded_files.record_json(spark_dir(build_db) / SPARK_LOADED, plan.files)
        return
    with duckdb.connect(str(build_db)) as con:
        loaded_files.record(con)


def check_replace(served: Path, export_dir: Path | None, replace: bool) -> None:
    """A build of one input never silently replaces a warehouse built from another; but the demo has nothing to
    protect, and gives way to real exports with one line."""
    before, this = published_input(served), input_name(export_dir)
    if before is None or before == this or replace:
        return
    if before == DEMO and export_dir is not None:
        print(f"replacing the demo warehouse in {served} with this build of {this}")
        return
    raise UsageError(
        f"{served} holds the warehouse built from {before}, and this build is from {this}: to replace it, "
        "add --replace (make build REPLACE=1); to keep both, give this build its own --warehouse-dir "
        "(ZUORA_WAREHOUSE_DIR)"
    )


def results_since(run_results: Path, since: float) -> list[dict] | None:
    """The results of the dbt run that wrote ``run_results`` at ``since`` (a time.time()) or later; None when that
    run wrote none (dbt stopped before running anything, or ran with --no-write-json: an older file is left)."""
    try:
        if run_results.stat().st_mtime < since:
            return None
        return json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return None


def failing(folder: Path, since: float) -> str:
    """What failed in the dbt run that wrote the folder's run_results.json at ``since`` (a time.time()) or later, as
    '; 2 failing: name (fail), ...' (nothing when that run wrote none)."""
    results = results_since(folder / "target" / "run_results.json", since) or []
    bad = [f"{r['unique_id'].split('.')[2]} ({r['status']})" for r in results if r["status"] in ("error", "fail")]
    return f"; {len(bad)} failing: {first_names(bad, 5)}" if bad else ""


def still_warning(warned: list[str], results: list[dict]) -> list[str]:
    """The warning tests that found rows the last time they ran, after the dbt run of ``results``: those of
    ``warned`` (the same record before it) that it did not run, and those it ran that warned."""
    ran = {r["unique_id"].split(".")[2]: r["status"] for r in results if r["unique_id"].startswith("test.")}
    return sorted(
        {name for name in warned if ran.get(name) not in ("pass", "warn")}
        | {name for name, status in ran.items() if status == "warn"}
    )


def first_names(names: list[str], shown: int = 3) -> str:
    """The first ``shown`` names, comma-separated, with ", ..." when there are more."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def say(line: str | None) -> None:
    if line:
        print(line)


def check_spark() -> None:
    """Spark's extras are installed (requirements-spark.txt) and there is a Java to run it."""
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise UsageError(
            f"--target spark needs Spark's extras: {Path(sys.executable).parent / 'pip'} install -r "
            f"{ROOT / 'requirements-spark.txt'} (make test-spark installs them)"
        )
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise UsageError("--target spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)")


def publish_again(args) -> int:
    """``python -m zuora_wh publish``: the last build of the input, published again."""
    warehouse_dir, export_dir, build_db = options.last_build(args)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        check_replace(served_db(warehouse_dir), export_dir, args.replace)
        say(prepare_build_file(build_db))
        publish(build_db, served_db(warehouse_dir), warehouse_dir / "parquet")
    print(f"published {served_db(warehouse_dir)}")
    return 0


def docs(args) -> int:
    """``python -m zuora_wh docs``: dbt docs from the build file of the input (dbt never opens the served file,
    which a BI tool may hold)."""
    warehouse_dir, export_dir, build_db = options.last_build(args)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        rc = run_dbt(build_db, export_dir, ["docs", "generate"])
    if rc == 0:
        target = build_db.parent / "target"
        print(
            f"docs written to {target}; browse them with: {Path(sys.executable).parent / 'dbt'} docs serve "
            f"--project-dir {ROOT} --profiles-dir {ROOT} --target-path {target}"
        )
    return rc


def add_parser(sub) -> None:
    b = sub.add_parser("build", help="check exports, dbt build, publish if every error-severity test passed")
    options.add_export_dir(b)
    b.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from every file")
    b.add_argument("--no-publish", action="store_true", help="build and test only; leave the served files alone")
    options.add_replace(b)
    options.add_no_wait(b)
    b.add_argument(
        "--target",
        choices=(DUCKDB_TARGET, SPARK_TARGET),
        default=DUCKDB_TARGET,
        help="the profile's target: dev (DuckDB, published for BI tools) or spark (Spark in this machine, "
        "needs requirements-spark.txt and Java 17; nothing is published)",
    )
    b.add_argument(
        "--unit-tests",
        action="store_true",
        help="run dbt's unit tests too (tests of the SQL on fixed inputs: make test runs them)",
    )
    b.add_argument("dbt_args", nargs="*", help="more arguments for dbt build (after --)")
    b.set_defaults(func=build)
    p = sub.add_parser("publish", help="publish the last build again")
    options.add_export_dir(p)
    options.add_replace(p)
    options.add_no_wait(p)
    p.set_defaults(func=publish_again)
    d = sub.add_parser("docs", help="generate dbt's documentation site from the last build")
    options.add_export_dir(d)
    options.add_no_wait(d)
    d.set_defaults(func=docs)
