"""The extractor (python -m zuora_wh extract) against a stand-in for Zuora written from Zuora's pages (fake_zuora.py).

Each behaviour of Zuora that the extractor relies on is its own test, named after what Zuora does: the window of
Zuora's high-water-mark recipe and a row that commits late, deleted records with forceExport (90012 without it),
90017, 90018, 90022, 90028, gzip answers, 429s with ratelimit-reset only, tokens that expire, a lost answer to a
submit (Idempotency-Key), jobs abandoned and cancelled, a tenant without Invoice Settlement or Multi-entity, entities
that change alone, the ID sweep after a long gap, and ``extract --check``. The extractor runs in-process (it is the
same code the command runs); only the end-to-end test builds warehouses.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from fake_zuora import FakeZuora, demo_tenant, utc_text
from helpers import REFERENCE_ONLY, mart_rows, query, zuora_wh

from zuora_wh import cli, extract
from zuora_wh.tenants import STATE_FILE
from zuora_wh.zuora_api import RETRIES

CLIENT_ID = "fake-client-6f1c2d"
SECRET = "fake-secret-93b0e7a4c1"
FAST = ["--poll-interval", "0.01", "--retry-backoff", "0.01"]
FLAG = "BillingRun.Deleted"
NEW_ID = "8a" + "0" * 29 + "1"


@pytest.fixture
def zuora(monkeypatch):
    """One fake tenant, and the environment that names it (one tenant: no TOML file)."""
    runs, entities = demo_tenant(limit=60)
    with FakeZuora(CLIENT_ID, SECRET, runs, entities) as fake:
        point_at(monkeypatch, fake)
        yield fake


def point_at(monkeypatch, fake: FakeZuora) -> None:
    for name in ("ZUORA_TENANTS_FILE", "ZUORA_EXPORT_DIR", "ZUORA_CLIENT_SECRET_FILE", "ZUORA_ENTITY_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZUORA_BASE_URL", fake.url)
    monkeypatch.setenv("ZUORA_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZUORA_CLIENT_SECRET", SECRET)


def run_extract(folder: Path, *more: str) -> int:
    return cli.main(["extract", "--export-dir", str(folder), *FAST, *more])


def extract_files(folder: Path, ending: str = ".csv") -> list[Path]:
    """The extract files of a folder (bill runs by default), oldest first."""
    found = [p for p in folder.glob("billing-runs-*.csv") if extract.kind_of(p.name) == extract.kind_of("x" + ending)]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns)


def calls_to(fake: FakeZuora, prefix: str, method: str | None = None) -> int:
    """Calls to a path (a path ending in / counts only itself; others count every path they start)."""
    return sum(
        (path == prefix if prefix.endswith("/") else path.startswith(prefix)) and method in (None, m)
        for m, path, _ in fake.calls
    )


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def state_of(folder: Path) -> dict:
    return json.loads((folder / STATE_FILE).read_text())


def mark(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def held(folder: Path) -> dict[str, dict[str, str]]:
    """What the folder's extracts say of each bill run: the latest record (a deletion removes it), as a build does."""
    latest: dict[str, dict[str, str]] = {}
    for path in extract_files(folder) + extract_files(folder, "-id-sweep.csv"):
        for row in rows_of(path):
            old = latest.get(row["BillingRun.Id"])
            if old is None or row["BillingRun.UpdatedDate"] >= old["BillingRun.UpdatedDate"]:
                latest[row["BillingRun.Id"]] = row
    return {k: {c: v for c, v in r.items() if c != FLAG} for k, r in latest.items() if r.get(FLAG) != "true"}


def live(fake: FakeZuora) -> dict[str, dict[str, str]]:
    header = fake._header(fake.field_names())
    return {r["BillingRun.Id"]: {c: r.get(c, "") for c in header} for r in fake.live_rows()}


