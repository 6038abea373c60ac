"""Pull bill runs straight from Zuora: ``python -m zuora_wh extract --export-dir DIR``.

Zuora's AQuA (Aggregate Query API) in stateless mode, as Zuora recommends it, for each tenant (``zuora_wh.tenants``):

1. ``POST /oauth/token`` with the OAuth client (``client_credentials``); every call then carries the bearer token
   (and ``Zuora-Entity-Ids`` when set). The token is renewed before it expires, and once when a call answers 401.
2. ``POST /v1/batch-query/``: one ``zoqlexport`` query of the Billing Run fields and the joined Entity fields, every
   field of the data source (var ``zuora_fields``), ``where UpdatedDate >= '<high-water mark>'`` (none on the first
   extract or with ``--full``), with deleted records (the query option ``deleted``: a ``Deleted`` column), CSV,
   API-name headers (``useQueryLabels``) and UTC datetimes (``dateTimeUtc``).
3. ``GET /v1/batch-query/jobs/{id}`` until the job is ``completed`` (``error`` and ``aborted`` are failures), within a
   bounded total wait.
4. ``GET /v1/file/{fileId}``: the batch's file, written under a hidden temporary name, checked (every byte the
   server announced, as many rows as the batch's ``recordCount``), synced, then renamed: an export file the build
   reads like any other (a combined Billing Run and Entity file).

The high-water mark is kept in the tenant folder's state file (``.zuora-extract.json``): the largest Updated Date of
the files durably written. It never moves past data that is not written: a file is renamed into place before the
state names it, and a file that a killed run wrote without recording it is adopted by the next run (its Updated
Dates raise the mark). A run that finds nothing new writes no file.

Every call has bounded timeouts. 429 and 5xx answers, and dropped connections, are retried with exponential backoff
and jitter, honouring ``Retry-After`` and, on a 429 without it, ``RateLimit-Reset``; when ``RateLimit-Remaining``
reaches 0 the next call waits for the reset. Each failure is one line naming the tenant and what failed (exit 2);
secrets never appear in output, files or errors.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from zuora_wh.columns import BILLING_RUN_FIELDS, DELETED_COLUMN, ENTITY_FIELDS
from zuora_wh.errors import UsageError, WarehouseError
from zuora_wh.publish import fsync_path
from zuora_wh.tenants import STATE_FILE, Tenant, from_environment, from_toml, read_state

QUERY_NAME = "billing_runs"
FILE_PREFIX = "billing-runs-"  # extract files: billing-runs-<UTC time>-<job>.csv
TIMEOUT = (10.0, 120.0)  # seconds: to connect, and between two bytes of an answer
RETRIES = 6  # per call, on 429, 5xx and dropped connections
RETRY_AFTER_MAX = 300  # seconds: a longer Retry-After is cut to this
RATE_LIMIT_WAIT_MAX = 60.0  # seconds: the longest wait for a rate-limit window to reset
DOWNLOAD_ATTEMPTS = 3  # a file that arrives cut short is downloaded again, this many times in all
FAILED_JOB_STATES = ("error", "aborted", "cancelled")
UPDATED_DATE = "BillingRun.UpdatedDate"
ID = "BillingRun.Id"


class ExtractError(WarehouseError):
    """A failed call, job or download: the message names the tenant and what failed."""


class _ZuoraRetry(Retry):
    """urllib3's retry policy (exponential backoff with jitter, Retry-After), which also honours RateLimit-Reset
    on a 429 that carries no Retry-After."""

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        if after is None and response.status == 429:
            try:
                after = min(float(response.headers.get("RateLimit-Reset", "")), float(RETRY_AFTER_MAX))
            except ValueError:
                return None
        return after


@dataclass
class Settings:
    max_wait: float = 3 * 3600.0  # seconds for one job: AQuA's own limit is 3 hours a query
    poll_interval: float = 5.0  # seconds before the first poll; each next wait is 1.5 times longer, up to 60
    retry_backoff: float = 1.0  # seconds: the first retry's wait, doubled at each next retry (with jitter)
    progress: bool = False  # a progress line (on a terminal)


class ZuoraClient:
    """The REST calls of one tenant: OAuth, retries, rate limits, timeouts."""

    def __init__(self, tenant: Tenant, settings: Settings):
        self.tenant = tenant
        self.settings = settings
        self.token: str | None = None
        self.token_expires = 0.0
        self.session = requests.Session()
        retry = _ZuoraRetry(
            total=RETRIES,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # POSTs too: a batch-query submitted twice is only a second job
            backoff_factor=settings.retry_backoff,
            backoff_jitter=settings.retry_backoff,
            backoff_max=60,
            retry_after_max=RETRY_AFTER_MAX,
            raise_on_status=False,  # the last answer is returned, and named in the error
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.hooks["response"].append(self._respect_rate_limit)

    def _respect_rate_limit(self, response, *args, **kwargs):
        if response.headers.get("RateLimit-Remaining") == "0":
            try:
                wait = float(response.headers.get("RateLimit-Reset", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(max(0.0, min(wait, RATE_LIMIT_WAIT_MAX)))
        return response

    def error(self, what: str) -> ExtractError:
        text = f"{self.tenant.label} ({self.tenant.base_url}): {what}"
        for secret in (*self.tenant.secrets(), self.token or ""):
            if secret:
                text = text.replace(secret, "***")
        return ExtractError(text)

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, self.tenant.base_url + path, timeout=TIMEOUT, **kwargs)
        except requests.exceptions.RetryError:
            raise self.error(f"{method} {path}: still failing after {RETRIES} retries") from None
        except requests.exceptions.Timeout:
            raise self.error(f"{method} {path}: no answer within {TIMEOUT[1]:.0f} seconds") from None
        except requests.exceptions.RequestException as e:
            reason = type(e.__context__ or e).__name__
            raise self.error(f"{method} {path}: cannot reach Zuora ({type(e).__name__}: {reason})") from None

    def authenticate(self) -> None:
        r = self._send(
            "POST",
            "/oauth/token",
            data={
                "client_id": self.tenant.client_id,
                "client_secret": self.tenant.client_secret,
                "grant_type": "client_credentials",
            },
        )
        if r.status_code in (400, 401, 403):
            raise self.error(
                f"Zuora refused the OAuth client (HTTP {r.status_code}): check the client ID and secret, and that "
                "the base URL is the tenant's data center"
            )
        if r.status_code != 200:
            raise self.error(f"POST /oauth/token answered HTTP {r.status_code}")
        try:
            body = r.json()
            self.token = body["access_token"]
            self.token_expires = time.monotonic() + float(body.get("expires_in", 3600)) - 60
        except (ValueError, KeyError, TypeError):
            raise self.error("POST /oauth/token: the answer holds no access_token") from None

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """One authenticated call; 401 renews the token once. Any other answer of 400 or more is an error."""
        for attempt in (1, 2):
            if self.token is None or time.monotonic() >= self.token_expires:
                self.authenticate()
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            if self.tenant.entity_ids:
                headers["Zuora-Entity-Ids"] = self.tenant.entity_ids
            r = self._send(method, path, headers=headers, **kwargs)
            if r.status_code == 401 and attempt == 1:
                self.token = None  # expired or revoked before its time: renew it once
                continue
            if r.status_code >= 400:
                raise self.error(f"{method} {path} answered HTTP {r.status_code}{_message(r)}")
            return r
        raise AssertionError("unreachable")

    def call_json(self, method: str, path: str, **kwargs) -> dict:
        """One call whose answer must be a JSON object (an HTML error page from a proxy is an error, not a crash)."""
        r = self.call(method, path, **kwargs)
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self.error(f"{method} {path} answered HTTP {r.status_code} with no JSON object (is the base URL "
                             "the tenant's REST endpoint?)")  # fmt: skip
        return body


def _message(r: requests.Response) -> str:
    """Zuora's own words about a failed call, shortened (its JSON "message" or "reasons"), or nothing."""
    try:
        return _message_of(r.json())
    except ValueError:
        return ""


