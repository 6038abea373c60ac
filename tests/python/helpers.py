"""Test helpers: run dbt on a throw-away copy of this project, against a throw-away DuckDB file."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from zuora_wh.sql import quote_string
from zuora_wh.warehouse import versions_db

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT_PARTS = (
    "dbt_project.yml",
    "profiles.yml",
    "macros",
    "models",
    "tests/generic",
    "seeds/_zuora__seeds.yml",
    "seeds/zuora_reject_reasons.csv",
)


@dataclass
class DbtRun:
    returncode: int
    output: str
    project: Path

    def results(self) -> dict[str, dict]:
        """run_results.json of the run, by node name (a test: its name in the YAML)."""
        data = json.loads((self.project / "target" / "run_results.json").read_text())
        return {r["unique_id"].split(".")[2]: r for r in data["results"]}


TEST_BUILD = ROOT / "target" / "test.duckdb"  # the demo build of `make dbt-test`, which make test makes first


def copy_of_test_build(folder: Path) -> Path:
    """A copy of TEST_BUILD in ``folder``, under the same name (the database is named after its file), for a tool that
    opens it for writing (dbt, MetricFlow) while other test files read the original: a DuckDB file has one writer or
    many readers. The stored versions' file beside it (``zuora_wh.warehouse.versions_db``) is copied with it."""
    assert TEST_BUILD.exists(), "run `make dbt-test` first (make test does): these tests read the demo build it makes"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / TEST_BUILD.name
    shutil.copyfile(TEST_BUILD, copy)
    shutil.copyfile(versions_db(TEST_BUILD), versions_db(copy))
    return copy


def copy_project(dest: Path) -> Path:
    """A copy of the dbt project (code only, no seeds data) in ``dest``."""
    for part in PROJECT_PARTS:
        src, dst = ROOT / part, dest / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    return dest


def run_dbt(project: Path, *args: str, env: dict[str, str] | None = None) -> DbtRun:
    full_env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(project),
        "ZUORA_DUCKDB_PATH": str(project / "test.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(env or {}),
    }
    proc = subprocess.run(
        [str(BIN / "dbt"), "--no-use-colors", *args, "--project-dir", str(project)],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return DbtRun(proc.returncode, proc.stdout + proc.stderr, project)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]], lineterminator: str = "\n") -> None:
    """A CSV as Zuora writes it. With lineterminator "\r\n", values holding a carriage return are quoted too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator=lineterminator)
        writer.writeheader()
        writer.writerows(rows)


def zuora_wh_command(*args: str, warehouse: Path, env: dict[str, str] | None = None) -> dict:
    """The arguments of ``subprocess.run`` / ``Popen`` for ``python -m zuora_wh --warehouse-dir WAREHOUSE ARGS``, as
    a user would run it (no export folder from the test runner's environment)."""
    full_env = {k: v for k, v in os.environ.items() if k != "ZUORA_EXPORT_DIR"}
    full_env.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})})
    return {
        "args": [sys.executable, "-m", "zuora_wh", "--warehouse-dir", str(warehouse), *args],
        "cwd": ROOT,
        "env": full_env,
        "text": True,
    }


# The arguments of a build that is only the reference of a comparison (a fresh build that an incremental one must
# equal): dbt's data tests are left out there, since the build under test runs them; make test's time.
REFERENCE_ONLY = ("--", "--exclude", "test_type:data")


def zuora_wh(*args: str, warehouse: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m zuora_wh --warehouse-dir WAREHOUSE ARGS`` as a user would."""
    return subprocess.run(**zuora_wh_command(*args, warehouse=warehouse, env=env), capture_output=True, timeout=900)


def memory_limit_set(build_folder: Path) -> str:
    """What dbt's on-run-start set DuckDB's memory limit to in the last dbt run of ``build_folder`` (macro
    zuora_duckdb_memory_limit), from the compiled SQL of its run_results.json."""
    results = json.loads((build_folder / "target" / "run_results.json").read_text())["results"]
    (sql,) = [r["compiled_code"] for r in results if "memory_limit" in (r.get("compiled_code") or "")]
    return re.fullmatch(r"set memory_limit = '(.*)'", sql).group(1)


def query(db: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    """Run ``sql`` on the DuckDB file ``db``, read-only; a build file's stored versions beside it (the int models)
    are attached as ``versions``, as dbt has them."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        if versions_db(db).exists():
            con.execute(f"attach {quote_string(str(versions_db(db)))} as versions (read_only)")
        return con.execute(sql, parameters).fetchall()


# Each mart mart_rows compares: its key after the tenant, and its lineage columns (which name the file each version
# came from, and the build that wrote the row).
MART_KEYS = {
    "fct_billing_runs": ("billing_run_id", "_source_file, _source_row_number, _written_at"),
    "dim_entities": ("entity_id", "_source_file, _source_row_number"),
    "fct_billing_run_daily": ("entity_id nulls first, run_date", ""),
}


def mart_rows(warehouse: Path, model: str = "fct_billing_runs") -> list[tuple]:
    """Every row of a mart, without its lineage columns, in the order of its key (the tenant, then the rest)."""
    key, lineage = MART_KEYS[model]
    columns = f"* exclude ({lineage})" if lineage else "*"
    return query(warehouse / "zuora.duckdb", f"select {columns} from marts.{model} order by tenant, {key}")


def sql_examples() -> list[tuple[str, str]]:
    """Every ```sql block of the README and of the dbt docs: (where, the query)."""
    sources = [ROOT / "README.md", *sorted((ROOT / "models").rglob("*.md"))]
    return [
        (f"{path.relative_to(ROOT)} #{i + 1}", block)
        for path in sources
        for i, block in enumerate(re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.S))
    ]