# -- Zuora's high-water-mark recipe ----------------------------------------------------------------------------------
def test_a_first_extract_asks_for_every_change_since_2000_up_to_two_hours_ago(tmp_path, zuora, monkeypatch, capsys):
    """ "High Water Mark Approach for AQuA Stateless Queries": the window starts at 2000-01-01 the first time and ends
    two hours before the tenant's now; "Extract deleted data in each query": deleted with forceExport; "Stateless and
    stateful modes": no partner or project."""
    monkeypatch.setenv("ZUORA_ENTITY_IDS", "8ae88709a9eec085e6908d782981adae")
    end = zuora.clock - dt.timedelta(hours=2)
    assert run_extract(tmp_path) == 0
    (written,) = extract_files(tmp_path)
    rows = rows_of(written)
    assert next(iter(rows[0])) == FLAG  # the deleted flag first, named after the object
    assert held(tmp_path) == live(zuora)
    body = zuora.queries[0]
    assert (body["format"], body["version"], body["useQueryLabels"], body["dateTimeUtc"]) == (
        "csv",
        "1.1",
        "true",
        "true",
    )
    assert "partner" not in body and "project" not in body
    runs, entities = body["queries"]
    assert runs["deleted"] == {"column": "Deleted", "format": "Boolean", "forceExport": True}
    assert runs["query"].endswith(f"where UpdatedDate >= '2000-01-01T00:00:00Z' and UpdatedDate < '{mark(end)}'")
    assert entities["query"].endswith(
        f"where Entity.UpdatedDate >= '2000-01-01T00:00:00Z' and Entity.UpdatedDate < '{mark(end)}'"
    )
    for _method, path, headers in zuora.calls:
        if path != "/oauth/token":
            assert headers["Authorization"].startswith("Bearer ")
            assert headers["Zuora-Entity-Ids"] == "8ae88709a9eec085e6908d782981adae"
    state = state_of(tmp_path)
    assert state["high_water_mark"] == mark(end)
    assert state["files"] == {written.name: "runs", written.name.replace(".csv", "-entities.csv"): "entities"}
    assert f"{len(rows)} bill-run rows" in capsys.readouterr().out


def test_the_next_window_starts_where_the_last_ended(tmp_path, zuora, capsys):
    assert run_extract(tmp_path) == 0
    first_end = state_of(tmp_path)["high_water_mark"]
    zuora.advance(hours=1)
    assert run_extract(tmp_path) == 0
    assert f"UpdatedDate >= '{first_end}' and UpdatedDate < '" in zuora.queries[-1]["queries"][0]["query"]
    assert len(extract_files(tmp_path)) == 1 and "nothing new" in capsys.readouterr().out
    assert state_of(tmp_path)["high_water_mark"] > first_end  # the mark moves on even when nothing changed


def test_a_row_that_commits_late_is_not_lost(tmp_path, zuora):
    """ "High Water Mark Approach for AQuA Stateless Queries": a transaction that takes long to commit shows a row
    with an Updated Date older than rows already extracted. The window ends two hours back, so the next one has it
    (a mark moved to the largest Updated Date seen would have passed it for good)."""
    assert run_extract(tmp_path) == 0
    late, other = list(zuora.runs)[:2]
    zuora.begin_late(late, Status="Posted")  # Updated Date now, invisible until it commits
    zuora.advance(minutes=30)
    zuora.update(other, Status="Posted")  # seen by the next extract, with a later Updated Date
    assert run_extract(tmp_path) == 0
    zuora.commit_late()  # within Zuora's two hours
    zuora.advance(hours=3)
    assert run_extract(tmp_path) == 0
    assert held(tmp_path)[late]["BillingRun.Status"] == "Posted"
    assert held(tmp_path) == live(zuora)


# -- deleted records -------------------------------------------------------------------------------------------------
def test_deleted_records_carry_the_flag_and_only_the_id_and_date(tmp_path, zuora):
    assert run_extract(tmp_path) == 0
    gone = next(iter(zuora.runs))
    zuora.delete(gone)
    zuora.advance(hours=3)
    assert run_extract(tmp_path) == 0
    (record,) = [r for r in rows_of(extract_files(tmp_path)[-1]) if r["BillingRun.Id"] == gone]
    assert record[FLAG] == "true" and record["BillingRun.Status"] == "" and record["BillingRun.UpdatedDate"]
    assert gone not in held(tmp_path) and held(tmp_path) == live(zuora)


