"""The warehouse's command line: ``python -m zuora_wh COMMAND``.

    build     check the exports (ZUORA_EXPORT_DIR, or the embedded demo), dbt build into the build file,
              and publish the result only if the build and every error-severity test passed
    publish   publish the last build again (the served DuckDB file and the Parquet files)
    report    the summary of the published build: files read, rows loaded, rejected by reason, superseded
    export    write the billing-run data-source view to CSV or Parquet (see ``export --help``)

Errors about the input are one line naming the file and the problem, with exit code 2; a failed dbt build
exits with dbt's code. Neither prints a Python traceback, and neither touches the served warehouse.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from zuora_wh import read_exports
from zuora_wh.publish import BuildBusy, build_lock, publish
from zuora_wh.report import summary

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "zuora.duckdb"
EXIT_BUSY = 75  # sysexits' EX_TEMPFAIL: another build is running, try again later


def _warehouse_dir(args) -> Path:
    return Path(args.warehouse_dir).resolve()


def build_db_path(warehouse_dir: Path, export_dir: Path | None) -> Path:
    """Each input (the demo, or one export folder) keeps its own build file, so incremental state never mixes."""
    key = "demo" if export_dir is None else hashlib.sha1(str(export_dir).encode()).hexdigest()[:10]
    return warehouse_dir / "build" / key / DB_NAME


def run_dbt(build_db: Path, export_dir: Path | None, dbt_args: list[str]) -> int:
    env = {
        **os.environ,
        "ZUORA_DUCKDB_PATH": str(build_db),
        "ZUORA_EXPORT_DIR": "" if export_dir is None else str(export_dir),
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_PROJECT_DIR": str(ROOT),
        # dbt's artifacts (manifest, run_results.json) beside the build file: builds of different inputs, and
        # the tests, never share a target folder.
        "DBT_TARGET_PATH": str(build_db.parent / "target"),
        "DBT_LOG_PATH": str(build_db.parent / "logs"),
    }
    dbt = Path(sys.executable).parent / "dbt"
    return subprocess.run([str(dbt), *dbt_args], cwd=ROOT, env=env, check=False).returncode


def cmd_build(args) -> int:
    warehouse_dir = _warehouse_dir(args)
    export_dir = Path(args.export_dir).resolve() if args.export_dir else None
    build_db = build_db_path(warehouse_dir, export_dir)
    build_db.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(warehouse_dir, wait=not args.no_wait):
        started = time.monotonic()
        full_refresh = args.full_refresh
        if export_dir is not None:
            with duckdb.connect(str(build_db)) as con:
                loaded = {} if full_refresh else read_exports.loaded_files_of(con)
                files, ignored = read_exports.prepare(export_dir, cache_dir=build_db.parent / "cache", known=loaded)
                for warning in read_exports.warnings(files, ignored):
                    print(f"warning: {warning}", file=sys.stderr)
                diff = read_exports.changes(loaded, files)
                stale = diff.stale(loaded)
                if stale:
                    # The warehouse is always what a fresh build of the folder gives: rows of a file that is gone
                    # or was replaced must leave the marts, which only a rebuild from every file does.
                    what = [f"{len(diff.removed)} removed"] if diff.removed else []
                    what += [f"{len(diff.changed)} changed in content"] if diff.changed else []
                    print(
                        f"exports: files the last build loaded were {' and '.join(what)} "
                        f"({', '.join(stale[:3])}{', ...' if len(stale) > 3 else ''}): rebuilding from every file"
                    )
                    full_refresh = True
                new = {ef.display_name for ef in files} if full_refresh else set(diff.new + diff.changed)
                read_exports.register(con, files, new, ignored)
            print(
                f"exports: {len(files)} files in {export_dir}: {len(new)} to load, "
                f"{len(files) - len(new)} unchanged since the last build"
            )
        dbt_args = ["build", *(["--full-refresh"] if full_refresh else []), *args.dbt_args]
        rc = run_dbt(build_db, export_dir, dbt_args)
        if rc != 0:
            print(
                f"error: dbt build failed (exit {rc}); nothing was published: {warehouse_dir / DB_NAME} "
                "still holds the last good build",
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
        publish(build_db, warehouse_dir / DB_NAME, warehouse_dir / "parquet")
        print(
            f"published {warehouse_dir / DB_NAME} and {warehouse_dir / 'parquet'}/ in {time.monotonic() - started:.1f}s"
        )
    return 0


def cmd_publish(args) -> int:
    warehouse_dir = _warehouse_dir(args)
    export_dir = Path(args.export_dir).resolve() if args.export_dir else None
    build_db = build_db_path(warehouse_dir, export_dir)
    if not build_db.exists():
        print(f"error: no build to publish at {build_db}: run 'python -m zuora_wh build' first", file=sys.stderr)
        return 2
    with build_lock(warehouse_dir, wait=not args.no_wait):
        publish(build_db, warehouse_dir / DB_NAME, warehouse_dir / "parquet")
    print(f"published {warehouse_dir / DB_NAME}")
    return 0


def cmd_report(args) -> int:
    db = Path(args.warehouse_dir) / DB_NAME
    if not db.exists():
        print(f"error: no warehouse at {db}: run 'make build' first", file=sys.stderr)
        return 2
    print(summary(db))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zuora_wh", description=__doc__.split("\n\n")[0])
    p.add_argument("--warehouse-dir", default=os.environ.get("ZUORA_WAREHOUSE_DIR", str(ROOT / "warehouse")))
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="check exports, dbt build, publish if every error-severity test passed")
    b.add_argument(
        "--export-dir",
        default=os.environ.get("ZUORA_EXPORT_DIR") or None,
        help="folder of real Zuora exports (default: $ZUORA_EXPORT_DIR, or the embedded demo when unset)",
    )
    b.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from every file")
    b.add_argument("--no-publish", action="store_true", help="build and test only; leave the served files alone")
    b.add_argument("--no-wait", action="store_true",
                   help=f"when another build holds the warehouse folder, exit at once with code {EXIT_BUSY} "
                        "instead of waiting for it")  # fmt: skip
    b.add_argument("dbt_args", nargs="*", help="more arguments for dbt build (after --)")
    b.set_defaults(func=cmd_build)
    pub = sub.add_parser("publish", help="publish the last build again")
    pub.add_argument("--export-dir", default=os.environ.get("ZUORA_EXPORT_DIR") or None)
    pub.add_argument("--no-wait", action="store_true", help=f"exit with code {EXIT_BUSY} if a build is running")
    pub.set_defaults(func=cmd_publish)
    rep = sub.add_parser("report", help="the summary of the published build: files, rows loaded, rejected, superseded")
    rep.set_defaults(func=cmd_report)
    from zuora_wh.export import add_parser as add_export_parser

    add_export_parser(sub)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except read_exports.ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BuildBusy as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BUSY
    except KeyboardInterrupt:
        print("interrupted: nothing was published", file=sys.stderr)
        return 130
