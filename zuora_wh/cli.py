"""The warehouse's command line: ``python -m zuora_wh COMMAND`` (or the ``zuora-wh`` console script).

    build     check the exports (--export-dir or ZUORA_EXPORT_DIR, else the embedded demo), dbt build into the
              build file, and publish the result only if the build and every error-severity test passed; with
              --target spark, the same build on Spark (its marts stay in its metastore: nothing is published)
    publish   publish the last build again (the served DuckDB file and the Parquet files)
    report    the summary of the published build: files read, rows loaded, rejected by reason, superseded;
              with --html FILE, the bill-run health page (charts, stuck runs, freshness) and a PNG of each chart
    docs      dbt's documentation site, generated from the last build (never from the served file)
    export    write the billing-run data-source view to CSV, Parquet or Excel (see ``export --help``)
    extract   pull new and changed bill runs from Zuora's AQuA into the export folder (see ``extract --help``)
    metrics   answer the saved queries of the metrics with MetricFlow, as Parquet and CSV in warehouse/metrics/

Exit codes: 0 done; 2 a problem with the input or the command (one line naming the file and the problem), or
with Zuora (a refused client, a failed job, a file cut short: one line naming the tenant); 130 interrupted;
75 another build holds the warehouse folder (with --no-wait); a failed dbt build exits with dbt's code.
No command prints a Python traceback, and none touches the served warehouse unless it publishes a good build.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from zuora_wh import read_exports
from zuora_wh.errors import BuildBusy, ExportError, UsageError, WarehouseError
from zuora_wh.publish import build_lock, publish
from zuora_wh.report import summary
from zuora_wh.sql import SPARK, spark_path

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "zuora.duckdb"
DEMO = "demo"
# The targets of profiles.yml: DuckDB (every command), and Spark (build only: README, Run on Spark or Databricks).
DUCKDB_TARGET, SPARK_TARGET = "dev", "spark"
# dbt's parse of the project (partial_parse.msgpack), shared by the builds of every warehouse: parsing is most of a
# small build's time, and dbt parses again by itself whenever the project or its settings changed.
PARSE_CACHE = ROOT / "target" / "parse-cache"
EXIT_BUSY = BuildBusy.exit_code
# The raw layer's statements for Spark, written by the build into the Spark folder (macro zuora_spark_raw_layer).
SPARK_RAW_LAYER = "raw_layer.jsonl"
# What the last successful Spark build loaded (on DuckDB: the table raw.export_files_loaded of the build file).
SPARK_LOADED = "export_files_loaded.json"


def _warehouse_dir(args) -> Path:
    return Path(args.warehouse_dir).resolve()


def _export_dir(args) -> Path | None:
    """The export folder, from --export-dir, else ZUORA_EXPORT_DIR, else None (the demo)."""
    given, source = args.export_dir, "--export-dir"
    if given is None:
        given, source = os.environ.get("ZUORA_EXPORT_DIR") or None, "ZUORA_EXPORT_DIR"
    if given is None:
        return None
    path = Path(given).expanduser().resolve()
    if path.is_file():
        raise UsageError(f"{given}: this is a file, not a folder (given by {source}); name the folder that holds the "
                         "export files")  # fmt: skip
    if not path.is_dir():
        raise UsageError(f"{given}: no such folder (given by {source}); name a folder of Zuora export files")
    return path


def build_db_path(warehouse_dir: Path, export_dir: Path | None) -> Path:
    """Each input (the demo, or one export folder) keeps its own build file, so incremental state never mixes.
    The folder is named after the export folder (plus a short hash of its full path), and ``input.txt`` in it
    names the input in full."""
    if export_dir is None:
        key = DEMO
    else:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", export_dir.name).strip("-") or "exports"
        key = f"{slug}-{hashlib.sha1(str(export_dir).encode()).hexdigest()[:8]}"
    return warehouse_dir / "build" / key / DB_NAME


def input_mode(export_dir: Path | None) -> str:
    """What the raw layer is for dbt (var zuora_input): the demo seeds, or the views over an export folder."""
    return DEMO if export_dir is None else "exports"


def input_name(export_dir: Path | None) -> str:
    """How a warehouse names its input (marts.dim_warehouse_build.built_from)."""
    return DEMO if export_dir is None else str(export_dir)


def dbt_env(build_db: Path, export_dir: Path | None, target: str = DUCKDB_TARGET) -> dict[str, str]:
    """dbt runs in the build folder, with the database and its spill folder named relative to it: then every
    build's profile is the same, and dbt's parse of the project can be shared between builds (PARSE_CACHE).
    On Spark, the folder ``spark`` beside the build file holds the metastore and the tables (ZUORA_SPARK_DIR)."""
    spark = target == SPARK_TARGET
    folder = spark_dir(build_db) if spark else build_db.parent
    # defaults the environment may override, then what the build decides
    defaults = {"ZUORA_DUCKDB_TEMP_DIR": ".duckdb_tmp"}
    decided = {}
    if spark:
        defaults |= {"TZ": "UTC", "SPARK_LOCAL_IP": "127.0.0.1"}
        decided = {"ZUORA_SPARK_DIR": str(folder), "ZUORA_SPARK_RAW_LAYER": spark_path(str(folder / SPARK_RAW_LAYER))}
    return {
        **defaults,
        **os.environ,
        **decided,
        "ZUORA_DUCKDB_PATH": build_db.name,
        "ZUORA_INPUT": input_mode(export_dir),
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_PROJECT_DIR": str(ROOT),
        # dbt's artifacts (manifest, run_results.json) beside the build file: builds of different inputs, and
        # the tests, never share a target folder.
        "DBT_TARGET_PATH": str(folder / "target"),
        "DBT_LOG_PATH": str(folder / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


_PROGRESS = re.compile(r"^\S+\s+(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|FAIL|SKIP)\b")
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\s+")


def spark_dir(build_db: Path) -> Path:
    """The folder of a Spark build of the input whose DuckDB build file is ``build_db``: its metastore, its tables
    (Parquet, under ``warehouse/``), the raw layer's statements and dbt's artifacts."""
    return build_db.parent / SPARK_TARGET


def run_dbt(build_db: Path, export_dir: Path | None, dbt_args: list[str], target: str = DUCKDB_TARGET) -> int:
    """Run dbt with its whole output in ``dbt-<command>.log`` beside the build file (on Spark, in its folder). On a
    terminal, one progress line; everywhere, the warnings and errors, and dbt's closing lines."""
    env = dbt_env(build_db, export_dir, target)
    folder = Path(env["DBT_TARGET_PATH"]).parent
    log_path = folder / f"dbt-{dbt_args[0]}.log"
    dbt = Path(sys.executable).parent / "dbt"
    tty = sys.stdout.isatty()
    notable, closing, seen_end = [], [], False
    parsed = folder / "target" / "partial_parse.msgpack"
    shared = PARSE_CACHE / f"{input_mode(export_dir)}{'' if target == DUCKDB_TARGET else '-' + target}.msgpack"
    _copy_quietly(shared, parsed, only_if_missing=True)
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [str(dbt), "--no-use-colors", *dbt_args, "--target", target], cwd=folder, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            text = _TIMESTAMP.sub("", line.rstrip())
            match = _PROGRESS.match(line)
            if match and match.group(3) in ("WARN", "ERROR", "FAIL"):
                notable.append(text)
            if match and tty:
                print(f"\rdbt {dbt_args[0]}: {match.group(1)} of {match.group(2)}", end="", flush=True)
            if text.startswith("Finished running"):
                seen_end = True
            elif seen_end and text:
                closing.append(text)
        rc = proc.wait()
    _copy_quietly(parsed, shared)
    if tty:
        print("\r" + " " * 40 + "\r", end="")
    for text in notable:
        print(f"  {text}")
    if rc:  # dbt's closing lines name what failed
        for text in (closing or ["(dbt printed no summary)"])[-40:]:
            print(f"  {text}", file=sys.stderr)
    else:
        for text in closing:
            if text.startswith("Done."):
                print(f"  {text}")
    print(f"dbt's full log: {log_path}")
    return rc