def test_without_deleted_records_for_the_object_the_id_sweep_finds_deletions(tmp_path, zuora, capsys):
    """ "AQuA API error codes" 90017: the query is submitted again without the deleted section; deletions are then
    found by the ID sweep, at every extract."""
    zuora.deleted_supported = False
    assert run_extract(tmp_path) == 0
    assert [("deleted" in b["queries"][0]) for b in zuora.queries] == [True, False]
    assert state_of(tmp_path)["deleted_records"] is False
    gone = next(iter(zuora.runs))
    zuora.delete(gone)
    zuora.advance(hours=3)
    assert run_extract(tmp_path) == 0
    assert "select Id from BillingRun" in [q["query"] for q in zuora.queries[-1]["queries"]]
    (sweep,) = extract_files(tmp_path, "-id-sweep.csv")
    assert [r["BillingRun.Id"] for r in rows_of(sweep)] == [gone]
    assert held(tmp_path) == live(zuora)
    assert "ID sweep (Zuora gives no deleted records" in capsys.readouterr().out


def test_a_forty_day_gap_sweeps_the_ids(tmp_path, zuora, capsys):
    """ "Export deleted data": Zuora keeps deleted records 30 days. After 40 days without an extract, the record of a
    run deleted on the first day is gone; the sweep, due after 25 days, finds it."""
    assert run_extract(tmp_path) == 0
    early, late = list(zuora.runs)[:2]
    zuora.delete(early)
    zuora.advance(days=39)
    zuora.delete(late)  # its deletion record is still there: the extract has it, the sweep needs not
    zuora.advance(days=1)
    assert run_extract(tmp_path) == 0
    (sweep,) = extract_files(tmp_path, "-id-sweep.csv")
    assert [r["BillingRun.Id"] for r in rows_of(sweep)] == [early]
    assert held(tmp_path) == live(zuora)
    assert state_of(tmp_path)["files"][sweep.name] == "id_sweep"
    assert "the last extract was 40 days ago" in capsys.readouterr().out
    zuora.advance(hours=3)
    assert run_extract(tmp_path) == 0
    assert len(zuora.queries[-1]["queries"]) == 2  # no sweep the next time


def test_reconcile_sweeps_on_demand(tmp_path, zuora):
    assert run_extract(tmp_path, "--reconcile") == 0  # nothing held yet: nothing to sweep
    assert len(zuora.queries[-1]["queries"]) == 2
    zuora.advance(hours=3)
    assert run_extract(tmp_path, "--reconcile") == 0
    assert zuora.queries[-1]["queries"][-1]["query"] == "select Id from BillingRun"
    assert extract_files(tmp_path, "-id-sweep.csv") == []  # Zuora still has every run


# -- what the tenant has ---------------------------------------------------------------------------------------------
def test_a_tenant_without_invoice_settlement_or_multi_entity(tmp_path, zuora, capsys):
    """ "Describe an object" lists no NumberOfCreditMemos; "Multi-entity: List entities" is refused: the query names
    neither (AQuA would refuse the job, 90005), and the state says why their columns stay empty."""
    zuora.invoice_settlement = zuora.multi_entity = False
    assert run_extract(tmp_path) == 0
    (runs,) = zuora.queries[-1]["queries"]
    assert "NumberOfCreditMemos" not in runs["query"] and "Entity." not in runs["query"]
    assert held(tmp_path) == live(zuora)
    missing = state_of(tmp_path)["unavailable_fields"]
    assert missing["Billing Run: Number of Credit Memos"].startswith("the tenant has no Invoice Settlement")
    assert missing["Entity: Name"].startswith("the tenant has no Multi-entity")


