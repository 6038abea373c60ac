"""What a new analyst hits in the first hour, using only the README and --help: each point stays fixed.

One small export folder is built once (the module fixture); each test then makes one of the usual moves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import duckdb
import pytest
from helpers import ROOT, query, zuora_wh

from zuora_wh.generate import write_demo_files

RUNS = 60


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("newcomer")
    exports = root / "exports"
    write_demo_files(exports, bill_runs=RUNS)
    result = zuora_wh("build", "--export-dir", str(exports), warehouse=root / "wh")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"root": root, "exports": exports, "wh": root / "wh", "result": result}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_warehouse_says_what_it_holds_and_as_of_when(built):
    db = built["wh"] / "zuora.duckdb"
    info = query(db, "select built_from, tenant_timezone, bill_runs, data_as_of from audit.audit_warehouse_build")
    latest = query(db, "select max(updated_at) from marts.fct_billing_runs")[0][0]
    assert info == [(str(built["exports"]), "America/Los_Angeles", RUNS, latest)]
    assert f"input: {built['exports']}; built " in built["result"].stdout
    assert f"data as of {latest:%Y-%m-%d %H:%M:%S} UTC" in built["result"].stdout


def test_status_as_the_ui_shows_it(built):
    labels = dict(
        query(built["wh"] / "zuora.duckdb", "select distinct status, status_label from marts.fct_billing_runs")
    )
    ui = {
        "PostInProgress": "Post in progress",
        "CancelInProgress": "Cancel in progress",
        "RemoveInProgress": "Remove in progress",
    }
    assert labels == {status: ui.get(status, status) for status in labels}
    assert set(ui) & set(labels), "the sample has in-progress runs"


def test_only_the_demo_gives_way_to_another_input_without_replace(built, tmp_path):
    wh = tmp_path / "wh"
    shutil.copytree(built["wh"], wh)  # a warehouse built from real exports
    before = digest(wh / "zuora.duckdb")
    demo = zuora_wh("build", warehouse=wh)
    assert demo.returncode == 2
    assert demo.stderr.strip() == (
        f"error: {wh / 'zuora.duckdb'} holds the warehouse built from {built['exports']}, and this build is from "
        "demo: to replace it, add --replace (make build REPLACE=1); to keep both, give this build its own "
        "--warehouse-dir (ZUORA_WAREHOUSE_DIR)"
    )
    assert digest(wh / "zuora.duckdb") == before
    replaced = zuora_wh("build", "--replace", warehouse=wh)
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert query(wh / "zuora.duckdb", "select built_from, bill_runs from audit.audit_warehouse_build") == [
        ("demo", 720)
    ]
    # the demo has nothing to protect: real exports replace it with one line, no --replace needed
    real = zuora_wh("build", "--export-dir", str(built["exports"]), warehouse=wh)
    assert real.returncode == 0, real.stderr[-2000:]
    said = f"replacing the demo warehouse in {wh / 'zuora.duckdb'} with this build of {built['exports']}\n"
    assert said in real.stdout
    # but one export folder never silently replaces another's
    other = tmp_path / "other"
    shutil.copytree(built["exports"], other)
    refused = zuora_wh("build", "--export-dir", str(other), warehouse=wh)
    assert refused.returncode == 2 and f"holds the warehouse built from {built['exports']}" in refused.stderr


def test_build_folders_name_their_input_and_failed_first_attempts_leave_none(built, tmp_path):
    folders = list((built["wh"] / "build").iterdir())
    assert [f.name.startswith("exports-") for f in folders] == [True]
    assert (folders[0] / "input.txt").read_text().strip() == str(built["exports"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "runs.csv").write_bytes(b"")
    result = zuora_wh("build", "--export-dir", str(broken), warehouse=built["wh"])
    assert result.returncode == 2
    assert [f.name for f in (built["wh"] / "build").iterdir()] == [folders[0].name]


def test_a_missing_export_folder_names_where_it_came_from(tmp_path):
    flag = zuora_wh("build", "--export-dir", "../missing", warehouse=tmp_path / "wh")
    assert flag.stderr.strip() == (
        "error: ../missing: no such folder (given by --export-dir); name a folder of Zuora export files"
    )
    env = zuora_wh("build", warehouse=tmp_path / "wh", env={"ZUORA_EXPORT_DIR": str(tmp_path / "nope")})
    assert env.stderr.strip().endswith(
        "no such folder (given by ZUORA_EXPORT_DIR); name a folder of Zuora export files"
    )
    assert flag.returncode == env.returncode == 2
    assert not (tmp_path / "wh" / "build").exists() or not any((tmp_path / "wh" / "build").iterdir())


def test_spark_without_its_extras_is_one_clear_line(tmp_path, monkeypatch, capsys):
    """--target spark on an install without requirements-spark.txt says what to install (make test-spark, which has
    them, checks the missing Java)."""
    import importlib.util

    from zuora_wh import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    assert cli.main(["--warehouse-dir", str(tmp_path / "wh"), "build", "--target", "spark"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: --target spark needs Spark's extras: ") and "requirements-spark.txt" in line
    assert "\n" not in line and not (tmp_path / "wh").exists()


def test_docs_work_while_a_tool_holds_the_served_file(built):
    """dbt never opens the served file: a tool with a read-write connection (which takes the file's lock) does
    not stop the docs."""
    holder = duckdb.connect(str(built["wh"] / "zuora.duckdb"))
    try:
        result = zuora_wh("docs", "--export-dir", str(built["exports"]), warehouse=built["wh"])
    finally:
        holder.close()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    target = next((built["wh"] / "build").iterdir()) / "target"
    assert (target / "catalog.json").exists() and f"--target-path {target}" in result.stdout


def test_build_output_is_short_and_colourless_off_a_terminal(built):
    out = built["result"].stdout + built["result"].stderr
    assert "\x1b[" not in out, "no colour codes when the output is not a terminal"
    assert " PASS " not in out and " START " not in out, "no per-test lines: they are in dbt's log"
    log = next((built["wh"] / "build").iterdir()) / "dbt-build.log"
    assert f"dbt's full log: {log}" in out and " PASS " in log.read_text()
    # The summary names files relative to the export folder.
    assert "\nzuora_billing_run_export.csv " in built["result"].stdout
    assert max(len(line) for line in built["result"].stdout.splitlines()) < 160


def test_the_generator_needs_an_output_folder_and_writes_reexports(tmp_path):
    run = [sys.executable, "-m", "zuora_wh.generate"]
    missing = subprocess.run([*run, "--bill-runs", "5"], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and "the following arguments are required: --out-dir" in missing.stderr
    assert "--out-dir OUT_DIR" in subprocess.run([*run, "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    out = tmp_path / "exports"
    first = subprocess.run([*run, "--out-dir", str(out), "--bill-runs", "20"], cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [*run, "--out-dir", str(out), "--bill-runs", "20", "--reexport", "0.5", "--new-runs", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    reexport = out / "zuora_billing_run_export_reexport.csv"
    assert len(reexport.read_text().splitlines()) == 1 + 10 + 3


def test_metricflow_answers_on_any_warehouse_while_a_reader_holds_it(built, tmp_path):
    """The README's `python -m zuora_wh mf query`: on a warehouse of real exports (its build folder has no fixed
    name), read-only, while a BI tool holds the served file open."""
    served = built["wh"] / "zuora.duckdb"
    out = tmp_path / "by_year.csv"
    with duckdb.connect(str(served), read_only=True) as reader:
        (runs,) = reader.execute("select count(*) from marts.fct_billing_runs").fetchone()
        result = zuora_wh(
            "mf",
            "query",
            "--metrics",
            "bill_runs",
            "--group-by",
            "metric_time__year",
            "--csv",
            str(out),
            warehouse=built["wh"],
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert reader.execute("select count(*) from marts.fct_billing_runs").fetchone() == (runs,)
    rows = out.read_text().splitlines()
    assert rows[0] == "metric_time__year,bill_runs" and sum(int(r.split(",")[1]) for r in rows[1:]) == runs == RUNS


@pytest.mark.parametrize(("target", "needs"), [("browser", "Debian's chromium"), ("java", "Java 17")])
def test_make_test_says_first_what_the_machine_lacks(tmp_path, target, needs):
    """On a machine without chromium (or Java, for make test-spark) where it cannot install it, the first line of make
    test says what to install, and nothing runs."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("make", "sh", "id", "env"):
        (bare / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bare), "HOME": str(tmp_path)}
    result = subprocess.run(["make", "-s", target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout.splitlines()[0].startswith(f"make test{'-spark' if target == 'java' else ''} needs {needs}")


def test_help_and_the_build_say_paths_as_a_terminal_shows_them(tmp_path):
    """--help has no reStructuredText quotes; make build names an absolute warehouse folder as it is."""
    helped = subprocess.run([sys.executable, "-m", "zuora_wh", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert helped.returncode == 0 and "``" not in helped.stdout and "python -m zuora_wh COMMAND" in helped.stdout
    dry = subprocess.run(
        ["make", "-n", "build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ZUORA_WAREHOUSE_DIR": str(tmp_path / "wh")},
    )
    assert f"The warehouse is {tmp_path / 'wh' / 'zuora.duckdb'}. Try:" in dry.stdout
