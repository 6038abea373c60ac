"""Pull bill runs straight from Zuora: ``python -m zuora_wh extract --export-dir DIR`` (``--check`` first).

Zuora's recipe for bulk extraction ("Best practices when querying data from Zuora"): stateless AQuA, one data
source per query, filtered on UpdatedDate only, with a high-water mark the client keeps ("High Water Mark Approach
for AQuA Stateless Queries"), deleted records in each query ("Extract deleted data in each query"). One run of one
tenant (``zuora_wh.tenants``), through the calls of ``zuora_wh.zuora_api``:

1. What the tenant has ("Describe an object" BillingRun; "Multi-entity: List entities"): ``NumberOfCreditMemos``
   exists only with Invoice Settlement, the joined Entity only with Multi-entity. A field the tenant lacks is left
   out of the query (naming it would fail the job); the state says why, and the build's report repeats it.
2. The window: from the saved mark (``FIRST_MARK`` on a first extract) up to the tenant's time (the Date of
   Zuora's answers) minus ``COMMIT_LAG``: "some transactions take long to commit", so a row can appear with an
   UpdatedDate older than rows already extracted; a window that ends two hours back never passes them. Windows
   follow each other without a gap; a row seen twice is harmless (the latest Updated Date wins in the build).
3. One stateless job (version 1.1 with no partner or project: "Stateless and stateful modes") of up to three
   queries: the bill runs changed in the window (every field of the data source the tenant has, with the deleted
   records: ``deleted`` with ``forceExport``, without which stateless AQuA refuses the job, error 90012); the
   entities changed in the window, by their own Updated Date (an entity's change does not move its bill runs'); and,
   for the ID sweep, every bill-run ID.
   AQuA errors ("AQuA API error codes"): 90017 (no deleted records for the object) submits again without them, and
   the ID sweep runs at every extract instead; 90028 (over 50 jobs) waits and submits again; Zuora's internal
   errors (90022 and the like) submit again; every other code is one line saying what it means; 90018 (no
   permission to an object: Zuora ignores the query, its file is empty) is an error, never "nothing new".
4. Poll until the job completes (bounded by ``--max-wait``); a job abandoned (too long, Ctrl-C) is cancelled.
5. Each file is downloaded under a hidden temporary name, decompressed as it streams, checked against the
   batch's ``recordCount`` (and the length on the wire), synced, then renamed: an export file the build reads like
   any other. An empty result writes no file.
6. The ID sweep (``--reconcile``; by itself when the last successful extract is older than ``SWEEP_AFTER``,
   since Zuora keeps deleted records 30 days, "Export deleted data"): every bill run the folder's extracts hold
   that Zuora no longer has gets a deletion record, in a file of its own (``-id-sweep.csv``).
7. The state (``.zuora-extract.json``: the mark, the files and what each holds, the fields the tenant lacks) is
   saved last, atomically. A run killed before that lost nothing: the next one asks for the same window again, and
   adopts the files the killed one renamed into place.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from zuora_wh.columns import BILLING_RUN_FIELDS, ENTITY_FIELDS, deleted_column, deleted_headers
from zuora_wh.errors import UsageError, WarehouseError
from zuora_wh.publish import fsync_path, write_json
from zuora_wh.sql import quote_identifier, quote_string
from zuora_wh.tenants import STATE_FILE, Tenant, from_environment, from_toml, read_state, tenants_file
from zuora_wh.zuora_api import (
    RETRY_CODES,
    WAIT_CODES,
    AquaError,
    ExtractError,
    Settings,
    ZuoraClient,
    aqua_code,
    describe_aqua,
)

FIRST_MARK = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # before any tenant existed ("High Water Mark Approach ...")
COMMIT_LAG = dt.timedelta(hours=2)  # the window ends this long before now ("High Water Mark Approach ...")
SWEEP_AFTER = dt.timedelta(days=25)  # Zuora keeps deleted records 30 days ("Export deleted data")
JOB_ATTEMPTS = 3  # a job that Zuora's internal error ended is submitted again, this many times in all
BUSY_ATTEMPTS = 6  # a job refused for too many concurrent jobs (90028) is submitted again, this many times in all
DOWNLOAD_ATTEMPTS = 3  # a file that arrives incomplete is downloaded again, this many times in all
STATE_FORMAT = 2  # 1: the mark was the largest Updated Date seen (it could pass rows that committed late)
FILE_PREFIX = "billing-runs-"  # extract files: billing-runs-<UTC time>-<job>[-entities|-id-sweep].csv
# What each extract file holds, by the end of its name (the state records it too; the build reads it from there).
FILE_KINDS = {"-entities.csv": "entities", "-id-sweep.csv": "id_sweep", ".csv": "runs"}
FAILED_JOB_STATES = ("error", "aborted", "cancelled")
ID = "BillingRun.Id"
UPDATED_DATE = "BillingRun.UpdatedDate"
CREDIT_MEMOS = "NumberOfCreditMemos"
REQUIRED = frozenset({"Id", "Status", "UpdatedDate"})  # without them no bill run can be read


def kind_of(name: str) -> str:
    return next(kind for ending, kind in FILE_KINDS.items() if name.endswith(ending))


def mark_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_mark(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@dataclass
class TenantFields:
    """The data source's fields this tenant has, and why the others are missing (by our label of the field)."""

    billing_run: list[str]  # API names
    entity: list[str]  # API names, empty without Multi-entity
    entities: list[dict] | None  # "Multi-entity: List entities", or None
    missing: dict[str, str] = field(default_factory=dict)  # label -> why