def test_an_entity_that_changes_alone_is_extracted(tmp_path, zuora):
    """An entity's change does not move its bill runs' Updated Date: its own Updated Date finds it."""
    assert run_extract(tmp_path) == 0
    entity = next(iter(zuora.entities))
    zuora.update_entity(entity, DisplayName="Acme Renamed")
    zuora.advance(hours=3)
    assert run_extract(tmp_path) == 0
    (_, changed) = extract_files(tmp_path, "-entities.csv")
    assert {r["Entity.DisplayName"] for r in rows_of(changed)} == {"Acme Renamed"}
    assert extract_files(tmp_path)[-1:] == extract_files(tmp_path)[:1]  # no bill run changed: no new runs file


def test_check_says_what_the_tenant_has_and_writes_nothing(tmp_path, zuora, capsys):
    zuora.invoice_settlement = False
    assert run_extract(tmp_path / "out", "--check") == 0
    out = capsys.readouterr().out
    assert "authenticated" in out and "not one of Zuora's data centers by name (127.0.0.1)" in out
    assert "entities: 4: Global (" in out
    assert "missing Billing Run: Number of Credit Memos: the tenant has no Invoice Settlement" in out
    assert f"bill runs: {len(zuora.runs)}" in out and "saved mark: none" in out
    assert not (tmp_path / "out").exists()


# -- AQuA's errors ---------------------------------------------------------------------------------------------------
def test_a_query_zuora_ignores_for_lack_of_permission_is_an_error(tmp_path, zuora, capsys):
    """ "AQuA API error codes": "When the API user does not have permission to access one or more objects in a query,
    that query is ignored during execution" (90018): its empty file is an error, never "nothing new"."""
    zuora.forbidden.add("BillingRun")
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert "90018" in err and "permission" in err and err.count("\n") == 1
    assert not extract_files(tmp_path) and not (tmp_path / STATE_FILE).exists()


def test_too_many_concurrent_jobs_waits_and_submits_again(tmp_path, zuora):
    zuora.faults["submit"] += ["90028", "90028"]
    assert run_extract(tmp_path) == 0
    assert calls_to(zuora, "/v1/batch-query/", "POST") == 3 and len(zuora.jobs) == 1


def test_a_job_ended_by_zuoras_internal_error_is_submitted_again(tmp_path, zuora):
    zuora.faults["poll"].append("90022")
    assert run_extract(tmp_path) == 0
    assert len(zuora.jobs) == 2 and held(tmp_path) == live(zuora)


def test_a_job_that_ends_in_any_other_error_is_one_clear_line(tmp_path, zuora, capsys):
    zuora.faults["poll"].append("error")
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert "ended in error" in err and "AQuA error 90005" in err and "syntax error" in err and err.count("\n") == 1
    assert not extract_files(tmp_path) and not (tmp_path / STATE_FILE).exists()


def test_a_job_refused_for_deleted_columns_is_one_clear_line(tmp_path, zuora, capsys, monkeypatch):
    """90012 is what Zuora answers a stateless query with deleted records and no forceExport: the extractor never
    sends one, so this is shown by taking forceExport away."""
    real = extract.batch_request

    def without_force(*args, **kwargs):
        request = real(*args, **kwargs)
        request["queries"][0].get("deleted", {}).pop("forceExport", None)
        return request

    monkeypatch.setattr(extract, "batch_request", without_force)
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert "AQuA refused the job (AQuA error 90012: Stateless AQuA does not support deleted columns" in err


def test_a_lost_answer_to_a_submit_is_the_same_job(tmp_path, zuora):
    """ "Submit an aggregate query job": the Idempotency-Key makes the retried POST the same job."""
    zuora.faults["submit"].append("lost")
    assert run_extract(tmp_path) == 0
    keys = [h.get("Idempotency-Key") for m, p, h in zuora.calls if p == "/v1/batch-query/"]
    assert len(keys) == 2 and keys[0] == keys[1] and len(zuora.jobs) == 1