def query_text(mark: str | None) -> str:
    """The ZOQL of the Billing Run data source: every Billing Run field and the joined Entity's."""
    fields = [f.api for f in BILLING_RUN_FIELDS] + [f"Entity.{f.api}" for f in ENTITY_FIELDS]
    where = f" where UpdatedDate >= '{mark}'" if mark else ""
    return f"select {', '.join(fields)} from BillingRun{where}"


def batch_query(mark: str | None) -> dict:
    """The AQuA request, stateless (no partner or project)."""
    return {
        "format": "csv",
        "version": "1.1",
        "name": "zuora-billing-runs",
        "encrypted": "none",
        "useQueryLabels": "true",
        "dateTimeUtc": "true",
        "queries": [
            {
                "name": QUERY_NAME,
                "query": query_text(mark),
                "type": "zoqlexport",
                "deleted": {"column": DELETED_COLUMN, "format": "Boolean"},
            }
        ],
    }


def _utc(text: str) -> dt.datetime | None:
    """An Updated Date as AQuA writes it with dateTimeUtc (2025-01-01T16:00:00+0000), as an aware UTC datetime."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def mark_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FileSummary:
    rows: int
    deleted: int
    max_updated: dt.datetime | None
    ids_at_max: list[str]
    new_rows: int  # rows not already extracted: not at the mark with an ID seen there


def summarise(path: Path, mark: dt.datetime | None = None, ids_at_mark: frozenset[str] = frozenset()) -> FileSummary:
    """Rows, deletion records and the largest Updated Date of an extract file."""
    rows = deleted = new = 0
    top: dt.datetime | None = None
    ids: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            rows += 1
            deleted += (row.get(DELETED_COLUMN) or "").strip().lower() == "true"
            updated = _utc(row.get(UPDATED_DATE) or "")
            run_id = (row.get(ID) or "").strip()
            new += not (updated is not None and updated == mark and run_id in ids_at_mark)
            if updated is None:
                continue
            if top is None or updated > top:
                top, ids = updated, [run_id]
            elif updated == top:
                ids.append(run_id)
    return FileSummary(rows, deleted, top, ids, new)


def write_state(folder: Path, state: dict) -> None:
    """The state file, replaced atomically (temporary file, sync, rename, sync of the folder)."""
    tmp = folder / f".{STATE_FILE}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(folder / STATE_FILE)
    fsync_path(folder)


class Progress:
    """One line, rewritten in place, on a terminal; nothing elsewhere."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def show(self, text: str) -> None:
        if self.enabled:
            print(f"\r{text[:100]:<100}", end="", flush=True)

    def done(self) -> None:
        if self.enabled:
            print("\r" + " " * 100 + "\r", end="", flush=True)