def _copy_quietly(src: Path, dst: Path, only_if_missing: bool = False) -> None:
    """Copy src to dst atomically, if there is something to copy; a cache that cannot be written is no error."""
    if not src.exists() or (only_if_missing and dst.exists()):
        return
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    except OSError:
        pass


def published_input(served_db: Path) -> str | None:
    """The input the served warehouse was built from, or None (no warehouse, or one too old to say)."""
    if not served_db.exists():
        return None
    try:
        with duckdb.connect(str(served_db), read_only=True) as con:
            return con.execute("select built_from from marts.dim_warehouse_build").fetchone()[0]
    except duckdb.Error:
        return None


def check_replace(served_db: Path, export_dir: Path | None, replace: bool) -> None:
    """A build of one input never silently replaces a warehouse built from another; but the demo has nothing to
    protect, and gives way to real exports with one line."""
    served, this = published_input(served_db), input_name(export_dir)
    if served is None or served == this or replace:
        return
    if served == DEMO and export_dir is not None:
        print(f"replacing the demo warehouse in {served_db} with this build of {this}")
        return
    raise UsageError(
        f"{served_db} holds the warehouse built from {served}, and this build is from {this}: to replace it, "
        "add --replace (make build REPLACE=1); to keep both, give this build its own --warehouse-dir "
        "(ZUORA_WAREHOUSE_DIR)"
    )