def tenant_fields(client: ZuoraClient) -> TenantFields:
    """The fields of the Billing Run data source the tenant has ("Describe an object", "Multi-entity: List
    entities"). A field of ours the tenant lacks is left out of the query; the state says why."""
    described = client.export_fields("BillingRun")
    missing = {}
    for f in BILLING_RUN_FIELDS:
        if f.api not in described:
            missing[f.header_label] = (
                "the tenant has no Invoice Settlement (Describe BillingRun lists no NumberOfCreditMemos)"
                if f.api == CREDIT_MEMOS
                else f"Describe BillingRun lists no {f.api}"
            )
    lacking = sorted(REQUIRED & (set(f.api for f in BILLING_RUN_FIELDS) - described))
    if lacking:
        raise client.error(f"Describe BillingRun lists no {', '.join(lacking)}: may the API user read bill runs?")
    entities = client.entities()
    if entities is None:
        for f in ENTITY_FIELDS:
            missing[f.header_label] = "the tenant has no Multi-entity (Zuora lists no entities)"
    return TenantFields(
        billing_run=[f.api for f in BILLING_RUN_FIELDS if f.header_label not in missing],
        entity=[f.api for f in ENTITY_FIELDS if entities is not None],
        entities=entities,
        missing=missing,
    )


def window_clause(column: str, start: dt.datetime, end: dt.datetime) -> str:
    return f"{column} >= '{mark_text(start)}' and {column} < '{mark_text(end)}'"


def batch_request(fields: TenantFields, start: dt.datetime, end: dt.datetime, deleted: bool, sweep: bool) -> dict:
    """The AQuA job of one extract: stateless ("Stateless and stateful modes": version 1.1 with no partner or
    project), CSV, API-name headers (useQueryLabels) and UTC datetimes (dateTimeUtc)."""
    selected = fields.billing_run + [f"Entity.{name}" for name in fields.entity]
    runs = {
        "name": "billing_runs",
        "type": "zoqlexport",
        "query": f"select {', '.join(selected)} from BillingRun where {window_clause('UpdatedDate', start, end)}",
    }
    if deleted:  # "Extract deleted data in each query": stateless AQuA refuses it without forceExport (90012)
        runs["deleted"] = {"column": deleted_column(), "format": "Boolean", "forceExport": True}
    queries = [runs]
    if fields.entity:  # an entity's change does not move its bill runs' UpdatedDate: by its own
        queries.append(
            {
                "name": "entities",
                "type": "zoqlexport",
                "query": f"select "
                f"{', '.join('Entity.' + name for name in fields.entity)} from BillingRun where "
                f"{window_clause('Entity.UpdatedDate', start, end)}",
            }
        )
    if sweep:
        queries.append({"name": "billing_run_ids", "type": "zoqlexport", "query": "select Id from BillingRun"})
    return {
        "format": "csv",
        "version": "1.1",
        "name": "zuora-billing-runs",
        "encrypted": "none",
        "useQueryLabels": "true",
        "dateTimeUtc": "true",
        "queries": queries,
    }