class TenantExtract:
    """One extract of one tenant into its folder."""

    def __init__(self, tenant: Tenant, export_dir: Path, settings: Settings, full: bool = False):
        self.tenant = tenant
        self.folder = tenant.folder(export_dir)
        self.settings = settings
        self.full = full
        self.client = ZuoraClient(tenant, settings)
        self.progress = Progress(settings.progress)

    # -- state ---------------------------------------------------------------------------------------------------
    def load_state(self) -> dict:
        """The state file, with every extract file of the folder that it does not name yet adopted: a run killed
        after renaming its file and before saving the state lost nothing, and the mark moves up to that file."""
        state = read_state(self.folder)
        state.setdefault("files", [])
        for stale in self.folder.glob(f".{FILE_PREFIX}*.partial"):
            stale.unlink(missing_ok=True)  # a download that a killed run left: it never counted
        orphans = sorted(p.name for p in self.folder.glob(f"{FILE_PREFIX}*.csv") if p.name not in state["files"])
        for name in orphans:
            self._record(state, name, summarise(self.folder / name))
        if orphans:
            write_state(self.folder, state)
        return state

    def _record(self, state: dict, name: str, summary: FileSummary) -> None:
        state["files"] = sorted({*state["files"], name})
        mark = _utc(state["high_water_mark"]) if state.get("high_water_mark") else None
        if summary.max_updated is not None and (mark is None or summary.max_updated >= mark):
            ids = summary.ids_at_max + (state.get("ids_at_mark", []) if summary.max_updated == mark else [])
            state["high_water_mark"] = mark_text(summary.max_updated)
            state["ids_at_mark"] = sorted(set(ids))
        state["tenant"] = self.tenant.name
        state["time_zone"] = self.tenant.time_zone
        state["base_url"] = self.tenant.base_url

    # -- the AQuA job --------------------------------------------------------------------------------------------
    def submit(self, mark: str | None) -> str:
        body = self.client.call_json("POST", "/v1/batch-query/", json=batch_query(mark))
        job_id = body.get("id")
        if not job_id:
            raise self.client.error(f"POST /v1/batch-query/ created no job{_message_of(body)}")
        return job_id

    def wait(self, job_id: str) -> dict:
        """The batch of the completed job; a failed job, or one that outlasts the wait, is an error."""
        started = time.monotonic()
        interval = self.settings.poll_interval
        polls = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed > self.settings.max_wait:
                raise self.client.error(
                    f"AQuA job {job_id} is not done after {self.settings.max_wait:.0f} seconds (--max-wait); the next "
                    "extract submits it again"
                )
            time.sleep(min(interval, max(0.0, self.settings.max_wait - elapsed)))
            interval = min(interval * 1.5, 60.0)
            polls += 1
            job = self.client.call_json("GET", f"/v1/batch-query/jobs/{job_id}")
            status = str(job.get("status", "")).lower()
            self.progress.show(f"{self.tenant.label}: AQuA job {job_id} {status or '?'} (poll {polls}, "
                               f"{time.monotonic() - started:.0f}s)")  # fmt: skip
            if status in FAILED_JOB_STATES:
                messages = "; ".join(str(b.get("message")) for b in job.get("batches", []) if b.get("message"))
                raise self.client.error(f"AQuA job {job_id} ended in {status}" + (f": {messages}" if messages else ""))
            if status == "completed":
                batches = [b for b in job.get("batches", []) if b.get("name") == QUERY_NAME] or job.get("batches", [])
                if not batches or not batches[0].get("fileId"):
                    raise self.client.error(f"AQuA job {job_id} completed without a file")
                return batches[0]

    def download(self, batch: dict, target: Path, mark: dt.datetime | None, ids_at_mark: frozenset[str]) -> FileSummary:
        """The batch's file into ``target`` (a hidden temporary name), whole: every byte announced and as many rows
        as the batch's recordCount, or it is downloaded again. Returns its summary (read once) against the mark."""
        file_id, expected_rows = batch["fileId"], batch.get("recordCount")
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            problem = self._download_once(file_id, target, expected_rows)
            if problem is None:
                summary = summarise(target, mark, ids_at_mark)
                if expected_rows is None or summary.rows == int(expected_rows):
                    return summary
                problem = f"it has {summary.rows} rows where the job counted {expected_rows}"
            target.unlink(missing_ok=True)
            if attempt == DOWNLOAD_ATTEMPTS:
                raise self.client.error(
                    f"the file of AQuA job batch {file_id} was cut short {DOWNLOAD_ATTEMPTS} times ({problem}); "
                    "nothing was written, and the next extract tries again"
                )

    def _download_once(self, file_id: str, target: Path, rows: int | None) -> str | None:
        received = 0
        try:
            with self.client.call("GET", f"/v1/file/{file_id}", stream=True) as r, target.open("wb") as fh:
                announced = r.headers.get("Content-Length")
                for chunk in r.iter_content(chunk_size=1 << 20):
                    fh.write(chunk)
                    received += len(chunk)
                    self.progress.show(
                        f"{self.tenant.label}: downloading {rows if rows is not None else '?'} rows, {received:,} bytes"
                    )
                fh.flush()
                os.fsync(fh.fileno())
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as e:
            return f"the connection broke after {received:,} bytes ({type(e).__name__})"
        if announced is not None and received != int(announced):
            return f"{received:,} of {int(announced):,} bytes arrived"
        return None

    # -- one run -------------------------------------------------------------------------------------------------
    def run(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = self.load_state()
        mark_value = None if self.full else state.get("high_water_mark")
        mark = _utc(mark_value) if mark_value else None
        job_id = self.submit(mark_value)
        batch = self.wait(job_id)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{FILE_PREFIX}{stamp}-{str(job_id)[-8:]}.csv"
        partial = self.folder / f".{name}.{secrets.token_hex(4)}.partial"
        try:
            summary = self.download(batch, partial, mark, frozenset(state.get("ids_at_mark", [])))
            if summary.new_rows == 0:
                partial.unlink()
                self.progress.done()
                return f"{self.tenant.label}: nothing new since {mark_value} (no file written)"
            partial.replace(self.folder / name)
            fsync_path(self.folder)
        finally:
            partial.unlink(missing_ok=True)
        self._record(state, name, summary)
        state["last_job"] = {"id": job_id, "finished_at": stamp, "rows": summary.rows}
        save_state(self.folder, state)
        self.progress.done()
        return (
            f"{self.tenant.label}: {summary.rows} rows ({summary.deleted} deleted runs) -> {self.folder / name}; "
            f"high-water mark {state.get('high_water_mark')}"
        )


def _message_of(body) -> str:
    message = (body.get("message") or body.get("reasons")) if isinstance(body, dict) else None
    return f": {str(message)[:200]}" if message else ""


# The state is saved last; a name of its own, so that a test can stop a run just before it.
save_state: Callable[[Path, dict], None] = write_state


def tenants_of(args) -> list[Tenant]:
    path = args.tenants or os.environ.get("ZUORA_TENANTS_FILE")
    return from_toml(Path(path).expanduser()) if path else [from_environment()]


def cmd_extract(args) -> int:
    given = args.export_dir or os.environ.get("ZUORA_EXPORT_DIR")
    if not given:
        raise UsageError("name the folder to write the export files into: --export-dir DIR (or ZUORA_EXPORT_DIR)")
    export_dir = Path(given).expanduser().resolve()
    tenants = tenants_of(args)
    settings = Settings(max_wait=args.max_wait, poll_interval=args.poll_interval, retry_backoff=args.retry_backoff,
                        progress=sys.stdout.isatty())  # fmt: skip
    export_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for tenant in tenants:
        try:
            print(TenantExtract(tenant, export_dir, settings, full=args.full).run())
        except WarehouseError as e:
            Progress(settings.progress).done()
            if len(tenants) == 1:
                raise
            print(f"error: {e}", file=sys.stderr)
            failures.append(tenant.label)
    if failures:
        raise ExtractError(f"{len(failures)} of {len(tenants)} tenants failed: {', '.join(failures)}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("extract", help="pull new and changed bill runs from Zuora (AQuA) into the export folder")
    p.add_argument("--export-dir", help="the folder to write the export files into (default: $ZUORA_EXPORT_DIR)")
    p.add_argument(
        "--tenants",
        help="a TOML file listing several tenants (default: $ZUORA_TENANTS_FILE; without it, one tenant from "
        "ZUORA_BASE_URL, ZUORA_CLIENT_ID and ZUORA_CLIENT_SECRET)",
    )
    p.add_argument("--full", action="store_true", help="ask for every bill run, not only those changed since the mark")
    seconds = {"type": float, "metavar": "SECONDS"}
    p.add_argument("--max-wait", default=Settings.max_wait, **seconds,
                   help="the longest wait for one AQuA job (default: 3 hours, AQuA's own limit)")  # fmt: skip
    p.add_argument("--poll-interval", default=Settings.poll_interval, **seconds,
                   help="the first wait between two polls of a job (then 1.5 times longer, up to 60)")  # fmt: skip
    p.add_argument("--retry-backoff", default=Settings.retry_backoff, **seconds,
                   help="the first wait before retrying a failed call, doubled each retry (jittered)")  # fmt: skip
    p.set_defaults(func=cmd_extract)