def cmd_build(args) -> int:
    if args.target == SPARK_TARGET:
        return cmd_build_spark(args)
    warehouse_dir = _warehouse_dir(args)
    export_dir = _export_dir(args)
    build_db = build_db_path(warehouse_dir, export_dir)
    served_db = warehouse_dir / DB_NAME
    with build_lock(warehouse_dir, wait=not args.no_wait):
        with _build_folder(build_db.parent, build_db, export_dir):
            started = time.monotonic()
            full_refresh = args.full_refresh
            if export_dir is not None:
                full_refresh = _lay_raw_views(build_db, export_dir, full_refresh)
            if not args.no_publish:
                check_replace(served_db, export_dir, args.replace)
        dbt_args = ["build", *(["--full-refresh"] if full_refresh else []), *args.dbt_args]
        rc = run_dbt(build_db, export_dir, dbt_args)
        if rc != 0:
            print(
                f"error: dbt build failed (exit {rc}); nothing was published: {served_db} still holds the last "
                f"good build",
                file=sys.stderr,
            )
            return rc
        if export_dir is not None:
            with duckdb.connect(str(build_db)) as con:
                read_exports.mark_loaded(con)
        print(summary(build_db))
        if args.no_publish:
            print(f"built {build_db} (not published)")
            return 0
        publish(build_db, served_db, warehouse_dir / "parquet")
        print(f"published {served_db} and {warehouse_dir / 'parquet'}/ in {time.monotonic() - started:.1f}s")
    return 0


def cmd_build_spark(args) -> int:
    """The build on Spark (dbt-spark's session method, in this machine): the same file check, then the raw layer
    laid by the build itself (macro zuora_spark_raw_layer runs the statements written here), every model and test.
    Incremental as on DuckDB (new files only, unless files the last build loaded are gone or changed): the files
    loaded are recorded in the Spark folder. Nothing is published: the marts are tables of its metastore."""
    _check_spark()
    warehouse_dir = _warehouse_dir(args)
    export_dir = _export_dir(args)
    build_db = build_db_path(warehouse_dir, export_dir)
    folder = spark_dir(build_db)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        statements, loaded_file = folder / SPARK_RAW_LAYER, folder / SPARK_LOADED
        full_refresh = args.full_refresh
        with _build_folder(folder, build_db, export_dir):
            statements.unlink(missing_ok=True)
            if export_dir is not None:
                loaded = {} if full_refresh else read_exports.loaded_files_of_json(loaded_file)
                files, ignored, new, full_refresh = _plan(export_dir, folder / "cache", loaded, full_refresh)
        if export_dir is not None:
            read_exports.readable_by_spark(files, folder / "cache")
            sql = read_exports.raw_layer(export_dir, files, new, ignored, SPARK)
            statements.write_text("".join(json.dumps({"n": i, "statement": s}) + "\n" for i, s in enumerate(sql)))
        dbt_args = ["build", *(["--full-refresh"] if full_refresh else []), *args.dbt_args]
        rc = run_dbt(build_db, export_dir, dbt_args, SPARK_TARGET)
        if rc != 0:
            print(f"error: dbt build on Spark failed (exit {rc})", file=sys.stderr)
            return rc
        if export_dir is not None:
            read_exports.mark_loaded_json(loaded_file, files)
    print(f"built on Spark: the marts are the tables of schema marts in the metastore of {folder} (Parquet under "
          f"{folder / 'warehouse'}); nothing is published (README: Run on Spark or Databricks)")  # fmt: skip
    return 0


@contextlib.contextmanager
def _build_folder(folder: Path, build_db: Path, export_dir: Path | None):
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