def header_of(path: Path) -> list[str] | None:
    """The header of a CSV file AQuA wrote, or None when the file has no line at all."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), None)


def _read_csv(path: Path, header: list[str]) -> str:
    columns = ", ".join(f"{quote_string(h)}: 'VARCHAR'" for h in header)
    return (
        f"read_csv({quote_string(str(path))}, header = true, auto_detect = false, delim = ',', quote = '\"', "
        f"escape = '\"', columns = {{{columns}}})"
    )


def deleted_header(header: list[str]) -> str | None:
    """AQuA's deleted flag, by its name wherever it stands (Zuora writes it first, named after the object)."""
    return next((h for h in header if h.casefold() in deleted_headers()), None)


def count_rows(path: Path, header: list[str]) -> tuple[int, int]:
    """(rows, deletion records) of a file AQuA wrote, read once by DuckDB (quoted line breaks are one row)."""
    flag = deleted_header(header)
    deleted = f"count(*) filter (where lower(trim({quote_identifier(flag)})) = 'true')" if flag else "0"
    with duckdb.connect() as con:
        rows, gone = con.execute(f"select count(*), {deleted} from {_read_csv(path, header)}").fetchone()
    return int(rows), int(gone)


def write_state(folder: Path, state: dict) -> None:
    """The state file, replaced atomically (temporary file, sync, rename, sync of the folder)."""
    write_json(folder / STATE_FILE, state)


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


@dataclass
class Downloaded:
    """A batch's file, checked, under its temporary name."""

    query: str
    partial: Path
    header: list[str]
    rows: int
    deleted: int