# -- HTTP: compression, rate limits, tokens, faults ------------------------------------------------------------------
def test_files_arrive_compressed_and_are_checked_by_their_row_count(tmp_path, zuora):
    """ "Get file download" with Accept-Encoding: gzip: Content-Length is the compressed size on the wire."""
    assert run_extract(tmp_path) == 0
    downloads = [h for m, p, h in zuora.calls if p.startswith("/v1/file/")]
    assert downloads and all("gzip" in h["Accept-Encoding"] for h in downloads)
    assert held(tmp_path) == live(zuora)


def test_a_429_waits_for_ratelimit_reset(tmp_path, zuora):
    """ "Rate limits": a 429 says when the window opens again in ratelimit-reset (there is no Retry-After)."""
    zuora.faults["submit"] += [(429, {"ratelimit-reset": "1"}), (429, {"ratelimit-reset": "1"}), 429]
    started = time.monotonic()
    assert run_extract(tmp_path) == 0
    assert time.monotonic() - started >= 2
    assert calls_to(zuora, "/v1/batch-query/", "POST") == 4


def test_a_used_up_rate_limit_window_is_waited_for(tmp_path, zuora):
    zuora.faults["submit"].append("ratelimited")
    started = time.monotonic()
    assert run_extract(tmp_path) == 0
    assert time.monotonic() - started >= 1


def test_an_endless_429_storm_is_one_clear_error(tmp_path, zuora, capsys):
    zuora.faults["describe"] += [(429, {"ratelimit-reset": "0"})] * (RETRIES + 1)
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/v1/describe/BillingRun" in err and "429" in err


def test_a_500_while_polling_is_retried(tmp_path, zuora):
    zuora.faults["poll"] += [500, 503]
    assert run_extract(tmp_path) == 0
    assert len(extract_files(tmp_path)) == 1


def test_an_answer_that_is_no_json_is_one_clear_error(tmp_path, zuora, capsys):
    zuora.faults["poll"].append("garbage")
    assert run_extract(tmp_path) == 2
    err = capsys.readouterr().err
    assert "no JSON object" in err and err.count("\n") == 1 and "Traceback" not in err


def test_tokens_that_expire_mid_job_are_renewed(tmp_path, zuora):
    """ "Create an OAuth token": a token lives 3599 seconds; this job outlives two of them."""
    zuora.polls_to_complete, zuora.seconds_per_poll = 4, 1800
    assert run_extract(tmp_path) == 0
    assert zuora.tokens_issued >= 3 and held(tmp_path) == live(zuora)


def test_bad_credentials_are_one_line_without_the_secret(tmp_path, zuora, monkeypatch, capsys):
    monkeypatch.setenv("ZUORA_CLIENT_SECRET", SECRET + "-wrong")
    assert run_extract(tmp_path) == 2
    out = capsys.readouterr()
    assert "refused the OAuth client" in out.err and out.err.count("\n") == 1
    assert SECRET not in out.err + out.out


def test_a_download_cut_short_is_fetched_again(tmp_path, zuora):
    zuora.faults["file"].append("cut")
    assert run_extract(tmp_path) == 0
    assert calls_to(zuora, "/v1/file") == 3  # the cut one again, and the entities' file
    assert held(tmp_path) == live(zuora)


def test_a_download_cut_short_every_time_is_an_error(tmp_path, zuora, capsys):
    zuora.faults["file"] += ["cut"] * extract.DOWNLOAD_ATTEMPTS
    assert run_extract(tmp_path) == 2
    assert "was incomplete 3 times" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file, no state


# -- abandoned jobs and killed runs ----------------------------------------------------------------------------------
def test_a_job_that_never_ends_is_bounded_and_cancelled(tmp_path, zuora, capsys):
    """ "Cancel a running aggregate query job": the job this run gives up on does not run on for hours."""
    zuora.polls_to_complete = 10_000
    assert run_extract(tmp_path, "--max-wait", "0.3") == 2
    err = capsys.readouterr().err
    assert "not done after" in err and "was cancelled" in err and err.count("\n") == 1
    assert zuora.cancelled_jobs() == list(zuora.jobs)