def _check_spark() -> None:
    """Spark's extras are installed (requirements-spark.txt) and there is a Java to run it."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise UsageError(f"--target spark needs Spark's extras: {Path(sys.executable).parent / 'pip'} install -r "
                         f"{ROOT / 'requirements-spark.txt'} (make test-spark installs them)")  # fmt: skip
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise UsageError("--target spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)")


def _lay_raw_views(build_db: Path, export_dir: Path, full_refresh: bool) -> bool:
    """Check every export file and lay the raw views over them in the build file. Returns whether the build
    must be a full refresh (asked for, or because files the last build loaded were removed or changed)."""
    with duckdb.connect(str(build_db)) as con:
        loaded = {} if full_refresh else read_exports.loaded_files_of(con)
        files, ignored, new, full_refresh = _plan(export_dir, build_db.parent / "cache", loaded, full_refresh)
        read_exports.register(con, export_dir, files, new, ignored)
    return full_refresh


def _plan(export_dir: Path, cache_dir: Path, loaded: dict, full_refresh: bool):
    """Check every export file against what the last build loaded (on either engine): (the files, the ignored files,
    the names of the files to load, whether the build must be a full refresh)."""
    setting = os.environ.get(read_exports.SLASH_SETTING) or None
    files, ignored = read_exports.prepare(export_dir, cache_dir=cache_dir, known=loaded, slash_setting=setting)
    for warning in read_exports.warnings(files, ignored):
        print(f"warning: {warning}", file=sys.stderr)
    diff = read_exports.changes(loaded, files)
    stale = diff.stale(loaded)
    if stale:
        # The warehouse is always what a fresh build of the folder gives: rows of a file that is gone or was
        # replaced must leave the marts, which only a rebuild from every file does.
        removed = [f for f in diff.removed if f in stale]
        changed = [f for f in diff.changed if f in stale]
        what = [f"{len(removed)} removed"] if removed else []
        what += [f"{len(changed)} changed in content"] if changed else []
        shown = ", ".join(stale[:3]) + (", ..." if len(stale) > 3 else "")
        print(f"exports: files the last build loaded were {' and '.join(what)} ({shown}): rebuilding from every file")
        full_refresh = True
    new = {ef.display_name for ef in files} if full_refresh else set(diff.new + diff.changed)
    print(f"exports: {len(files)} files in {export_dir}: {len(new)} to load, {len(files) - len(new)} unchanged since "
          "the last build")  # fmt: skip
    return files, ignored, new, full_refresh


def _last_build(args) -> tuple[Path, Path | None, Path]:
    """(warehouse folder, export folder, build file) of the input the arguments name, which must have been built."""
    warehouse_dir = _warehouse_dir(args)
    export_dir = _export_dir(args)
    build_db = build_db_path(warehouse_dir, export_dir)
    if not build_db.exists():
        raise UsageError(f"no build at {build_db}: run 'make build' (python -m zuora_wh build) first")
    return warehouse_dir, export_dir, build_db


def cmd_publish(args) -> int:
    warehouse_dir, export_dir, build_db = _last_build(args)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        check_replace(warehouse_dir / DB_NAME, export_dir, args.replace)
        publish(build_db, warehouse_dir / DB_NAME, warehouse_dir / "parquet")
    print(f"published {warehouse_dir / DB_NAME}")
    return 0


def cmd_report(args) -> int:
    db = _warehouse_dir(args) / DB_NAME
    if not db.exists():
        raise UsageError(f"no warehouse at {db}: run 'make build' first")
    print(summary(db))
    if args.html:
        from zuora_wh.html_report import write

        written = write(db, Path(args.html).expanduser().resolve())
        print(f"report: {written[0]} (and {len(written) - 1} PNG charts beside it)")
    return 0


def cmd_metrics(args) -> int:
    """The saved queries' answers from the last build, as files beside the served warehouse (zuora_wh.metrics)."""
    from zuora_wh.metrics import materialise

    warehouse_dir, export_dir, build_db = _last_build(args)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        written = materialise(build_db, dbt_env(build_db, export_dir), warehouse_dir / "metrics")
    print(f"metrics: {', '.join(p.name for p in written)} in {warehouse_dir / 'metrics'}/")
    return 0


def cmd_mf(args) -> int:
    """MetricFlow on the published warehouse, whatever its input, read-only while BI tools read it."""
    from zuora_wh.metrics import served_mf

    warehouse_dir = _warehouse_dir(args)
    served = published_input(warehouse_dir / DB_NAME)
    if served is None:
        raise UsageError(f"no warehouse at {warehouse_dir / DB_NAME}: run 'make build' first")
    build_db = build_db_path(warehouse_dir, None if served == DEMO else Path(served))
    return served_mf(warehouse_dir, build_db.parent / "target", args.mf_args or ["--help"])