class TenantExtract:
    """One extract of one tenant into its folder."""

    def __init__(
        self, tenant: Tenant, export_dir: Path, settings: Settings, full: bool = False, reconcile: bool = False
    ):
        self.tenant = tenant
        self.folder = tenant.folder(export_dir)
        self.settings = settings
        self.full = full
        self.reconcile = reconcile
        self.client = ZuoraClient(tenant, settings)
        self.progress = Progress(settings.progress)

    # -- state ---------------------------------------------------------------------------------------------------
    def load_state(self) -> dict:
        """The state file, with the extract files of the folder that it does not name yet adopted (a run killed
        after renaming its files and before saving the state), and leftovers of killed downloads removed."""
        state = read_state(self.folder)
        files = state.get("files")
        state["files"] = {name: kind_of(name) for name in files} if isinstance(files, list) else dict(files or {})
        for stale in self.folder.glob(f".{FILE_PREFIX}*.partial"):
            stale.unlink(missing_ok=True)
        for p in sorted(self.folder.glob(f"{FILE_PREFIX}*.csv")):
            state["files"].setdefault(p.name, kind_of(p.name))
        return state

    def window_start(self, state: dict) -> dt.datetime:
        if self.full or not state.get("high_water_mark"):
            return FIRST_MARK
        mark = parse_mark(state["high_water_mark"])
        # a mark of an older version was the largest Updated Date seen: ask again for what may have committed late
        return mark if state.get("format") == STATE_FORMAT else mark - COMMIT_LAG

    def sweep_due(self, state: dict, now: dt.datetime) -> str | None:
        """Why this extract sweeps the IDs, or None."""
        if not any(kind == "runs" for kind in state["files"].values()):
            return None  # nothing held yet
        if self.reconcile:
            return "asked for (--reconcile)"
        if state.get("deleted_records") is False:
            return "Zuora gives no deleted records for bill runs here (AQuA error 90017)"
        last = state.get("last_success_at")
        if last and now - parse_mark(last) > SWEEP_AFTER:
            return (
                f"the last extract was {(now - parse_mark(last)).days} days ago, and Zuora keeps deleted records "
                "30 days"
            )
        return None

    # -- the AQuA job --------------------------------------------------------------------------------------------
    def submit(self, fields: TenantFields, start, end, deleted: bool, sweep: bool) -> tuple[str, bool]:
        """The job's ID, and whether it asks for deleted records (90017: asked again without them). Zuora's
        internal errors and 90028 (too many jobs) are waited out within bounds."""
        busy = 0
        while True:
            try:
                return self.client.submit(batch_request(fields, start, end, deleted, sweep)), deleted
            except AquaError as e:
                if e.code == "90017" and deleted:
                    deleted = False  # the object has no deleted records: the ID sweep finds deletions instead
                    continue
                if e.code in WAIT_CODES | RETRY_CODES and busy + 1 < BUSY_ATTEMPTS:
                    busy += 1
                    time.sleep(min(self.settings.retry_backoff * 2**busy, 60.0))
                    continue
                raise

    def wait(self, job_id: str) -> dict:
        """The completed job; a failed job, or one that outlasts the wait, is an error (the caller cancels an
        abandoned job)."""
        started = time.monotonic()
        interval = self.settings.poll_interval
        polls = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed > self.settings.max_wait:
                raise self.client.error(
                    f"AQuA job {job_id} is not done after {self.settings.max_wait:.0f} seconds (--max-wait)"
                )
            time.sleep(min(interval, max(0.0, self.settings.max_wait - elapsed)))
            interval = min(interval * 1.5, 60.0)
            polls += 1
            job = self.client.job(job_id)
            status = str(job.get("status", "")).lower()
            self.progress.show(
                f"{self.tenant.label}: AQuA job {job_id} {status or '?'} (poll {polls}, "
                f"{time.monotonic() - started:.0f}s)"
            )
            if status in FAILED_JOB_STATES:
                failed = [b for b in job.get("batches", []) if aqua_code(b) or b.get("message")] or [job]
                code = aqua_code(failed[0])
                messages = "; ".join(str(b.get("message")) for b in failed if b.get("message"))
                raise self.client.error(
                    f"AQuA job {job_id} ended in {status} ({describe_aqua(code, messages)})", AquaError, code=code
                )
            if status == "completed":
                return job

    def run_job(self, fields: TenantFields, start, end, deleted: bool, sweep: bool) -> tuple[dict, bool]:
        """Submit and wait, submitting again after Zuora's internal errors; cancel a job this run abandons."""
        for attempt in range(1, JOB_ATTEMPTS + 1):
            job_id, deleted = self.submit(fields, start, end, deleted, sweep)
            try:
                return self.wait(job_id), deleted
            except AquaError as e:
                if e.code in RETRY_CODES and attempt < JOB_ATTEMPTS:
                    continue
                raise
            except (ExtractError, KeyboardInterrupt) as e:
                cancelled = self.client.cancel(job_id)  # "Cancel a running aggregate query job"
                if isinstance(e, KeyboardInterrupt):
                    raise
                raise self.client.error(f"{e.what}; {cancelled}") from None
        raise AssertionError("unreachable")

    def download(self, batch: dict, job_id: str) -> Downloaded:
        """The batch's file under a hidden temporary name, whole: as many rows as its recordCount, every byte on
        the wire, or it is downloaded again. A batch Zuora ignored (90018), or a file without even a header, is an
        error: an empty answer is never taken for "nothing new"."""
        name = str(batch.get("name"))
        if aqua_code(batch) == "90018":
            raise self.client.error(
                f"AQuA ignored the query {name} of job {job_id} "
                f"({describe_aqua('90018', str(batch.get('message') or ''))}): give the API user's "
                "role the permission to read bill runs and entities; nothing was written"
            )
        file_id, expected = batch.get("fileId"), batch.get("recordCount")
        if not file_id:
            raise self.client.error(f"AQuA job {job_id} completed without a file for {name}")
        partial = self.folder / f".{FILE_PREFIX}{name}-{secrets.token_hex(4)}.partial"
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            problem = self.client.download(
                file_id,
                partial,
                lambda n: self.progress.show(
                    f"{self.tenant.label}: downloading {name}: {expected if expected is not None else '?'} rows, "
                    f"{n:,} bytes"
                ),
            )
            header = None if problem else header_of(partial)
            if problem is None and header is None:
                partial.unlink(missing_ok=True)
                raise self.client.error(
                    f"the file of query {name} (job {job_id}) is empty, without even a header: Zuora ignores a query "
                    "on an object the API user may not read (AQuA error 90018); check the API user's permissions; "
                    "nothing was written"
                )
            if problem is None:
                rows, deleted = count_rows(partial, header)
                if expected is None or rows == int(expected):
                    return Downloaded(name, partial, header, rows, deleted)
                problem = f"it has {rows:,} rows where the job counted {int(expected):,}"
            partial.unlink(missing_ok=True)
            if attempt == DOWNLOAD_ATTEMPTS:
                raise self.client.error(
                    f"the file of query {name} (job {job_id}) was incomplete {DOWNLOAD_ATTEMPTS} "
                    f"times ({problem}); nothing was written, and the next extract tries "
                    "again"
                )
        raise AssertionError("unreachable")

    # -- the ID sweep --------------------------------------------------------------------------------------------
    def swept_deletions(self, state: dict, live_ids: Downloaded, extra: list[Downloaded]) -> list[str]:
        """The bill runs the folder's extracts hold (their latest record is no deletion) that are not among
        Zuora's live IDs: Zuora deleted them, and its deletion records are gone or were never given."""
        sources = [
            (self.folder / name, None)
            for name, kind in sorted(state["files"].items())
            if kind in ("runs", "id_sweep") and (self.folder / name).exists()
        ]
        sources += [(d.partial, d.header) for d in extra if d.query == "billing_runs"]
        selects = []
        for path, header in sources:
            header = header or header_of(path) or []
            if ID not in header:
                continue
            flag = deleted_header(header)
            is_deleted = f"lower(trim({quote_identifier(flag)})) = 'true'" if flag else "false"
            selects.append(
                f"select {quote_identifier(ID)} as id, {is_deleted} as is_deleted from {_read_csv(path, header)}"
            )
        if not selects:
            return []
        with duckdb.connect() as con:
            return [
                row[0]
                for row in con.execute(
                    f"with held as ({' union all '.join(selects)}) select id from held where id <> '' group by id "
                    f"having not bool_or(is_deleted) except select {quote_identifier(ID)} from "
                    f"{_read_csv(live_ids.partial, live_ids.header)} order by 1"
                ).fetchall()
            ]

    def write_sweep(self, ids: list[str], at: dt.datetime, like: list[str]) -> Path:
        """The sweep's deletion records, under a temporary name, as AQuA writes deleted records in a file headed
        ``like`` (the bill runs' file of this job): the flag first, the ID and Updated Date, every other field
        empty."""
        import csv

        header = [f"BillingRun.{deleted_column()}", *(h for h in like if h.casefold() not in deleted_headers())]
        partial = self.folder / f".{FILE_PREFIX}id-sweep-{secrets.token_hex(4)}.partial"
        with partial.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n", restval="")
            writer.writeheader()
            updated = at.strftime("%Y-%m-%dT%H:%M:%S+0000")
            writer.writerows({header[0]: "true", ID: run_id, UPDATED_DATE: updated} for run_id in ids)
            fh.flush()
            os.fsync(fh.fileno())
        return partial

    # -- one run -------------------------------------------------------------------------------------------------
    def run(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = self.load_state()
        fields = tenant_fields(self.client)
        start = self.window_start(state)
        now = self.client.now()
        end = now - COMMIT_LAG
        if end <= start:
            self.progress.done()
            return (
                f"{self.tenant.label}: nothing to ask for yet (the window from {mark_text(start)} ends two hours "
                "before now)"
            )
        sweep_reason = self.sweep_due(state, now)
        deleted = state.get("deleted_records") is not False
        job, deleted = self.run_job(fields, start, end, deleted, sweep_reason is not None)
        stamp = self.client.now().strftime("%Y%m%dT%H%M%SZ")
        base = f"{FILE_PREFIX}{stamp}-{str(job.get('id', 'job'))[-8:]}"
        downloads: list[Downloaded] = []
        kept: dict[str, Path] = {}
        lines = []
        try:
            for batch in job.get("batches", []):
                downloads.append(self.download(batch, str(job.get("id"))))
            by_query = {d.query: d for d in downloads}
            runs, entities = by_query.get("billing_runs"), by_query.get("entities")
            if runs is None:
                raise self.client.error(f"AQuA job {job.get('id')} completed without the bill runs' file")
            if runs.rows:
                kept[f"{base}.csv"] = runs.partial
            if entities is not None and entities.rows:
                kept[f"{base}-entities.csv"] = entities.partial
            lines.append(
                f"{runs.rows:,} bill-run rows ({runs.deleted:,} deleted runs)"
                + (f", {entities.rows:,} entity rows" if entities is not None else "")
            )
            if sweep_reason is not None:
                gone = self.swept_deletions(state, by_query["billing_run_ids"], [runs])
                if gone:
                    kept[f"{base}-id-sweep.csv"] = self.write_sweep(gone, now, runs.header)
                lines.append(f"ID sweep ({sweep_reason}): {len(gone):,} bill runs Zuora no longer has, now deleted")
            for name, partial in kept.items():
                partial.replace(self.folder / name)
            fsync_path(self.folder)
        finally:
            for d in downloads:
                d.partial.unlink(missing_ok=True)
            self.progress.done()
        for name in kept:
            state["files"][name] = kind_of(name)
        state.update(
            format=STATE_FORMAT,
            tenant=self.tenant.name,
            time_zone=self.tenant.time_zone,
            base_url=self.tenant.base_url,
            high_water_mark=mark_text(end),
            last_success_at=mark_text(now),
            unavailable_fields=fields.missing,
            last_job={"id": job.get("id"), "window": [mark_text(start), mark_text(end)], "files": sorted(kept)},
        )
        state["deleted_records"] = deleted  # False after 90017: the ID sweep finds deletions from then on
        if sweep_reason is not None:
            state["last_sweep_at"] = mark_text(now)
        save_state(self.folder, state)
        written = ", ".join(str(self.folder / n) for n in kept) if kept else "nothing new (no file written)"
        return (
            f"{self.tenant.label}: window {mark_text(start)} to {mark_text(end)}: {'; '.join(lines)} -> {written}; "
            f"high-water mark {state['high_water_mark']}"
        )

    def check(self) -> str:
        """What a user runs first: the tenant answers, and what an extract would bring. Writes nothing."""
        fields = tenant_fields(self.client)
        lines = [f"{self.tenant.label}: authenticated at {self.tenant.base_url} ({self.client.data_center})"]
        if fields.entities is None:
            lines.append("  entities: none (the tenant has no Multi-entity): the Entity columns stay empty")
        else:
            names = ", ".join(f"{e.get('name')} ({e.get('id')})" for e in fields.entities)
            lines.append(f"  entities: {len(fields.entities)}: {names}")
        lines.append(f"  Billing Run fields: {len(fields.billing_run)} of the data source's {len(BILLING_RUN_FIELDS)}")
        for label, why in fields.missing.items():
            if label.startswith("Billing Run: "):
                lines.append(f"    missing {label}: {why}")
        count = {
            "format": "csv",
            "version": "1.1",
            "name": "zuora-billing-runs-check",
            "encrypted": "none",
            "queries": [{"name": "count", "type": "zoqlexport", "query": "select Id from BillingRun"}],
        }
        job_id = self.client.submit(count)
        try:
            job = self.wait(job_id)
        except KeyboardInterrupt:
            self.client.cancel(job_id)
            raise
        finally:
            self.progress.done()
        total = sum(int(b.get("recordCount") or 0) for b in job.get("batches", []))
        lines.append(f"  bill runs: {total:,} (what a first extract brings, with their entities)")
        state = read_state(self.folder)
        mark = state.get("high_water_mark")
        lines.append(
            f"  saved mark: {mark} (last extract at {state.get('last_success_at', '?')})"
            if mark
            else f"  saved mark: none: the first extract asks for every change since {mark_text(FIRST_MARK)}"
        )
        lines.append("  nothing was written")
        return "\n".join(lines)


# The state is saved last; a name of its own, so that a test can stop a run just before it.
save_state: Callable[[Path, dict], None] = write_state


def tenants_of(args) -> list[Tenant]:
    path = tenants_file(args.tenants)
    return from_toml(path) if path else [from_environment()]


def cmd_extract(args) -> int:
    given = args.export_dir or os.environ.get("ZUORA_EXPORT_DIR")
    if not given:
        raise UsageError("name the folder to write the export files into: --export-dir DIR (or ZUORA_EXPORT_DIR)")
    export_dir = Path(given).expanduser().resolve()
    tenants = tenants_of(args)
    settings = Settings(
        max_wait=args.max_wait,
        poll_interval=args.poll_interval,
        retry_backoff=args.retry_backoff,
        progress=sys.stdout.isatty(),
    )
    if not args.check:
        export_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for tenant in tenants:
        one = TenantExtract(tenant, export_dir, settings, full=args.full, reconcile=args.reconcile)
        try:
            print(one.check() if args.check else one.run())
        except WarehouseError as e:
            Progress(settings.progress).done()
            if len(tenants) == 1:
                raise
            print(f"error: {e}", file=sys.stderr)
            failures.append(tenant.label)
    if failures:
        raise ExtractError(f"{len(failures)} of {len(tenants)} tenants failed: {', '.join(failures)}")
    return 0


WAITS = ("max_wait", "poll_interval", "retry_backoff")  # the options add_waits adds (refresh passes them on)


def add_waits(p) -> None:
    """The extract's waits: for AQuA's jobs and between retries."""
    seconds = {"type": float, "metavar": "SECONDS"}
    p.add_argument(
        "--max-wait",
        default=Settings.max_wait,
        **seconds,
        help="the longest wait for one AQuA job (default: 3 hours, AQuA's own limit)",
    )
    p.add_argument(
        "--poll-interval",
        default=Settings.poll_interval,
        **seconds,
        help="the first wait between two polls of a job (then 1.5 times longer, up to 60)",
    )
    p.add_argument(
        "--retry-backoff",
        default=Settings.retry_backoff,
        **seconds,
        help="the first wait before retrying a failed call, doubled each retry (jittered)",
    )


def add_parser(sub) -> None:
    p = sub.add_parser("extract", help="pull new and changed bill runs from Zuora (AQuA) into the export folder")
    p.add_argument("--export-dir", help="the folder to write the export files into (default: $ZUORA_EXPORT_DIR)")
    p.add_argument(
        "--tenants",
        help="a TOML file listing several tenants (default: $ZUORA_TENANTS_FILE; without it, one tenant from "
        "ZUORA_BASE_URL, ZUORA_CLIENT_ID and ZUORA_CLIENT_SECRET)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="authenticate and say what the tenant has and what an "
        "extract would bring (data center, entities, fields, bill runs, saved mark); writes nothing",
    )
    p.add_argument("--full", action="store_true", help="ask for every change since 2000-01-01, not since the mark")
    p.add_argument(
        "--reconcile",
        action="store_true",
        help="also sweep the IDs: runs the folder holds that Zuora no "
        "longer has are deleted (done by itself after 25 days without an extract)",
    )
    add_waits(p)
    p.set_defaults(func=cmd_extract)
