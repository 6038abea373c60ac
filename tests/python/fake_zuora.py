"""A stand-in for one Zuora tenant's REST API, written from Zuora's own pages, for the extractor's tests.

It serves on 127.0.0.1 only, from a thread the test starts and stops; every loop is bounded (a job completes after
``polls_to_complete`` polls). Each behaviour follows one page of docs.zuora.com or developer.zuora.com, named where
it is implemented; the extractor (zuora_wh/zuora_api.py, zuora_wh/extract.py) cites the same pages:

- "Create an OAuth token": client_credentials; a token lives ``expires_in`` = 3599 seconds of the tenant's clock,
  then every call with it answers 401.
- "Rate limits": every answer carries ``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset``
  (seconds); a 429 carries them too, and no ``Retry-After`` (Zuora documents none).
- "Describe an object" (``GET /v1/describe/{object}``): an XML list of the object's fields. ``NumberOfCreditMemos``
  only with Invoice Settlement ("Billing Run data source": "only available if you have the Invoice Settlement
  feature enabled").
- "Multi-entity: List entities" (``GET /v1/entities``): "Entities are available only if you have the Multi-entity
  feature enabled"; without it the joined Entity's fields are no fields of the tenant.
- "Stateless and stateful modes": a job of version 1.0, or 1.1 without partner and project, is stateless.
- "Submit an aggregate query job" (``POST /v1/batch-query/``): an ``Idempotency-Key`` identifies retries of one
  request (the same job is answered, no second one is started); a job that is refused answers ``errorCode`` and
  ``message``, and no ``id`` ("The ID exists only if the JSON request can be parsed and validated successfully").
  With ``Accept-Encoding: gzip``, "Zuora automatically compresses responses that contain over 1000 bytes of data"
  (``Content-Encoding: gzip``; ``Content-Length`` is then the size on the wire). The same header text is on every
  operation's page.
- "AQuA API error codes": 90005 (a syntax error: here, a field the tenant does not have), 90012 ("Stateless AQuA
  does not support deleted columns", a stateless query asking for deleted records without ``forceExport``), 90017
  (an object that does not support deleted records), 90018 (the API user may not read an object: "that query is
  ignored during execution", its file is empty), 90022 (internal error), 90028 (more than 50 concurrent jobs).
- "Extract deleted data in each query" and "Export deleted data": ``deleted: {column, format, forceExport}``; the
  flag is an extra column, written first and named after the object (``BillingRun.Deleted``); a deleted record
  carries its ID and Updated Date; deleted records are kept 30 days.
- "Retrieve an aggregate query job": submitted, executing, then completed (or error); each batch has ``fileId``
  and ``recordCount``.
- "Cancel a running aggregate query job" (``DELETE /v1/batch-query/jobs/{id}``): a job that is not complete is
  cancelled; cancelling a completed job is an error.
- "High Water Mark Approach for AQuA Stateless Queries": some transactions take long to commit, so a row can
  appear with an Updated Date older than rows already extracted (``begin_late`` and ``commit_late``).
- "Get file download" (``GET /v1/file/{fileId}``): the batch's CSV, headed by API names (``useQueryLabels``),
  datetimes in UTC (``dateTimeUtc``).

Faults are queued per endpoint (``faults["poll"].append(500)``), each answered once, in order: a status code, a
``(status, headers)`` pair, ``"cut"`` (a file that stops halfway), ``"lost"`` (the request is carried out, then
the connection drops before the answer), ``"garbage"`` (an HTML page with status 200, as a proxy in the way
writes), ``"ratelimited"`` (a good answer saying the window is used up), or an AQuA error code (``"90028"`` on
submit: refused; ``"90022"`` on poll: the job ends in that error).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import email.utils
import gzip
import io
import json
import re
import secrets
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from zuora_wh.columns import BILLING_RUN_FIELDS, ENTITY_FIELDS

ROOT = Path(__file__).resolve().parents[2]
RUN_FIELDS = {f.api: f for f in BILLING_RUN_FIELDS}
ENTITY_API_FIELDS = {f.api: f for f in ENTITY_FIELDS}
DATETIMES = {
    f"{o}.{f.api}"
    for o, fs in (("BillingRun", BILLING_RUN_FIELDS), ("Entity", ENTITY_FIELDS))
    for f in fs
    if f.kind == "datetime"
}
TOKEN_LIFETIME = 3599  # "Create an OAuth token": expires_in
DELETED_KEPT = dt.timedelta(days=30)  # "Export deleted data": the retention period of deleted data
COMPRESS_OVER = 1000  # bytes: "Zuora automatically compresses responses that contain over 1000 bytes of data"
RATE_LIMIT = 1000  # requests a window (ratelimit-limit)

# "AQuA API error codes": the messages this stand-in answers with.
AQUA_MESSAGES = {
    "90005": "There is a syntax error in one of the queries in the AQuA input.",
    "90012": "Stateless AQuA does not support deleted columns.",
    "90017": 'Objects included in the queries do not support the querying of deleted records. Remove "Deleted" '
    "section in the JSON request and retry the request.",
    "90018": "The API user does not have permission to access one or more objects in the query.",
    "90022": "Internal error.",
    "90028": "There are more than 50 concurrent AQuA jobs.",
}
QUERY = re.compile(
    r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<object>\w+)(?:\s+where\s+(?P<where>.+))?\s*$", re.I | re.S
)
CONDITION = re.compile(r"^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<)\s*'(?P<value>[^']*)'\s*$")


def utc_text(value: dt.datetime) -> str:
    """A datetime as AQuA writes it with dateTimeUtc."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _parse(text: str, zone: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


