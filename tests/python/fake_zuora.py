"""A stand-in for one Zuora tenant's REST API, for the extractor's tests: it speaks the documented protocol (OAuth,
AQuA batch-query jobs in stateless mode, files, deleted records) on 127.0.0.1 only, from a thread the test starts
and stops. Its data is the demo exports the generator wrote (seeds/), served as AQuA writes them: API-name headers
(``useQueryLabels``), UTC datetimes (``dateTimeUtc``), and the ``Deleted`` column the query asks for.

Faults are queued per endpoint (``faults["poll"].append(500)``), each answered once, in order: a status code, a
``(status, headers)`` pair, ``"cut"`` (a file that stops halfway), ``"error"`` (a job that ends in error), or
``"ratelimited"`` (a good answer that says the rate-limit window is used up: ``RateLimit-Remaining: 0``), or
``"garbage"`` (an HTML page with status 200, as a proxy in the way writes).
Every loop is bounded: jobs complete after ``polls_to_complete`` polls, and the server stops with the test.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import secrets
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from zuora_wh.columns import BILLING_RUN_FIELDS, DELETED_COLUMN, ENTITY_FIELDS

ROOT = Path(__file__).resolve().parents[2]
HEADER = [f"BillingRun.{f.api}" for f in BILLING_RUN_FIELDS] + [f"Entity.{f.api}" for f in ENTITY_FIELDS]
DATETIMES = {f"{o}.{f.api}" for o, fs in (("BillingRun", BILLING_RUN_FIELDS), ("Entity", ENTITY_FIELDS))
             for f in fs if f.kind == "datetime"}  # fmt: skip
MARK = re.compile(r"where UpdatedDate >= '([^']+)'")


def utc_text(value: dt.datetime) -> str:
    """A datetime as AQuA writes it with dateTimeUtc."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse(text: str, zone: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


def demo_records(limit: int | None = None, zone: str = "America/Los_Angeles") -> dict[str, dict[str, str]]:
    """The demo bill runs with their entities' fields, by ID, under API names, datetimes in UTC: one version per
    run (the latest)."""

    def rows(name):
        with (ROOT / "seeds" / name).open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    entities = {r["Entity: ID"]: r for r in rows("zuora_entity_export.csv")}
    out: dict[str, dict[str, str]] = {}
    for r in rows("zuora_billing_run_export.csv"):
        merged = {**entities.get(r["Entity: ID"], {}), **r}
        record = {}
        for fields, obj_label, obj_api in ((BILLING_RUN_FIELDS, "Billing Run", "BillingRun"),
                                           (ENTITY_FIELDS, "Entity", "Entity")):  # fmt: skip
            for f in fields:
                value = merged.get(f"{obj_label}: {f.label}", "")
                if value and f"{obj_api}.{f.api}" in DATETIMES:
                    with contextlib.suppress(ValueError):  # a demo row broken on purpose is served as it is
                        value = utc_text(_parse(value, zone))
                record[f"{obj_api}.{f.api}"] = value
        previous = out.get(record["BillingRun.Id"])
        if previous is None or previous["BillingRun.UpdatedDate"] <= record["BillingRun.UpdatedDate"]:
            out[record["BillingRun.Id"]] = record
        if _updated(record) is None:
            del out[record["BillingRun.Id"]]  # no Updated Date that AQuA could filter on
        if limit and len(out) >= limit:
            break
    return out


def _updated(record: dict[str, str]) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(record["BillingRun.UpdatedDate"])
    except ValueError:
        return None


def csv_bytes(records: list[dict[str, str]], deleted: bool = True) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER + ([DELETED_COLUMN] if deleted else []), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue().encode("utf-8")


