"""dbt, run for a build folder: its environment (``dbt_env``), and its output shown as a person wants it (``run_dbt``).

dbt runs in the build folder, with the database and its spill folder named relative to it: then every build's
profile and settings are the same, and dbt's parse of the project (``partial_parse.msgpack``) is shared by the
builds of every warehouse (``PARSE_CACHE``): parsing is most of a small build's time, and dbt parses again by itself
whenever the project or its settings changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from zuora_wh import dbt_process
from zuora_wh.publish import STAMPED
from zuora_wh.sql import spark_path
from zuora_wh.warehouse import MEMORY_LIMIT_SETTING, SPILL_DIR, input_mode, memory_limit, spark_dir

ROOT = Path(__file__).resolve().parents[1]
# The targets of profiles.yml: DuckDB (every command), and Spark (build only: README, Run on Spark or Databricks).
DUCKDB_TARGET, SPARK_TARGET = "dev", "spark"
PARSE_CACHE = ROOT / "target" / "parse-cache"
# The raw layer's statements for Spark, written by the build into the Spark folder (macro zuora_spark_raw_layer).
SPARK_RAW_LAYER = "raw_layer.jsonl"
_PROGRESS = re.compile(r"^\S+\s+(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|FAIL|SKIP)\b")
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\s+")


def dbt_env(
    build_db: Path,
    export_dir: Path | None,
    target: str = DUCKDB_TARGET,
    written_rows_only: bool = False,
    warned: list[str] | None = None,
    limit: str | None = None,
) -> dict[str, str]:
    """The environment of dbt for the build file ``build_db`` of ``export_dir`` (None: the demo): defaults the
    environment may override, the user's environment, then what the build decides. On Spark, the folder ``spark``
    beside the build file holds the metastore and the tables (ZUORA_SPARK_DIR). With ``written_rows_only``, the data
    tests of the stamped marts look at the rows this build wrote (macro get_where_subquery), but for the warning
    tests ``warned``, which found rows the last time they ran. DuckDB's memory ``limit`` is the build's
    (``warehouse.memory_limit``; by default its limit for rows not known)."""
    spark = target == SPARK_TARGET
    folder = spark_dir(build_db) if spark else build_db.parent
    # dbt's own debug log (logs/dbt.log) is left off: dbt-<command>.log keeps what dbt prints, and the debug log cost
    # 4% of a small build. DBT_LOG_LEVEL_FILE=debug in the environment brings it back.
    defaults = {
        "ZUORA_DUCKDB_TEMP_DIR": SPILL_DIR,
        "DBT_LOG_LEVEL_FILE": "none",
    }
    decided = {}
    if spark:
        defaults |= {"TZ": "UTC", "SPARK_LOCAL_IP": "127.0.0.1"}
        decided = {"ZUORA_SPARK_DIR": str(folder), "ZUORA_SPARK_RAW_LAYER": spark_path(str(folder / SPARK_RAW_LAYER))}
    return {
        **defaults,
        **os.environ,
        **decided,
        "ZUORA_DUCKDB_PATH": build_db.name,
        MEMORY_LIMIT_SETTING: limit or memory_limit(None),
        "ZUORA_INPUT": input_mode(export_dir),
        "ZUORA_TEST_WRITTEN_ROWS_ONLY": json.dumps(STAMPED) if written_rows_only else "",
        "ZUORA_TESTS_THAT_WARNED": json.dumps(sorted(warned or [])) if written_rows_only else "",
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_PROJECT_DIR": str(ROOT),
        # dbt's artifacts (manifest, run_results.json) beside the build file: builds of different inputs, and
        # the tests, never share a target folder.
        "DBT_TARGET_PATH": str(folder / "target"),
        "DBT_LOG_PATH": str(folder / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


# dbt's process started ahead of its build (started_ahead), which the next DuckDB run_dbt of this process takes.
_ahead: subprocess.Popen | None = None


@contextlib.contextmanager
def started_ahead():
    """Within the block, dbt's process is started at once and waits (``zuora_wh.dbt_process``, ``--ahead``): the next
    ``run_dbt`` on DuckDB hands it its order instead of starting dbt, so that importing dbt (1.3 to 1.8 s of one core)
    is done while this process waits for something else (a refresh, for Zuora's AQuA jobs: a poll every 5 s and
    more). A process still waiting when the block ends (no build ran) is stopped; it had only imported dbt. One block
    at a time (the refresh's)."""
    global _ahead
    _ahead = _dbt_process([dbt_process.AHEAD], ROOT, dict(os.environ), stdin=subprocess.PIPE)
    try:
        yield
    finally:
        unused, _ahead = _ahead, None
        if unused is not None:
            unused.kill()
            unused.wait()


def _dbt_process(argv: list[str], cwd: Path, env: dict[str, str], stdin=None) -> subprocess.Popen:
    """``python -m zuora_wh.dbt_process`` on ``argv``, its output (stdout and stderr) read as text, line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "zuora_wh.dbt_process", *argv],
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )


def _start(argv: list[str], cwd: Path, env: dict[str, str], target: str) -> subprocess.Popen:
    """dbt's process for one run: the one started ahead, given its order, if it waits (DuckDB only: a Spark build
    sets the process's time zone, which Python reads when it starts); else a new one."""
    global _ahead
    if target != DUCKDB_TARGET or _ahead is None:
        return _dbt_process(argv, cwd, env)
    ahead, _ahead = _ahead, None
    try:
        assert ahead.stdin is not None
        ahead.stdin.write(json.dumps({"cwd": str(cwd), "env": env, "argv": argv}) + "\n")
        ahead.stdin.close()
        return ahead
    except OSError:  # it ended before its order (its stdin is closed): a new one does the run
        ahead.kill()
        ahead.wait()
        return _dbt_process(argv, cwd, env)


def run_dbt(
    build_db: Path,
    export_dir: Path | None,
    dbt_args: list[str],
    target: str = DUCKDB_TARGET,
    written_rows_only: bool = False,
    warned: list[str] | None = None,
    limit: str | None = None,
) -> int:
    """Run dbt (``zuora_wh.dbt_process``: dbt's command line, quicker to start and end) with its whole output in
    ``dbt-<command>.log`` beside the build file (on Spark, in its folder). On a terminal, one progress line;
    everywhere, the warnings and errors, and dbt's closing lines (or, when dbt stopped before running anything, the
    error it printed)."""
    env = dbt_env(build_db, export_dir, target, written_rows_only, warned, limit)
    folder = Path(env["DBT_TARGET_PATH"]).parent
    log_path = folder / f"dbt-{dbt_args[0]}.log"
    tty = sys.stdout.isatty()
    notable, closing, seen_end, stopped = [], [], False, []
    parsed = folder / "target" / "partial_parse.msgpack"
    shared = PARSE_CACHE / f"{input_mode(export_dir)}{'' if target == DUCKDB_TARGET else '-' + target}.msgpack"
    _copy_quietly(shared, parsed, only_if_missing=True)
    with log_path.open("w", encoding="utf-8") as log:
        proc = _start(["--no-use-colors", *dbt_args, "--target", target], folder, env, target)
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
            elif stopped or text.startswith("Encountered an error"):
                stopped.append(text)
        rc = proc.wait()
    _copy_quietly(parsed, shared)
    if tty:
        print("\r" + " " * 40 + "\r", end="")
    for text in notable:
        print(f"  {text}")
    if rc:  # dbt's closing lines name what failed
        for text in (closing or stopped or ["(dbt printed no summary)"])[-40:]:
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