def _rows(name: str) -> list[dict[str, str]]:
    with (ROOT / "seeds" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def api_record(row: dict[str, str], fields, obj_label: str, obj_api: str, zone: str) -> dict[str, str]:
    record = {}
    for f in fields:
        value = row.get(f"{obj_label}: {f.label}", "")
        if value and f"{obj_api}.{f.api}" in DATETIMES:
            with contextlib.suppress(ValueError):  # a demo row broken on purpose is served as it is
                value = utc_text(_parse(value, zone))
        record[f"{obj_api}.{f.api}"] = value
    return record


def demo_tenant(limit: int | None = None, zone: str = "America/Los_Angeles"):
    """The demo bill runs (the latest version of each, under API names, datetimes in UTC) and the entities, as a
    tenant holds them: ``(runs by ID, entities by ID)``. A run's entity is its ``Entity.Id``. With ``limit``, the
    latest runs (the demo's last runs are the ones still queued or under way)."""
    entities = {
        r["Entity: ID"]: api_record(r, ENTITY_FIELDS, "Entity", "Entity", zone)
        for r in _rows("zuora_entity_export.csv")
    }
    runs: dict[str, dict[str, str]] = {}
    for row in _rows("zuora_billing_run_export.csv"):
        record = api_record(row, BILLING_RUN_FIELDS, "Billing Run", "BillingRun", zone)
        record["Entity.Id"] = row.get("Entity: ID", "")
        try:
            parse_utc(record["BillingRun.UpdatedDate"])
        except ValueError:
            continue  # no Updated Date that AQuA could filter on
        previous = runs.get(record["BillingRun.Id"])
        if previous is None or previous["BillingRun.UpdatedDate"] <= record["BillingRun.UpdatedDate"]:
            runs[record["BillingRun.Id"]] = record
    if limit:
        runs = dict(list(runs.items())[-limit:])
    return runs, entities


def csv_bytes(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


class AquaRefusal(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class FakeZuora:
    """One tenant: its live bill runs and entities, the deletion records it keeps, its features and its clock."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        runs: dict | None = None,
        entities: dict | None = None,
        *,
        invoice_settlement: bool = True,
        multi_entity: bool = True,
        deleted_supported: bool = True,
        polls_to_complete: int = 2,
        seconds_per_poll: float = 0.0,
    ):
        self.client_id, self.client_secret = client_id, client_secret
        if runs is None:
            runs, entities = demo_tenant()
        self.runs = {k: dict(v) for k, v in runs.items()}
        self.entities = {k: dict(v) for k, v in (entities or {}).items()}
        self.invoice_settlement = invoice_settlement
        self.multi_entity = multi_entity
        self.deleted_supported = deleted_supported  # False: 90017 when a query asks for deleted records
        self.forbidden: set[str] = set()  # objects the API user may not read (90018)
        self.polls_to_complete = polls_to_complete
        self.seconds_per_poll = seconds_per_poll  # how far the tenant's clock moves while a job runs, per poll
        self.deleted: dict[str, dict[str, str]] = {}  # deletion records, with the time of the deletion
        self.pending: list[tuple[str, dict[str, str]]] = []  # changes whose transaction has not committed yet
        self.faults: dict[str, list] = defaultdict(list)
        self.tokens: dict[str, dt.datetime] = {}  # token -> when it was issued
        self.tokens_issued = 0
        self.jobs: dict[str, dict] = {}
        self.idempotent: dict[str, dict] = {}  # Idempotency-Key -> the answer given
        self.files: dict[str, bytes] = {}
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.queries: list[dict] = []
        # the tenant's clock: three hours after the last change, so that a first extract sees every run
        self.clock = max(parse_utc(r["BillingRun.UpdatedDate"]) for r in self.runs.values()) + dt.timedelta(hours=3)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    # -- what happens in the tenant ------------------------------------------------------------------------------
    def advance(self, **delta: float) -> None:
        """The tenant's clock moves on (``hours=3``, ``days=40``)."""
        self.clock += dt.timedelta(**delta)

    def _tick(self) -> str:
        self.clock += dt.timedelta(minutes=7)
        return utc_text(self.clock)

    def update(self, run_id: str, **fields: str) -> None:
        """A change to a bill run (fields by API name without the object), committed at once: a new Updated Date."""
        record = self.runs[run_id]
        for name, value in fields.items():
            record[f"BillingRun.{name}"] = value
        record["BillingRun.UpdatedDate"] = self._tick()

    def create(self, run_id: str, like: str, **fields: str) -> None:
        """A new bill run, a copy of ``like`` with other fields."""
        self.runs[run_id] = {**self.runs[like], "BillingRun.Id": run_id}
        self.update(run_id, CreatedDate=utc_text(self.clock), **fields)

    def begin_late(self, run_id: str, **fields: str) -> None:
        """A change in a transaction that commits late ("High Water Mark Approach for AQuA Stateless Queries"): its
        Updated Date is now, but no query sees it until ``commit_late``."""
        record = {**self.runs[run_id], **{f"BillingRun.{k}": v for k, v in fields.items()}}
        record["BillingRun.UpdatedDate"] = self._tick()
        self.pending.append((run_id, record))

    def commit_late(self) -> None:
        for run_id, record in self.pending:
            self.runs[run_id] = record
        self.pending.clear()

    def update_entity(self, entity_id: str, **fields: str) -> None:
        """A change to an entity: its own Updated Date moves; its bill runs' do not."""
        record = self.entities[entity_id]
        for name, value in fields.items():
            record[f"Entity.{name}"] = value
        record["Entity.UpdatedDate"] = self._tick()

    def delete(self, run_id: str) -> None:
        """Zuora deletes a Canceled or Error run after Remove in progress: AQuA then has only its deletion record,
        its ID and Updated Date, for 30 days."""
        self.runs.pop(run_id)
        self.deleted[run_id] = {"BillingRun.Id": run_id, "BillingRun.UpdatedDate": self._tick()}

    def live_rows(self) -> list[dict[str, str]]:
        """Every live bill run with its entity's fields, as a full export of the data source would hold them."""
        return [self._joined(r) for r in self.runs.values()]

    def write_export(self, folder: Path, tenant: str, time_zone: str) -> None:
        """Today's live data as one export file (the fields the tenant has, no deleted records), in a folder whose
        state file names its tenant: what the warehouse should hold after extracts."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "full-export.csv").write_bytes(csv_bytes(self._header(self.field_names()), self.live_rows()))
        (folder / ".zuora-extract.json").write_text(json.dumps({"tenant": tenant, "time_zone": time_zone}))

    # -- the tenant's data, as queries see it --------------------------------------------------------------------
    def field_names(self) -> list[str]:
        """The fields a query of the data source may name: the Billing Run's, and the joined Entity's."""
        names = [f.api for f in BILLING_RUN_FIELDS if f.api != "NumberOfCreditMemos" or self.invoice_settlement]
        return names + ([f"Entity.{f.api}" for f in ENTITY_FIELDS] if self.multi_entity else [])

    @staticmethod
    def _header(fields: list[str]) -> list[str]:
        return [f if "." in f else f"BillingRun.{f}" for f in fields]

    def _joined(self, run: dict[str, str]) -> dict[str, str]:
        entity = self.entities.get(run.get("Entity.Id", ""), {}) if self.multi_entity else {}
        return {**run, **entity, "Entity.Id": run.get("Entity.Id", "") if self.multi_entity else ""}

    def _deleted_now(self) -> list[dict[str, str]]:
        return [r for r in self.deleted.values() if parse_utc(r["BillingRun.UpdatedDate"]) >= self.clock - DELETED_KEPT]

    def run_query(self, query: dict) -> tuple[list[str], list[dict[str, str]]]:
        """The header and rows of one zoqlexport query of the Billing Run data source ("AQuA API error codes":
        90005 for a field the tenant does not have, 90012 and 90017 for the deleted option)."""
        parsed = QUERY.match(query.get("query", ""))
        if not parsed or parsed["object"] != "BillingRun":
            raise AquaRefusal("90005")
        fields = [f.strip() for f in parsed["fields"].split(",")]
        if not fields or any(f not in self.field_names() for f in fields):
            raise AquaRefusal("90005")
        conditions = []
        for part in re.split(r"\s+and\s+", parsed["where"] or "", flags=re.I) if parsed["where"] else []:
            found = CONDITION.match(part)
            if not found or found["field"] not in ("UpdatedDate", "Entity.UpdatedDate"):
                raise AquaRefusal("90005")
            conditions.append((self._header([found["field"]])[0], found["op"], parse_utc(found["value"])))

        def kept(row: dict[str, str]) -> bool:
            for column, op, value in conditions:
                text = row.get(column, "")
                if not text:
                    return False
                at = parse_utc(text)
                if (op == ">=" and at < value) or (op == "<" and at >= value):
                    return False
            return True

        header = self._header(fields)
        rows = [r for r in self.live_rows() if kept(r)]
        deleted = query.get("deleted")
        if deleted is not None:
            # "Extract deleted data in each query": stateless AQuA needs forceExport, or refuses with 90012
            if not deleted.get("forceExport"):
                raise AquaRefusal("90012")
            if not self.deleted_supported:
                raise AquaRefusal("90017")
            flag = f"BillingRun.{deleted.get('column', 'Deleted')}"
            true, false = ("true", "false") if deleted.get("format", "Numeric") == "Boolean" else ("1", "0")
            header = [flag, *header]  # the flag comes first, named after the object
            rows = [{**r, flag: false} for r in rows]
            rows += [{**r, flag: true} for r in self._deleted_now() if kept(r)]
        return header, rows

    # -- the server ----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeZuora:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- the protocol --------------------------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> tuple[int, object]:
        """ "Create an OAuth token"."""
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "client_credentials",
            self.client_id,
            self.client_secret,
        ):
            return 401, {"message": "invalid client"}
        token = secrets.token_hex(16)
        self.tokens[token] = self.clock
        self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}

    def authorised(self, headers) -> bool:
        issued = self.tokens.get(headers.get("Authorization", "").removeprefix("Bearer "))
        return issued is not None and self.clock < issued + dt.timedelta(seconds=TOKEN_LIFETIME)

    def describe(self, obj: str) -> tuple[int, bytes]:
        """ "Describe an object": the fields of the object, each with its name, label, type and contexts."""
        if obj != "BillingRun":
            return 404, b"<error>no such object</error>"
        fields = [f for f in BILLING_RUN_FIELDS if f.api != "NumberOfCreditMemos" or self.invoice_settlement]
        body = "".join(
            f"<field><name>{f.api}</name><label>{f.label}</label><type>{f.kind}</type><contexts>"
            "<context>export</context></contexts></field>"
            for f in fields
        )
        return (
            200,
            f'<?xml version="1.0" encoding="UTF-8"?><object><name>BillingRun</name><label>Billing Run</label>'
            f"<fields>{body}</fields></object>".encode(),
        )

    def list_entities(self) -> tuple[int, object]:
        """ "Multi-entity: List entities"."""
        if not self.multi_entity:
            return 403, {"success": False, "reasons": [{"code": 50000040, "message": "Multi-entity is not enabled"}]}
        entities = [
            {
                "id": e["Entity.Id"],
                "name": e["Entity.Name"],
                "displayName": e["Entity.DisplayName"],
                "status": "Provisioned",
            }
            for e in self.entities.values()
        ]
        return 200, {"entities": entities, "success": True}

    def submit(self, body: dict, key: str | None) -> dict:
        """ "Submit an aggregate query job": every query runs now (a read-only snapshot), or the job is refused."""
        if key and key in self.idempotent:
            return self.idempotent[key]  # a retry of the same request: the same job
        self.queries.append(body)
        stateless = body.get("version", "1.0") == "1.0" or not (body.get("partner") and body.get("project"))
        assert stateless, "this stand-in speaks stateless AQuA only, as the extractor should"
        try:
            batches = []
            for query in body.get("queries", []):
                file_id = secrets.token_hex(16)
                if any(
                    obj in self.forbidden
                    for obj in ("BillingRun", *(["Entity"] if "Entity." in query.get("query", "") else []))
                ):
                    # 90018: "that query is ignored during execution"
                    self.files[file_id] = b""
                    batches.append(
                        {
                            "name": query.get("name"),
                            "fileId": file_id,
                            "recordCount": 0,
                            "errorCode": "90018",
                            "message": AQUA_MESSAGES["90018"],
                        }
                    )
                    continue
                header, rows = self.run_query(query)
                self.files[file_id] = csv_bytes(header, rows)
                batches.append({"name": query.get("name"), "fileId": file_id, "recordCount": len(rows)})
        except AquaRefusal as refusal:
            answer = {"id": None, "errorCode": refusal.code, "message": AQUA_MESSAGES[refusal.code]}
        else:
            job_id = secrets.token_hex(16)
            self.jobs[job_id] = {"polls": 0, "status": "submitted", "batches": batches, "failed": None}
            answer = {
                "id": job_id,
                "status": "submitted",
                "version": body.get("version"),
                "batches": [{"name": b["name"], "status": "pending"} for b in batches],
            }
        if key:
            self.idempotent[key] = answer
        return answer

    def poll(self, job_id: str, fault) -> tuple[int, object]:
        """ "Retrieve an aggregate query job"."""
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"errorCode": "90002", "message": "Invalid Job Id."}
        if job["status"] in ("submitted", "executing"):
            job["polls"] += 1
            self.clock += dt.timedelta(seconds=self.seconds_per_poll)
            if fault in ("error", "90022"):
                job["status"] = "error"
                job["failed"] = "90005" if fault == "error" else "90022"
            elif job["polls"] >= self.polls_to_complete:
                job["status"] = "completed"
            else:
                job["status"] = "executing"
        answer = {"id": job_id, "status": job["status"], "batches": []}
        for b in job["batches"]:
            batch = {"name": b["name"], "status": job["status"]}
            if job["status"] == "completed":
                batch |= {k: v for k, v in b.items() if k != "name"}
            if job["status"] == "error":
                batch |= {"errorCode": job["failed"], "message": AQUA_MESSAGES[job["failed"]]}
            answer["batches"].append(batch)
        return 200, answer

    def cancel(self, job_id: str) -> tuple[int, object]:
        """ "Cancel a running aggregate query job": only a job that is not complete."""
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"errorCode": "90003", "message": "Invalid Job Id for job cancellation."}
        if job["status"] not in ("submitted", "executing"):
            return 400, {"errorCode": "90003", "message": "Invalid Job Id for job cancellation."}
        job["status"] = "cancelled"
        return 200, {"id": job_id, "status": "cancelled"}

    def cancelled_jobs(self) -> list[str]:
        return [job_id for job_id, job in self.jobs.items() if job["status"] == "cancelled"]


def _handler(fake: FakeZuora):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def date_time_string(self, timestamp=None):  # the Date header: the tenant's clock
            return email.utils.formatdate(fake.clock.timestamp(), usegmt=True)

        def _reply(self, status: int, body: object, headers: dict | None = None, cut: bool = False) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            kind = "text/csv" if self.path.startswith("/v1/file/") else "application/json"
            kind = "application/xml" if self.path.startswith("/v1/describe/") else kind
            extra = {
                "ratelimit-limit": str(RATE_LIMIT),
                "ratelimit-remaining": str(RATE_LIMIT - 1),
                "ratelimit-reset": "60",
                **(headers or {}),
            }
            if len(data) > COMPRESS_OVER and "gzip" in self.headers.get("Accept-Encoding", ""):
                data = gzip.compress(data)
                extra["Content-Encoding"] = "gzip"
            self.send_response(status)
            self.send_header("Content-Type", f"{kind};charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))  # the size on the wire
            for name, value in extra.items():
                self.send_header(name, value)
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if cut else data)
            if cut:
                self.close_connection = True

        def _route(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
            path = urlsplit(self.path).path
            fake.calls.append((method, path, dict(self.headers)))
            endpoint = (
                "token"
                if path == "/oauth/token"
                else "submit"
                if path == "/v1/batch-query/"
                else "cancel"
                if method == "DELETE" and path.startswith("/v1/batch-query/jobs/")
                else "poll"
                if path.startswith("/v1/batch-query/jobs/")
                else "file"
                if path.startswith("/v1/file/")
                else "describe"
                if path.startswith("/v1/describe/")
                else "entities"
                if path == "/v1/entities"
                else None
            )
            with fake._lock:
                fault = fake.faults[endpoint].pop(0) if endpoint and fake.faults[endpoint] else None
            if fault == "garbage":  # a proxy's error page, with a 200
                return self._reply(200, b"<html><body>Service temporarily unavailable</body></html>")
            if fault == 429 or (isinstance(fault, tuple) and fault[0] == 429):
                # "Rate limits": the window is used up; ratelimit-reset says when it opens again
                reset = fault[1].get("ratelimit-reset", "1") if isinstance(fault, tuple) else "1"
                return self._reply(
                    429, {"message": "Too many requests"}, {"ratelimit-remaining": "0", "ratelimit-reset": reset}
                )
            if isinstance(fault, int | tuple):
                status, headers = fault if isinstance(fault, tuple) else (fault, {})
                return self._reply(status, {"message": f"fault {status}"}, headers)
            if endpoint == "token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                return self._reply(*fake.token(form))
            if endpoint is None:
                return self._reply(404, {"message": "not found"})
            if not fake.authorised(self.headers):
                return self._reply(401, {"message": "Authentication error"})
            limited = {"ratelimit-remaining": "0", "ratelimit-reset": "1"} if fault == "ratelimited" else {}
            with fake._lock:
                if endpoint == "submit":
                    if fault in ("90028",):
                        status, answer = 200, {"id": None, "errorCode": fault, "message": AQUA_MESSAGES[fault]}
                    else:
                        status, answer = 200, fake.submit(json.loads(body), self.headers.get("Idempotency-Key"))
                elif endpoint == "poll":
                    status, answer = fake.poll(path.rsplit("/", 1)[1], fault)
                elif endpoint == "cancel":
                    status, answer = fake.cancel(path.rsplit("/", 1)[1])
                elif endpoint == "describe":
                    status, answer = fake.describe(path.rsplit("/", 1)[1])
                elif endpoint == "entities":
                    status, answer = fake.list_entities()
                else:
                    answer = fake.files.get(path.rsplit("/", 1)[1])
                    status = 200 if answer is not None else 404
                    answer = answer if answer is not None else {"message": "no such file"}
            if fault == "lost":  # carried out, but the answer never arrives
                self.close_connection = True
                return None
            return self._reply(status, answer, limited, cut=fault == "cut")

        def do_POST(self):
            self._route("POST")

        def do_GET(self):
            self._route("GET")

        def do_DELETE(self):
            self._route("DELETE")

    return Handler