class FakeZuora:
    """One tenant. ``records`` are the live bill runs; ``deleted`` the deletion records Zuora keeps for 30 days."""

    def __init__(self, client_id: str, client_secret: str, records: dict[str, dict[str, str]] | None = None,
                 polls_to_complete: int = 2, token_uses: int | None = None):  # fmt: skip
        self.client_id, self.client_secret = client_id, client_secret
        self.records = dict(records if records is not None else demo_records())
        self.deleted: dict[str, dict[str, str]] = {}
        self.polls_to_complete = polls_to_complete
        self.token_uses = token_uses  # a token stops working after this many calls (it "expires" mid-run)
        self.faults: dict[str, list] = defaultdict(list)
        self.tokens: dict[str, int] = {}
        self.tokens_issued = 0
        self.jobs: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.queries: list[dict] = []
        self.clock = max(_updated(r) for r in self.records.values())
        self._server: ThreadingHTTPServer | None = None

    # -- what changes in the tenant ------------------------------------------------------------------------------
    def _tick(self) -> str:
        self.clock += dt.timedelta(minutes=7)
        return utc_text(self.clock)

    def update(self, run_id: str, **fields: str) -> None:
        """A change to a bill run: its fields (API names without the object) and a new Updated Date."""
        record = self.records[run_id]
        for name, value in fields.items():
            record[f"BillingRun.{name}"] = value
        record["BillingRun.UpdatedDate"] = self._tick()

    def delete(self, run_id: str) -> None:
        """Zuora deletes a Canceled or Error run after Remove in progress: AQuA then has only its deletion record."""
        record = self.records.pop(run_id)
        self.deleted[run_id] = {"BillingRun.Id": run_id, "BillingRun.UpdatedDate": self._tick(),
                                "BillingRun.BillingRunNumber": record["BillingRun.BillingRunNumber"]}  # fmt: skip

    def write_export(self, folder: Path, tenant: str, time_zone: str) -> None:
        """Today's live data as one export file (no deleted records), what a full export would hold, in a folder
        whose state file names its tenant."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "full-export.csv").write_bytes(csv_bytes(list(self.records.values()), deleted=False))
        (folder / ".zuora-extract.json").write_text(json.dumps({"tenant": tenant, "time_zone": time_zone}))

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
    def token(self, form: dict[str, str]) -> tuple[int, dict, object]:
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "client_credentials",
            self.client_id,
            self.client_secret,
        ):
            return 401, {}, {"message": "invalid client"}
        token = secrets.token_hex(16)
        self.tokens[token] = 0
        self.tokens_issued += 1
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": 3599}

    def authorised(self, headers) -> bool:
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if token not in self.tokens:
            return False
        self.tokens[token] += 1
        return self.token_uses is None or self.tokens[token] <= self.token_uses

    def submit(self, body: dict) -> tuple[int, dict, object]:
        self.queries.append(body)
        (query,) = body["queries"]
        found = MARK.search(query["query"])
        mark = dt.datetime.fromisoformat(found.group(1).replace("Z", "+00:00")) if found else None

        def since(record):
            return mark is None or _updated(record) >= mark

        rows = [{**r, DELETED_COLUMN: "false"} for r in self.records.values() if since(r)]
        if "deleted" in query:
            rows += [{**r, DELETED_COLUMN: "true"} for r in self.deleted.values() if since(r)]
        job_id = secrets.token_hex(16)
        file_id = secrets.token_hex(16)
        self.files[file_id] = csv_bytes(rows, deleted="deleted" in query)
        self.jobs[job_id] = {"polls": 0, "name": query["name"], "file_id": file_id, "rows": len(rows)}
        return 200, {}, {"id": job_id, "status": "submitted", "batches": [{"name": query["name"], "status": "pending"}]}

    def poll(self, job_id: str, fault) -> tuple[int, dict, object]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {}, {"message": "no such job"}
        job["polls"] += 1
        if fault == "error":
            return 200, {}, {"id": job_id, "status": "error",
                             "batches": [{"name": job["name"], "status": "error",
                                          "message": "There is a syntax error in one of the queries"}]}  # fmt: skip
        if job["polls"] < self.polls_to_complete:
            return 200, {}, {"id": job_id, "status": "executing", "batches": [{"name": job["name"]}]}
        return 200, {}, {"id": job_id, "status": "completed",
                         "batches": [{"name": job["name"], "status": "completed", "fileId": job["file_id"],
                                      "recordCount": job["rows"]}]}  # fmt: skip


def _handler(fake: FakeZuora):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _reply(self, status: int, headers: dict, body: object, cut: bool = False) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/csv" if isinstance(body, bytes) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if cut else data)
            if cut:
                self.close_connection = True

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _route(self, method: str) -> None:
            body = self._body() if method == "POST" else b""
            path = self.path
            fake.calls.append((method, path, dict(self.headers)))
            endpoint = ("token" if path == "/oauth/token" else "submit" if path == "/v1/batch-query/"
                        else "poll" if path.startswith("/v1/batch-query/jobs/")
                        else "file" if path.startswith("/v1/file/") else None)  # fmt: skip
            fault = fake.faults[endpoint].pop(0) if endpoint and fake.faults[endpoint] else None
            if fault == "garbage":  # a proxy's error page, with a 200
                return self._reply(200, {}, b"<html><body>Service temporarily unavailable</body></html>")
            if isinstance(fault, int | tuple):
                status, headers = fault if isinstance(fault, tuple) else (fault, {})
                return self._reply(status, headers, {"message": f"fault {status}"})
            if endpoint == "token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                return self._reply(*fake.token(form))
            if endpoint is None:
                return self._reply(404, {}, {"message": "not found"})
            if not fake.authorised(self.headers):
                return self._reply(401, {}, {"message": "Authentication error"})
            if endpoint in ("submit", "poll"):
                status, headers, answer = (fake.submit(json.loads(body)) if endpoint == "submit"
                                           else fake.poll(path.rsplit("/", 1)[1], fault))  # fmt: skip
                if fault == "ratelimited":
                    headers = {**headers, "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}
                return self._reply(status, headers, answer)
            data = fake.files.get(path.rsplit("/", 1)[1])
            if data is None:
                return self._reply(404, {}, {"message": "no such file"})
            return self._reply(200, {}, data, cut=fault == "cut")

        def do_POST(self):
            self._route("POST")

        def do_GET(self):
            self._route("GET")

    return Handler