def cmd_docs(args) -> int:
    """dbt docs from the build file of the input (dbt never opens the served file, which a BI tool may hold)."""
    warehouse_dir, export_dir, build_db = _last_build(args)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        rc = run_dbt(build_db, export_dir, ["docs", "generate"])
    if rc == 0:
        target = build_db.parent / "target"
        print(f"docs written to {target}; browse them with: {Path(sys.executable).parent / 'dbt'} docs serve "
              f"--project-dir {ROOT} --profiles-dir {ROOT} --target-path {target}")  # fmt: skip
    return rc


def main(argv: list[str] | None = None) -> int:
    text = __doc__.replace("``", "")  # the docstring's code spans, as a terminal shows them
    p = argparse.ArgumentParser(
        prog="python -m zuora_wh",
        description=text.split("\n\n")[0],
        epilog=text.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--warehouse-dir", default=os.environ.get("ZUORA_WAREHOUSE_DIR", str(ROOT / "warehouse")),
                   help="the folder of the served warehouse and its builds (default: $ZUORA_WAREHOUSE_DIR, or "
                        "warehouse/ in the project)")  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True)
    export_help = "folder of Zuora export files (default: $ZUORA_EXPORT_DIR, or the embedded demo when unset)"
    no_wait_help = f"when another build holds the warehouse folder, exit at once with code {EXIT_BUSY}"
    replace_help = "publish even though the served warehouse was built from another input (it is replaced)"
    b = sub.add_parser("build", help="check exports, dbt build, publish if every error-severity test passed")
    b.add_argument("--export-dir", help=export_help)
    b.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from every file")
    b.add_argument("--no-publish", action="store_true", help="build and test only; leave the served files alone")
    b.add_argument("--replace", action="store_true", help=replace_help)
    b.add_argument("--no-wait", action="store_true", help=no_wait_help)
    b.add_argument("--target", choices=(DUCKDB_TARGET, SPARK_TARGET), default=DUCKDB_TARGET,
                   help="the profile's target: dev (DuckDB, published for BI tools) or spark (Spark in this machine, "
                        "needs requirements-spark.txt and Java 17; nothing is published)")  # fmt: skip
    b.add_argument("dbt_args", nargs="*", help="more arguments for dbt build (after --)")
    b.set_defaults(func=cmd_build)
    pub = sub.add_parser("publish", help="publish the last build again")
    pub.add_argument("--export-dir", help=export_help)
    pub.add_argument("--replace", action="store_true", help=replace_help)
    pub.add_argument("--no-wait", action="store_true", help=no_wait_help)
    pub.set_defaults(func=cmd_publish)
    rep = sub.add_parser("report", help="the summary of the published build: files, rows loaded, rejected, superseded")
    rep.add_argument("--html", metavar="FILE", help="also write the bill-run health page (charts, stuck runs) to FILE, "
                                                    "and a PNG of each chart beside it")  # fmt: skip
    rep.set_defaults(func=cmd_report)
    met = sub.add_parser("metrics", help="the metrics' saved queries, answered by MetricFlow, as Parquet and CSV")
    met.add_argument("--export-dir", help=export_help)
    met.add_argument("--no-wait", action="store_true", help=no_wait_help)
    met.set_defaults(func=cmd_metrics)
    mf = sub.add_parser("mf", help="MetricFlow on the published warehouse, read-only: mf query --metrics ... (any "
                        "mf command and its options)")  # fmt: skip
    mf.add_argument("mf_args", nargs=argparse.REMAINDER, help="the mf command and its options, such as: query "
                    "--metrics failure_rate --group-by metric_time__week")  # fmt: skip
    mf.set_defaults(func=cmd_mf)
    docs = sub.add_parser("docs", help="generate dbt's documentation site from the last build")
    docs.add_argument("--export-dir", help=export_help)
    docs.add_argument("--no-wait", action="store_true", help=no_wait_help)
    docs.set_defaults(func=cmd_docs)
    from zuora_wh.extract import add_parser as add_extract_parser
    from zuora_wh.write_export import add_parser as add_export_parser

    add_export_parser(sub)
    add_extract_parser(sub)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except WarehouseError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing half-done was kept (no build published, no extract recorded)", file=sys.stderr)
        return 130


def main_exit() -> None:
    """The ``zuora-wh`` console script."""
    raise SystemExit(main())
