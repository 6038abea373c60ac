"""The extractor (python -m zuora_wh extract) against a stand-in for Zuora's API on 127.0.0.1 (fake_zuora.py).

Each fault of the protocol is its own test: a 429 storm, a 500 while polling, a job that ends in error, a download
cut short, a token that stops working mid-run, a run killed between the download and the state save, a run with
nothing new, a run after deletions. The extractor runs in-process (it is the same code the command runs); only the
end-to-end test builds warehouses.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from fake_zuora import HEADER, FakeZuora, demo_records, utc_text
from helpers import query, zuora_wh

from zuora_wh import cli, extract
from zuora_wh.columns import DELETED_COLUMN
from zuora_wh.tenants import STATE_FILE

CLIENT_ID = "fake-client-6f1c2d"
SECRET = "fake-secret-93b0e7a4c1"
FAST = ["--poll-interval", "0.01", "--retry-backoff", "0.01"]


@pytest.fixture
def zuora(monkeypatch):
    """One fake tenant, and the environment that names it (one tenant: no TOML file)."""
    with FakeZuora(CLIENT_ID, SECRET, records=demo_records(limit=60)) as fake:
        for name in ("ZUORA_TENANTS_FILE", "ZUORA_EXPORT_DIR", "ZUORA_CLIENT_SECRET_FILE", "ZUORA_ENTITY_IDS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ZUORA_BASE_URL", fake.url)
        monkeypatch.setenv("ZUORA_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("ZUORA_CLIENT_SECRET", SECRET)
        yield fake


def run_extract(folder: Path, *more: str) -> int:
    return cli.main(["extract", "--export-dir", str(folder), *FAST, *more])


def extract_files(folder: Path) -> list[Path]:
    """The extract files of a folder, oldest first (two runs in one second give names that do not sort by age)."""
    return sorted(folder.glob(f"{extract.FILE_PREFIX}*.csv"), key=lambda p: p.stat().st_mtime_ns)


def calls_to(fake: FakeZuora, prefix: str) -> int:
    """Calls to a path (a path ending in / counts only itself; others count every path they start)."""
    return sum(path == prefix if prefix.endswith("/") else path.startswith(prefix) for _, path, _ in fake.calls)


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def state_of(folder: Path) -> dict:
    return json.loads((folder / STATE_FILE).read_text())


def test_first_extract_follows_the_protocol(tmp_path, zuora, monkeypatch, capsys):
    monkeypatch.setenv("ZUORA_ENTITY_IDS", "8ae88709a9eec085e6908d782981adae")
    assert run_extract(tmp_path) == 0
    (written,) = extract_files(tmp_path)
    rows = rows_of(written)
    assert list(rows[0]) == [*HEADER, DELETED_COLUMN]
    assert len(rows) == len(zuora.records)
    # one stateless AQuA job: CSV, version 1.1, API names, UTC datetimes, deleted records, no mark the first time
    (body,) = zuora.queries
    assert (body["format"], body["version"], body["useQueryLabels"], body["dateTimeUtc"]) == ("csv", "1.1", "true",
                                                                                             "true")  # fmt: skip
    assert "partner" not in body and "project" not in body
    (q,) = body["queries"]
    assert q["type"] == "zoqlexport" and q["deleted"] == {"column": "Deleted", "format": "Boolean"}
    fields = q["query"].removeprefix("select ").split(" from BillingRun")[0].split(", ")
    assert {"Id", "Status", "UpdatedDate", "Entity.Id", "Entity.Name"} <= set(fields) and len(fields) == len(HEADER)
    assert "where" not in q["query"]
    # every call after the token carries the token and the entity header
    for _method, path, headers in zuora.calls:
        if path != "/oauth/token":
            assert headers["Authorization"].startswith("Bearer ")
            assert headers["Zuora-Entity-Ids"] == "8ae88709a9eec085e6908d782981adae"
    state = state_of(tmp_path)
    assert state["high_water_mark"] == max(r["BillingRun.UpdatedDate"] for r in rows).replace("+0000", "Z")
    assert state["files"] == [written.name]
    assert f"{len(rows)} rows" in capsys.readouterr().out


def test_second_run_with_nothing_new_writes_no_file(tmp_path, zuora, capsys):
    assert run_extract(tmp_path) == 0
    mark = state_of(tmp_path)["high_water_mark"]
    assert run_extract(tmp_path) == 0
    assert len(extract_files(tmp_path)) == 1
    assert f"where UpdatedDate >= '{mark}'" in zuora.queries[-1]["queries"][0]["query"]
    assert "nothing new" in capsys.readouterr().out


def test_run_after_changes_and_deletions(tmp_path, zuora):
    assert run_extract(tmp_path) == 0
    at_mark = set(state_of(tmp_path)["ids_at_mark"])  # asked for again (UpdatedDate >= mark): harmless repeats
    changed, deleted = list(zuora.records)[:2]
    zuora.update(changed, Status="Posted")
    zuora.delete(deleted)
    assert run_extract(tmp_path) == 0
    _first, second = extract_files(tmp_path)
    rows = {r["BillingRun.Id"]: r for r in rows_of(second)}
    assert set(rows) - at_mark == {changed, deleted}
    assert (rows[changed][DELETED_COLUMN], rows[deleted][DELETED_COLUMN]) == ("false", "true")
    assert state_of(tmp_path)["high_water_mark"] == rows[deleted]["BillingRun.UpdatedDate"].replace("+0000", "Z")


def test_a_429_storm_is_waited_out(tmp_path, zuora):
    """429s are retried: Retry-After is honoured, and RateLimit-Reset when there is no Retry-After."""
    zuora.faults["submit"] += [(429, {"Retry-After": "1"}), (429, {"RateLimit-Reset": "1"})] + [429] * 3
    started = time.monotonic()
    assert run_extract(tmp_path) == 0
    assert time.monotonic() - started >= 2  # the two waits the server asked for
    assert calls_to(zuora, "/v1/batch-query/") == 6
    assert len(extract_files(tmp_path)) == 1


def test_a_used_up_rate_limit_window_is_waited_for(tmp_path, zuora):
    """An answer with RateLimit-Remaining: 0 makes the next call wait for RateLimit-Reset (seconds)."""
    zuora.faults["submit"].append("ratelimited")
    started = time.monotonic()
    assert run_extract(tmp_path) == 0
    assert time.monotonic() - started >= 1
    assert calls_to(zuora, "/v1/batch-query/") == 1


def test_an_endless_429_storm_is_one_clear_error(tmp_path, zuora, capsys):
    zuora.faults["submit"] += [429] * (extract.RETRIES + 1)
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "POST /v1/batch-query/" in err and "429" in err
    assert not extract_files(tmp_path)


def test_a_500_while_polling_is_retried(tmp_path, zuora):
    zuora.faults["poll"] += [500, 503]
    assert run_extract(tmp_path) == 0
    assert calls_to(zuora, "/v1/batch-query/jobs") == zuora.polls_to_complete + 2
    assert len(extract_files(tmp_path)) == 1


def test_a_job_that_ends_in_error_writes_nothing(tmp_path, zuora, capsys):
    zuora.faults["poll"].append("error")
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert "ended in error" in err and "syntax error" in err and err.count("\n") == 1
    assert not extract_files(tmp_path) and not (tmp_path / STATE_FILE).exists()


def test_an_answer_that_is_no_json_is_one_clear_error(tmp_path, zuora, capsys):
    zuora.faults["poll"].append("garbage")
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert "no JSON object" in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_job_that_never_ends_is_bounded(tmp_path, zuora, capsys):
    zuora.polls_to_complete = 10_000
    assert run_extract(tmp_path, "--max-wait", "0.3") == 2
    assert "not done after" in capsys.readouterr().err


def test_a_download_cut_short_is_fetched_again(tmp_path, zuora):
    zuora.faults["file"].append("cut")
    assert run_extract(tmp_path) == 0
    assert calls_to(zuora, "/v1/file") == 2
    (written,) = extract_files(tmp_path)
    assert len(rows_of(written)) == len(zuora.records)


def test_a_download_cut_short_every_time_is_an_error(tmp_path, zuora, capsys):
    zuora.faults["file"] += ["cut"] * extract.DOWNLOAD_ATTEMPTS
    assert run_extract(tmp_path) == 2
    assert "cut short" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file, no state


def test_a_token_that_stops_working_mid_run_is_renewed(tmp_path, zuora):
    zuora.token_uses = 1  # every token works for one call only
    assert run_extract(tmp_path) == 0
    assert zuora.tokens_issued >= 3
    assert len(extract_files(tmp_path)) == 1


def test_bad_credentials_are_one_line_without_the_secret(tmp_path, zuora, monkeypatch, capsys):
    monkeypatch.setenv("ZUORA_CLIENT_SECRET", SECRET + "-wrong")
    assert run_extract(tmp_path) == 2
    out = capsys.readouterr()
    assert "refused the OAuth client" in out.err and out.err.count("\n") == 1
    assert SECRET not in out.err + out.out


def test_a_kill_between_download_and_state_save_loses_nothing(tmp_path, zuora, monkeypatch):
    """The file is in place when the run dies; the next run adopts it: no file twice, and the mark covers it."""

    def killed(folder, state):
        raise KeyboardInterrupt

    monkeypatch.setattr(extract, "save_state", killed)
    assert run_extract(tmp_path) == 130
    (written,) = extract_files(tmp_path)
    assert "files" not in json.loads((tmp_path / STATE_FILE).read_text() if (tmp_path / STATE_FILE).exists() else "{}")
    monkeypatch.setattr(extract, "save_state", extract.write_state)
    assert run_extract(tmp_path) == 0
    assert extract_files(tmp_path) == [written]  # nothing new: no second file
    state = state_of(tmp_path)
    assert state["files"] == [written.name]
    assert state["high_water_mark"] == max(r["BillingRun.UpdatedDate"] for r in rows_of(written)).replace("+0000", "Z")


def test_a_kill_while_polling_loses_nothing(tmp_path, zuora, monkeypatch):
    """Killed while the job runs: nothing is written, and the next run asks again from the same mark."""
    assert run_extract(tmp_path) == 0
    zuora.update(next(iter(zuora.records)), Status="Posted")
    state = state_of(tmp_path)

    def killed(self, job_id):
        raise KeyboardInterrupt

    monkeypatch.setattr(extract.TenantExtract, "wait", killed)
    assert run_extract(tmp_path) == 130
    assert state_of(tmp_path) == state and len(extract_files(tmp_path)) == 1
    monkeypatch.undo()
    monkeypatch.setenv("ZUORA_BASE_URL", zuora.url)
    monkeypatch.setenv("ZUORA_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZUORA_CLIENT_SECRET", SECRET)
    assert run_extract(tmp_path) == 0
    assert len(extract_files(tmp_path)) == 2
    assert f">= '{state['high_water_mark']}'" in zuora.queries[-1]["queries"][0]["query"]


def test_the_progress_line_shows_the_job_and_the_download(tmp_path, zuora, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert run_extract(tmp_path) == 0
    out = capsys.readouterr().out
    assert "\rthe tenant: AQuA job " in out and "completed (poll 2" in out
    assert f"downloading {len(zuora.records)} rows, " in out and " bytes" in out


def test_a_download_killed_halfway_leaves_no_file(tmp_path, zuora, monkeypatch):
    """A temporary file of a killed download is hidden from the build and removed by the next run."""
    (tmp_path / f".{extract.FILE_PREFIX}20250101T000000Z-deadbeef.csv.1234.partial").write_text("BillingRun.Id\n8a")
    assert run_extract(tmp_path) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_secret_file_others_can_read_is_refused(tmp_path, zuora, monkeypatch, capsys):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.delenv("ZUORA_CLIENT_SECRET")
    monkeypatch.setenv("ZUORA_CLIENT_SECRET_FILE", str(secret_file))
    secret_file.chmod(0o644)
    assert run_extract(tmp_path / "out") == 2
    assert "chmod 600" in capsys.readouterr().err
    secret_file.chmod(0o600)
    assert run_extract(tmp_path / "out") == 0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[[tenant]]\nname = 'us'\nbase_url = 'https://x'\nclient_id_env = 'A'\nclient_secret = 's'\n", "unknown keys"),
        ("[[tenant]]\nname = 'u s'\n", "no tenant name"),
        ("[[tenant]]\nname = 'us'\nbase_url = 'https://x'\nclient_id_env = 'NOPE_UNSET'\nclient_secret_env = 'B'\n",
         "is not set"),
        ("[[tenant]]\nname = 'us'\nbase_url = 'https://x'\nclient_id_env = 'A'\nclient_secret_env = 'A'\n"
         "time_zone = 'Mars/Olympus'\n", "no time zone"),
        ("tenant = 3\n", "no [[tenant]] table"),
    ],
    ids=["secret-in-file", "bad-name", "unset-variable", "bad-zone", "no-tenants"],
)  # fmt: skip
def test_a_bad_tenants_file_is_one_clear_error(tmp_path, monkeypatch, capsys, toml, message):
    monkeypatch.setenv("A", "a")
    monkeypatch.setenv("B", "b")
    (tmp_path / "tenants.toml").write_text(toml)
    assert run_extract(tmp_path / "out", "--tenants", str(tmp_path / "tenants.toml")) == 2
    err = capsys.readouterr().err
    assert message in err and str(tmp_path / "tenants.toml") in err and err.count("\n") == 1


def test_two_tenants_end_to_end(tmp_path, monkeypatch, capsys):
    """Extract two tenants and build, three times, with runs changed and deleted in Zuora in between: the marts
    then equal a full build of the tenants' current data, row for row. The two tenants hold the same bill-run IDs
    (the demo data twice): the tenant is part of every key. The three builds are the status history's three
    successive states of the export folder: fct_billing_run_status_changes has each transition, with the time
    spent in the status left. No secret is in any file written, nor in the output."""
    records = demo_records(limit=120)
    with FakeZuora("us-id", SECRET, records) as us, FakeZuora("eu-id", SECRET + "-eu", records) as eu:
        for name in ("ZUORA_TENANTS_FILE", "ZUORA_EXPORT_DIR"):
            monkeypatch.delenv(name, raising=False)
        env = {"US_ID": "us-id", "US_SECRET": SECRET, "EU_ID": "eu-id", "EU_SECRET": SECRET + "-eu"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        tenants = tmp_path / "tenants.toml"
        tenants.write_text(
            f"[[tenant]]\nname = 'us'\nbase_url = '{us.url}'\ntime_zone = 'America/Los_Angeles'\n"
            "client_id_env = 'US_ID'\nclient_secret_env = 'US_SECRET'\n\n"
            f"[[tenant]]\nname = 'eu'\nbase_url = '{eu.url}'\ntime_zone = 'Europe/Berlin'\n"
            "client_id_env = 'EU_ID'\nclient_secret_env = 'EU_SECRET'\n"
        )
        exports, warehouse = tmp_path / "exports", tmp_path / "warehouse"
        assert run_extract(exports, "--tenants", str(tenants)) == 0
        assert sorted(p.name for p in exports.iterdir()) == ["eu", "us"]
        first = zuora_wh("build", "--export-dir", str(exports), warehouse=warehouse)
        assert first.returncode == 0, first.stdout + first.stderr
        db = warehouse / "zuora.duckdb"
        assert query(db, "select tenant, count(*) from marts.fct_billing_runs group by 1 order by 1") == [
            ("eu", len(records)), ("us", len(records))]  # fmt: skip

        ids = list(records)
        canceled = [i for i in ids if records[i]["BillingRun.Status"] in ("Canceled", "Error")][:2]

        def first_in(status: str, skip: tuple[str, ...] = ()) -> str:
            return next(i for i in ids if records[i]["BillingRun.Status"] == status and i not in skip)

        pending, completed, reverted = first_in("Pending"), first_in("Completed"), first_in("Posted")
        canceling = first_in("Pending", skip=(pending,))
        us.update(pending, Status="Processing", StartDate=utc_text(us.clock))
        us.update(completed, Status="PostInProgress")
        us.update(reverted, Status="Completed", PostedDate="")  # a revert from Posted
        us.update(canceling, Status="CancelInProgress")
        us.delete(canceled[0])
        eu.delete(canceled[1])
        assert run_extract(exports, "--tenants", str(tenants)) == 0
        second = zuora_wh("build", "--export-dir", str(exports), warehouse=warehouse)
        assert second.returncode == 0, second.stdout + second.stderr
        us.update(pending, Status="Completed", EndDate=utc_text(us.clock), TotalTime="300000", NumberOfAccounts="3",
                  NumberOfInvoices="3")  # fmt: skip
        us.update(completed, Status="Posted", PostedDate=utc_text(us.clock))
        us.update(canceling, Status="Canceled")
        assert run_extract(exports, "--tenants", str(tenants)) == 0
        # a full refresh (as a removed or replaced file makes one) rebuilds the marts but keeps the status history
        third = zuora_wh("build", "--export-dir", str(exports), "--full-refresh", warehouse=warehouse)
        assert third.returncode == 0, third.stdout + third.stderr
        changes = query(db, "select billing_run_id, from_status, to_status, changed_at, seconds_in_from_status from "
                            "marts.fct_billing_run_status_changes where tenant = 'us' order by changed_at")  # fmt: skip
        assert [(i, a, b) for i, a, b, _, _ in changes] == [
            (pending, "Pending", "Processing"), (completed, "Completed", "PostInProgress"),
            (reverted, "Posted", "Completed"), (canceling, "Pending", "CancelInProgress"),
            (pending, "Processing", "Completed"), (completed, "PostInProgress", "Posted"),
            (canceling, "CancelInProgress", "Canceled"),
        ]  # fmt: skip
        # the time in a status is from the change that entered it to the change that left it
        assert changes[4][4] == (changes[4][3] - changes[0][3]).total_seconds() > 0

        reference = tmp_path / "reference"
        us.write_export(reference / "us", tenant="us", time_zone="America/Los_Angeles")
        eu.write_export(reference / "eu", tenant="eu", time_zone="Europe/Berlin")
        full = zuora_wh("build", "--export-dir", str(reference), warehouse=tmp_path / "reference-warehouse")
        assert full.returncode == 0, full.stdout + full.stderr
    for model, key in (("fct_billing_runs", "billing_run_id"), ("dim_zuora_entities", "entity_id")):
        sql = f"select * exclude (_source_file, _source_row_number) from marts.{model} order by tenant, {key}"
        incremental = query(db, sql)
        assert incremental == query(tmp_path / "reference-warehouse" / "zuora.duckdb", sql), model
    assert ("us", "Completed") in query(db, f"select tenant, status from marts.fct_billing_runs where "
                                            f"billing_run_id = '{reverted}'")  # fmt: skip
    # the day of a run is its tenant's: the same run, created at 04:49 UTC, is on another day in Los Angeles
    days = query(
        db,
        "select count(*) from marts.fct_billing_runs as us join marts.fct_billing_runs as eu using "
        "(billing_run_id) where us.tenant = 'us' and eu.tenant = 'eu' "
        "and us.created_date != eu.created_date",
    )
    assert days[0][0] > 0
    # an export is one tenant's: with two, the export command asks which
    mixed = zuora_wh("export", "--out", str(tmp_path / "runs.csv"), warehouse=warehouse)
    assert mixed.returncode == 2 and "holds 2 tenants (eu, us)" in mixed.stderr
    one = zuora_wh("export", "--out", str(tmp_path / "runs.csv"), "--tenant", "us", warehouse=warehouse)
    assert one.returncode == 0, one.stderr
    us_runs = query(db, "select count(*) from marts.fct_billing_runs where tenant = 'us'")[0][0]
    assert len(rows_of(tmp_path / "runs.csv")) == us_runs
    out = capsys.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for secret in (SECRET, SECRET + "-eu"):
        shown = [out.out, out.err] + [r.stdout + r.stderr for r in (first, second, third)]
        assert not any(secret in text for text in shown)
        leaks = [p for p in written if secret.encode() in p.read_bytes()]
        assert not leaks, leaks
