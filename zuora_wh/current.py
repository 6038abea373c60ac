"""Whether the served warehouse is current: published from exactly what a build would read now, so that the build
has nothing to do (``python -m zuora_wh build`` says so and exits at once, rewriting nothing).

After each publish, the build folder keeps ``published.json``: a fingerprint of everything a build's result depends
on besides the export files (the project's code, tests and seeds, the versions of dbt and DuckDB, the ``ZUORA_`` and
``DBT_`` settings of the environment, the build's extra dbt arguments), and the size and time of the files it
published. The export files themselves are compared by the file check (``zuora_wh.loaded_files``). A build is
current when no export file is to be loaded, the fingerprint is the same, and the published files are the ones it
wrote (not replaced by a build of another input, not deleted). A build that goes on forgets the record first, so
that a build that fails leaves none.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

from zuora_wh.dbt_runner import ROOT
from zuora_wh.publish import write_json

RECORD = "published.json"
# The fingerprint of the last dbt build that succeeded in the folder, and the warnings its tests had found
# (``built_with``).
BUILT = "built.json"
# What a build's result depends on in the project (with the files under each folder).
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests/generic", "zuora_wh")
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")
# What is in the environment but no setting of the build's result: where things are (part of which build folder and
# warehouse a build uses, or set by the build for dbt itself), the extractor's credentials, the alerts' channels.
NOT_SETTINGS = (
    "ZUORA_WAREHOUSE_DIR",
    "ZUORA_EXPORT_DIR",
    "ZUORA_DUCKDB_PATH",
    "ZUORA_INPUT",
    "ZUORA_TEST_WRITTEN_ROWS_ONLY",
    "ZUORA_TESTS_THAT_WARNED",
    "DBT_PROFILES_DIR",
    "DBT_PROJECT_DIR",
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
    "DBT_SEND_ANONYMOUS_USAGE_STATS",
    "ZUORA_BASE_URL",
    "ZUORA_CLIENT_ID",
    "ZUORA_CLIENT_SECRET",
    "ZUORA_CLIENT_SECRET_FILE",
    "ZUORA_ENTITY_IDS",
)
NOT_SETTINGS_PREFIXES = ("ZUORA_ALERT_",)


def fingerprint(dbt_args: list[str]) -> str:
    """A hash of what a build's result depends on besides the export files (the module's docstring)."""
    digest = hashlib.sha256()
    for part in PROJECT_PARTS:
        path = ROOT / part
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(f"{file.relative_to(ROOT)}\0".encode() + file.read_bytes() + b"\0")
    settings = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(("ZUORA_", "DBT_"))
        and name not in NOT_SETTINGS
        and not name.startswith(NOT_SETTINGS_PREFIXES)
    }
    packages = {name: version(name) for name in PACKAGES}
    digest.update(json.dumps([sorted(settings.items()), packages, dbt_args]).encode())
    return digest.hexdigest()


def stamp(path: Path) -> str | None:
    """A file's size and modification time, or None when there is no such file."""
    if not path.exists():
        return None
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def published_at(folder: Path, settings: str, published: list[Path]) -> str | None:
    """When the build of ``folder`` published the files ``published`` (the served file, the Parquet folder's
    record), if they are still what it published and ``settings`` is the fingerprint it was built with; else
    None."""
    record_path = folder / RECORD
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    same = record.get("settings") == settings and record.get("files") == [stamp(p) for p in published]
    return record.get("published_at") if same else None


def remember(folder: Path, settings: str, published: list[Path], published_at: str) -> None:
    """After a publish: what it was built from and what it wrote."""
    record = {"settings": settings, "files": [stamp(p) for p in published], "published_at": published_at}
    write_json(folder / RECORD, record)


def built_with(folder: Path) -> tuple[str | None, list[str]]:
    """The fingerprint of the last dbt build that succeeded in ``folder``, and the warning tests that found rows the
    last time they ran, as it recorded them (None and none: no build succeeded since it last failed)."""
    path = folder / BUILT
    record = json.loads(path.read_text()) if path.exists() else {}
    return record.get("settings"), record.get("warned", [])


def remember_built(folder: Path, settings: str, warned: list[str]) -> None:
    """After dbt succeeded: the project and settings the build file's tables and views were made with, and the
    warning tests that found rows the last time they ran (``build.still_warning``)."""
    write_json(folder / BUILT, {"settings": settings, "warned": sorted(warned)})


def forget(folder: Path) -> None:
    """Before a build changes anything: until it succeeds and publishes, the warehouse is not known to be current,
    nor the build file to hold what the project makes."""
    (folder / RECORD).unlink(missing_ok=True)
    (folder / BUILT).unlink(missing_ok=True)