def test_a_kill_while_polling_cancels_the_job_and_loses_nothing(tmp_path, zuora, monkeypatch):
    assert run_extract(tmp_path) == 0
    zuora.update(next(iter(zuora.runs)), Status="Posted")
    zuora.advance(hours=3)
    state = state_of(tmp_path)
    real_job = extract.ZuoraClient.job

    def killed(self, job_id):
        raise KeyboardInterrupt

    monkeypatch.setattr(extract.ZuoraClient, "job", killed)
    assert run_extract(tmp_path) == 130
    assert state_of(tmp_path) == state and len(extract_files(tmp_path)) == 1
    assert len(zuora.cancelled_jobs()) == 1
    monkeypatch.setattr(extract.ZuoraClient, "job", real_job)
    assert run_extract(tmp_path) == 0
    assert f">= '{state['high_water_mark']}'" in zuora.queries[-1]["queries"][0]["query"]
    assert held(tmp_path) == live(zuora)


def test_a_kill_between_download_and_state_save_loses_nothing(tmp_path, zuora, monkeypatch):
    """The files are in place when the run dies; the next run adopts them and asks for the same window again."""

    def killed(folder, state):
        raise KeyboardInterrupt

    monkeypatch.setattr(extract, "save_state", killed)
    assert run_extract(tmp_path) == 130
    (written,) = extract_files(tmp_path)
    assert not (tmp_path / STATE_FILE).exists()
    monkeypatch.setattr(extract, "save_state", extract.write_state)
    assert run_extract(tmp_path) == 0
    assert "2000-01-01T00:00:00Z" in zuora.queries[-1]["queries"][0]["query"]
    assert written.name in state_of(tmp_path)["files"] and held(tmp_path) == live(zuora)


def test_the_progress_line_shows_the_job_and_the_download(tmp_path, zuora, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert run_extract(tmp_path) == 0
    out = capsys.readouterr().out
    assert "\rthe tenant: AQuA job " in out and "completed (poll 2" in out
    assert f"downloading billing_runs: {len(zuora.runs)} rows, " in out and " bytes" in out


def test_a_download_killed_halfway_leaves_no_file(tmp_path, zuora):
    """A temporary file of a killed download is hidden from the build and removed by the next run."""
    (tmp_path / f".{extract.FILE_PREFIX}billing_runs-1234.partial").write_text("BillingRun.Id\n8a")
    assert run_extract(tmp_path) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_state_of_the_older_version_asks_again_for_two_hours(tmp_path, zuora):
    """The older extractor's mark was the largest Updated Date it saw: rows that committed late before it may be
    missing, so the first window of this version starts two hours earlier."""
    (tmp_path / STATE_FILE).write_text(json.dumps({"high_water_mark": "2024-06-01T12:00:00Z", "files": []}))
    assert run_extract(tmp_path) == 0
    assert "UpdatedDate >= '2024-06-01T10:00:00Z'" in zuora.queries[-1]["queries"][0]["query"]


# -- configuration ---------------------------------------------------------------------------------------------------
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
        (
            "[[tenant]]\nname = 'us'\nbase_url = 'https://x'\nclient_id_env = 'NOPE_UNSET'\nclient_secret_env = 'B'\n",
            "is not set",
        ),
        (
            "[[tenant]]\nname = 'us'\nbase_url = 'https://x'\nclient_id_env = 'A'\nclient_secret_env = 'A'\n"
            "time_zone = 'Mars/Olympus'\n",
            "no time zone",
        ),
        ("tenant = 3\n", "no [[tenant]] table"),
    ],
    ids=["secret-in-file", "bad-name", "unset-variable", "bad-zone", "no-tenants"],
)
def test_a_bad_tenants_file_is_one_clear_error(tmp_path, monkeypatch, capsys, toml, message):
    monkeypatch.setenv("A", "a")
    monkeypatch.setenv("B", "b")
    (tmp_path / "tenants.toml").write_text(toml)
    assert run_extract(tmp_path / "out", "--tenants", str(tmp_path / "tenants.toml")) == 2
    err = capsys.readouterr().err
    assert message in err and str(tmp_path / "tenants.toml") in err and err.count("\n") == 1


# -- extract, then build ---------------------------------------------------------------------------------------------
def test_extract_then_build_equals_the_live_bill_runs(tmp_path, monkeypatch, capsys):
    """Two tenants with the same bill-run IDs (the demo data twice; the tenant is part of every key): us has every
    feature, eu neither Invoice Settlement nor Multi-entity. Four rounds of extract and build: the first extract;
    runs that move on, a new run, deletions, a late commit and an entity's change, through faults (a busy AQuA, an
    internal error, a cut download, 429s, a token that expires mid-job); the late commit committed, as a full refresh
    (the status history stays); and a 40-day gap whose deletions only the ID sweep finds. After each round but the
    third (whose marts the fourth builds on) the marts equal a fresh build of the tenants' live data, row for row;
    the status history has each transition; the report says why eu's columns are empty; no secret is in any file or
    output."""
    runs, entities = demo_tenant(limit=120)
    with (
        FakeZuora("us-id", SECRET, runs, entities) as us,
        FakeZuora("eu-id", SECRET + "-eu", runs, entities, invoice_settlement=False, multi_entity=False) as eu,
    ):
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
        db = warehouse / "zuora.duckdb"
        outputs = []

        def round_trip(*build_args: str, compare: bool = True) -> None:
            assert run_extract(exports, "--tenants", str(tenants)) == 0
            built = zuora_wh("build", "--export-dir", str(exports), *build_args, warehouse=warehouse)
            assert built.returncode == 0, built.stdout + built.stderr
            outputs.append(built.stdout + built.stderr)
            if not compare:
                return
            reference = tmp_path / f"reference-{len(outputs)}"
            us.write_export(reference / "us", tenant="us", time_zone="America/Los_Angeles")
            eu.write_export(reference / "eu", tenant="eu", time_zone="Europe/Berlin")
            reference_wh = tmp_path / f"{reference.name}-wh"
            full = zuora_wh("build", "--export-dir", str(reference), *REFERENCE_ONLY, warehouse=reference_wh)
            assert full.returncode == 0, full.stdout + full.stderr
            for model in ("fct_billing_runs", "dim_entities", "fct_billing_run_daily"):
                got, want = mart_rows(warehouse, model), mart_rows(reference_wh, model)
                assert got == want, (model, sorted(set(got) - set(want))[:3], sorted(set(want) - set(got))[:3])

        round_trip()
        counts = query(
            db,
            "select tenant, count(*), count(number_of_credit_memos), count(entity_name) from "
            "marts.fct_billing_runs group by 1 order by 1",
        )
        assert counts[0] == ("eu", len(runs), 0, 0) and counts[1][0:2] == ("us", len(runs)) and min(counts[1][2:]) > 0

        ids = list(runs)

        def first_in(status: str, skip: tuple[str, ...] = ()) -> str:
            return next(i for i in ids if runs[i]["BillingRun.Status"] == status and i not in skip)

        pending, completed, reverted = first_in("Pending"), first_in("Completed"), first_in("Posted")
        canceling = first_in("Pending", skip=(pending,))
        canceled = [i for i in ids if runs[i]["BillingRun.Status"] in ("Canceled", "Error")]
        us.update(pending, Status="Processing", StartDate=utc_text(us.clock))
        us.update(completed, Status="PostInProgress")
        us.update(reverted, Status="Completed", PostedDate="")  # a revert from Posted
        us.update(canceling, Status="CancelInProgress")
        us.create(
            NEW_ID,
            like=completed,
            Status="Pending",
            StartDate="",
            EndDate="",
            PostedDate="",
            TotalTime="",
            NumberOfAccounts="",
            NumberOfInvoices="",
            NumberOfCreditMemos="",
        )
        us.update_entity(runs[completed]["Entity.Id"], DisplayName="Acme Renamed")
        us.delete(canceled[0])
        eu.delete(canceled[1])
        for fake in (us, eu):
            fake.advance(hours=3)
        us.begin_late(canceled[2], Name="committed late")  # within the two hours before the extract
        us.faults["submit"] += ["90028", 429]
        us.faults["poll"].append("90022")
        us.faults["file"].append("cut")
        eu.polls_to_complete, eu.seconds_per_poll = 4, 1800  # its token expires mid-job
        round_trip()

        def status_changes() -> list[tuple]:
            return query(
                db,
                "select billing_run_id, from_status, to_status, changed_at, seconds_in_from_status from "
                "marts.fct_billing_run_status_changes where tenant = 'us' order by changed_at, billing_run_id",
            )

        # an incremental build works out the changes of the runs it recorded
        assert sorted((i, a, b) for i, a, b, _, _ in status_changes()) == sorted(
            [
                (pending, "Pending", "Processing"),
                (completed, "Completed", "PostInProgress"),
                (reverted, "Posted", "Completed"),
                (canceling, "Pending", "CancelInProgress"),
            ]
        )

        us.commit_late()
        us.update(
            pending,
            Status="Completed",
            EndDate=utc_text(us.clock),
            TotalTime="300000",
            NumberOfAccounts="3",
            NumberOfInvoices="3",
        )
        us.update(completed, Status="Posted", PostedDate=utc_text(us.clock))
        us.update(canceling, Status="Canceled")
        for fake in (us, eu):
            fake.advance(hours=3)
        # A full refresh rebuilds the marts but keeps the status history. Its marts are compared with the live data
        # after the next round, which builds on them (one reference build fewer: make test's time).
        round_trip("--full-refresh", compare=False)
        changes = status_changes()
        assert [(i, a, b) for i, a, b, _, _ in changes] == [
            (pending, "Pending", "Processing"),
            (completed, "Completed", "PostInProgress"),
            (reverted, "Posted", "Completed"),
            (canceling, "Pending", "CancelInProgress"),
            (pending, "Processing", "Completed"),
            (completed, "PostInProgress", "Posted"),
            (canceling, "CancelInProgress", "Canceled"),
        ]
        assert changes[4][4] == (changes[4][3] - changes[0][3]).total_seconds() > 0

        us.delete(canceled[3])  # its deletion record is gone after 30 days: only the sweep finds it
        for fake in (us, eu):
            fake.advance(days=40)
        round_trip()
        assert status_changes() == changes  # an incremental build with no new version: the same changes
        assert query(
            db, "select tenant, billing_run_id, deletion_found_by from marts.fct_deleted_billing_runs order by 1, 2"
        ) == sorted(
            [
                ("eu", canceled[1], "deleted_record"),
                ("us", canceled[0], "deleted_record"),
                ("us", canceled[3], "id_sweep"),
            ]
        )

    report = zuora_wh("report", warehouse=warehouse)
    assert "tenant eu: no Billing Run: Number of Credit Memos: the tenant has no Invoice Settlement" in report.stdout
    assert (
        "tenant eu: no Entity: Address 1, Entity: Address 2, Entity: City and 11 more: the tenant has no "
        "Multi-entity" in report.stdout
    )
    # an export is one tenant's: with two, the export command asks which
    mixed = zuora_wh("export", "--out", str(tmp_path / "runs.csv"), warehouse=warehouse)
    assert mixed.returncode == 2 and "holds 2 tenants (eu, us)" in mixed.stderr
    out = capsys.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for secret in (SECRET, SECRET + "-eu"):
        assert not any(secret in text for text in [out.out, out.err, report.stdout, *outputs])
        leaks = [p for p in written if secret.encode() in p.read_bytes()]
        assert not leaks, leaks
