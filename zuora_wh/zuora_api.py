"""Zuora's REST API as the extractor uses it: OAuth, retries and rate limits, what a tenant has, AQuA jobs, downloads.

Every behaviour relied on here is Zuora's own, from the pages named where it is used (docs.zuora.com and
developer.zuora.com; the test server, tests/python/fake_zuora.py, follows the same pages):

- "Create an OAuth token": ``POST /oauth/token`` (``client_credentials``); the answer's ``expires_in`` (3599 s).
- "Rate limits": answers carry ``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset`` (seconds until
  the window opens again); an exceeded limit is a 429. Zuora documents no ``Retry-After``: a 429 waits for
  ``ratelimit-reset``, and a call after an answer with ``ratelimit-remaining: 0`` waits for it too.
- "Submit an aggregate query job", "Retrieve an aggregate query job", "Cancel a running aggregate query job" and
  "Get file download" (``/v1/batch-query/``, ``/v1/batch-query/jobs/{id}``, ``/v1/file/{fileId}``): an
  ``Idempotency-Key`` makes a retried submit the same job; a refused job answers ``errorCode`` and ``message`` and
  no ``id``; each batch of a completed job has its ``fileId`` and ``recordCount``. With ``Accept-Encoding: gzip``,
  "Zuora automatically compresses responses that contain over 1000 bytes of data" (``Content-Encoding: gzip``):
  ``Content-Length`` is then the size on the wire, not the file's.
- "AQuA API error codes": what each code means and which are worth a retry (``AQUA_ERRORS``).
- "Describe an object" (``GET /v1/describe/{object}``): the fields a tenant has (XML).
- "Multi-entity: List entities" (``GET /v1/entities``): "Entities are available only if you have the Multi-entity
  feature enabled".

Every call has bounded timeouts; 5xx answers and dropped connections are retried with exponential backoff and
jitter. Each failure is one ``ExtractError`` line naming the tenant and what failed; secrets never appear in it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from zuora_wh.errors import WarehouseError
from zuora_wh.tenants import Tenant

TIMEOUT = (10.0, 120.0)  # seconds: to connect, and between two bytes of an answer
RETRIES = 6  # per call, on 429, 5xx and dropped connections
RATE_LIMIT_WAIT_MAX = 300.0  # seconds: the longest wait for a rate-limit window to reset
CHUNK = 1 << 20  # bytes read at a time from a download: a file of 2 GB (Zuora's limit) never sits in memory

# "AQuA API error codes": code -> what it means. RETRY_CODES are Zuora's own failures (worth submitting the job
# again); WAIT_CODES mean "too busy now" (wait, then submit again); the others need a change before a new try.
AQUA_ERRORS = {
    "90001": "invalid batch ID",
    "90002": "invalid job ID",
    "90003": "invalid job ID for cancelling",
    "90004": "more than 50 queries in one job",
    "90005": "a syntax error in a query (or a field the tenant does not have)",
    "90006": "Zuora's internal storage error",
    "90007": "the query was aborted",
    "90008": "Zuora's internal database connection error",
    "90009": "the API user is not authorized to use AQuA",
    "90010": "Zuora's internal server error",
    "90012": "stateless AQuA does not support deleted columns (a deleted section needs forceExport)",
    "90014": "the notifyURL is too long",
    "90015": "the incremental timestamp is invalid",
    "90016": "no queries in the request",
    "90017": "an object of the query does not support deleted records",
    "90018": "the API user has no permission to an object of the query, so Zuora ignored the query",
    "90022": "Zuora's internal error",
    "90027": "a query ran longer than 3 hours",
    "90028": "more than 50 AQuA jobs at once in this tenant",
    "90029": "the job timed out",
}
RETRY_CODES = frozenset({"90006", "90008", "90010", "90022"})
WAIT_CODES = frozenset({"90028"})
# Zuora's data centers by REST host (Zuora's API reference: "API endpoints").
DATA_CENTERS = {
    "rest.zuora.com": "US Production (Cloud 1)",
    "rest.na.zuora.com": "US Production (Cloud 2)",
    "rest.apisandbox.zuora.com": "US API Sandbox (Cloud 1)",
    "rest.sandbox.na.zuora.com": "US API Sandbox (Cloud 2)",
    "rest.test.zuora.com": "US Central Sandbox",
    "rest.pt1.zuora.com": "US Performance Test",
    "rest.eu.zuora.com": "EU Production",
    "rest.sandbox.eu.zuora.com": "EU API Sandbox",
    "rest.test.eu.zuora.com": "EU Central Sandbox",
}


class ExtractError(WarehouseError):
    """A failed call, job or download: the message names the tenant and what failed (``what``)."""

    what = ""


class AquaError(ExtractError):
    """A job AQuA refused or ended in error, with its error code (None when Zuora gave none)."""

    def __init__(self, message: str, code: str | None):
        super().__init__(message)
        self.code = code


def aqua_code(body: dict) -> str | None:
    """The AQuA error code of an answer (a job's, or one of its batches'), by ``errorCode``, else by the message."""
    code = body.get("errorCode")
    if code:
        return str(code)
    message = str(body.get("message") or "").lower()
    for known, meaning in (
        ("90012", "stateless aqua does not support deleted"),
        ("90017", "do not support the querying of deleted"),
        ("90018", "does not have permission"),
    ):
        if meaning in message:
            return known
    return None


def describe_aqua(code: str | None, message: str) -> str:
    """One phrase for an AQuA failure: its code, Zuora's words, and what the code means."""
    meaning = AQUA_ERRORS.get(code or "", "")
    said = message.strip().rstrip(".")
    parts = [
        f"AQuA error {code}" if code else "AQuA error",
        said,
        meaning if meaning.lower() not in said.lower() else "",
    ]
    return ": ".join(p for p in parts if p)


class _ZuoraRetry(Retry):
    """urllib3's retry policy (exponential backoff with jitter); on a 429, the wait is Zuora's ``ratelimit-reset``
    ("Rate limits"), or a ``Retry-After`` if a proxy in the way sent one."""

    def get_retry_after(self, response):
        if response.status == 429:
            try:
                return min(float(response.headers.get("ratelimit-reset", "")), RATE_LIMIT_WAIT_MAX)
            except ValueError:
                pass
        return super().get_retry_after(response)


@dataclass
class Settings:
    max_wait: float = 3 * 3600.0  # seconds for one job: AQuA's own limit is 3 hours a query (90027)
    poll_interval: float = 5.0  # seconds before the first poll; each next wait is 1.5 times longer, up to 60
    retry_backoff: float = 1.0  # seconds: the first retry's wait, doubled at each next retry (with jitter)
    progress: bool = False  # a progress line (on a terminal)


class ZuoraClient:
    """The REST calls of one tenant: OAuth, retries, rate limits, timeouts, and the tenant's clock."""

    def __init__(self, tenant: Tenant, settings: Settings):
        self.tenant = tenant
        self.settings = settings
        self.token: str | None = None
        self.token_expires = 0.0
        self.server_time: dt.datetime | None = None  # the Date of Zuora's last answer
        self.session = requests.Session()
        self.session.headers["Accept-Encoding"] = "gzip"
        retry = _ZuoraRetry(
            total=RETRIES,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # POSTs too: a submit carries an Idempotency-Key, so a retry is the same job
            backoff_factor=settings.retry_backoff,
            backoff_jitter=settings.retry_backoff,
            backoff_max=60,
            retry_after_max=int(RATE_LIMIT_WAIT_MAX),
            raise_on_status=False,  # the last answer is returned, and named in the error
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.hooks["response"].append(self._on_answer)

    def _on_answer(self, response, *args, **kwargs):
        """Note the tenant's clock, and wait when the rate-limit window is used up ("Rate limits")."""
        with_date = response.headers.get("Date")
        if with_date:
            with contextlib.suppress(TypeError, ValueError):
                self.server_time = email.utils.parsedate_to_datetime(with_date).astimezone(dt.UTC)
        if response.status_code != 429 and response.headers.get("ratelimit-remaining") == "0":
            try:
                wait = float(response.headers.get("ratelimit-reset", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(max(0.0, min(wait, RATE_LIMIT_WAIT_MAX)))
        return response

    def now(self) -> dt.datetime:
        """The tenant's time: the Date of Zuora's last answer, else this machine's clock."""
        return self.server_time or dt.datetime.now(dt.UTC)

    @property
    def data_center(self) -> str:
        host = requests.utils.urlparse(self.tenant.base_url).hostname or ""
        return DATA_CENTERS.get(host, f"not one of Zuora's data centers by name ({host})")

    def error(self, what: str, cls=ExtractError, **kwargs) -> ExtractError:
        """An error naming the tenant, then ``what`` failed (kept as ``.what``); no secret in either."""
        for secret in (*self.tenant.secrets(), self.token or ""):
            if secret:
                what = what.replace(secret, "***")
        error = cls(f"{self.tenant.label} ({self.tenant.base_url}): {what}", **kwargs)
        error.what = what
        return error

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
        """ "Create an OAuth token"; renewed a minute before it expires."""
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
            self.token_expires = time.monotonic() + float(body.get("expires_in", 3599)) - 60
        except (ValueError, KeyError, TypeError):
            raise self.error("POST /oauth/token: the answer holds no access_token") from None

    def call(self, method: str, path: str, ok: tuple[int, ...] = (), **kwargs) -> requests.Response:
        """One authenticated call; a 401 renews the token once. Any other answer of 400 or more is an error,
        unless ``ok`` lists its status."""
        headers = kwargs.pop("headers", {})
        for attempt in (1, 2):
            if self.token is None or time.monotonic() >= self.token_expires:
                self.authenticate()
            sent = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **headers}
            if self.tenant.entity_ids:
                sent["Zuora-Entity-Ids"] = self.tenant.entity_ids
            r = self._send(method, path, headers=sent, **kwargs)
            if r.status_code == 401 and attempt == 1:
                r.close()
                self.token = None  # expired or revoked before its time: renew it once
                continue
            if r.status_code >= 400 and r.status_code not in ok:
                raise self.error(f"{method} {path} answered HTTP {r.status_code}{_message(r)}")
            return r
        raise AssertionError("unreachable")

    def call_json(self, method: str, path: str, ok: tuple[int, ...] = (), **kwargs) -> dict:
        """One call whose answer must be a JSON object (an HTML error page from a proxy is an error, not a crash)."""
        r = self.call(method, path, ok=ok, **kwargs)
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self.error(
                f"{method} {path} answered HTTP {r.status_code} with no JSON object (is the base URL "
                "the tenant's REST endpoint?)"
            )
        body.setdefault("_status", r.status_code)
        return body

    # -- what the tenant has -------------------------------------------------------------------------------------
    def export_fields(self, obj: str) -> set[str]:
        """ "Describe an object": the fields of ``obj`` that data source exports may name (context ``export``)."""
        r = self.call("GET", f"/v1/describe/{obj}", headers={"Accept": "application/xml"})
        try:
            root = ET.fromstring(r.content)
        except ET.ParseError:
            raise self.error(
                f"GET /v1/describe/{obj} answered no XML (is the base URL the tenant's REST endpoint?)"
            ) from None
        names = set()
        for field in root.iter("field"):
            contexts = {c.text for c in field.iter("context")}
            name = field.findtext("name")
            if name and (not contexts or "export" in contexts):
                names.add(name)
        return names

    def entities(self) -> list[dict] | None:
        """ "Multi-entity: List entities": the tenant's entities, or None without the Multi-entity feature."""
        body = self.call_json("GET", "/v1/entities", ok=(400, 403, 404))
        if body["_status"] != 200 or body.get("success") is False or not isinstance(body.get("entities"), list):
            return None
        return body["entities"]

    # -- AQuA ----------------------------------------------------------------------------------------------------
    def submit(self, request: dict) -> str:
        """ "Submit an aggregate query job": the job's ID. The Idempotency-Key makes a retried POST (a lost answer)
        the same job; a refused job is an AquaError with its code."""
        body = self.call_json("POST", "/v1/batch-query/", json=request, headers={"Idempotency-Key": str(uuid.uuid4())})
        code = aqua_code(body)
        if body.get("id") and not code:
            return str(body["id"])
        raise self.error(
            f"AQuA refused the job ({describe_aqua(code, str(body.get('message') or ''))})", AquaError, code=code
        )

    def job(self, job_id: str) -> dict:
        """ "Retrieve an aggregate query job"."""
        return self.call_json("GET", f"/v1/batch-query/jobs/{job_id}")

    def cancel(self, job_id: str) -> str:
        """ "Cancel a running aggregate query job": what became of it, for the error line (never raises)."""
        try:
            self.call_json("DELETE", f"/v1/batch-query/jobs/{job_id}")
        except WarehouseError:
            return f"AQuA job {job_id} could not be cancelled; it ends by itself within AQuA's limit of 3 hours"
        return f"AQuA job {job_id} was cancelled"

    def download(self, file_id: str, target: Path, progress=None) -> str | None:
        """ "Get file download": the file into ``target``, decompressed as it streams (gzip when Zuora compressed
        it), synced. Returns why it is incomplete, or None: fewer bytes on the wire than ``Content-Length`` said, a
        compressed stream that ends early, or a broken connection."""
        received = written = 0
        try:
            with self.call("GET", f"/v1/file/{file_id}", stream=True) as r, target.open("wb") as fh:
                announced = r.headers.get("Content-Length")
                encoding = r.headers.get("Content-Encoding", "").strip().lower()
                inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
                for chunk in r.raw.stream(CHUNK, decode_content=False):
                    received += len(chunk)
                    data = inflate.decompress(chunk) if inflate else chunk
                    fh.write(data)
                    written += len(data)
                    if progress:
                        progress(written)
                if inflate:
                    fh.write(inflate.flush())
                fh.flush()
                os.fsync(fh.fileno())
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as e:
            return f"the connection broke after {received:,} bytes ({type(e).__name__})"
        except zlib.error as e:
            return f"the compressed answer is damaged after {received:,} bytes ({e})"
        except Exception as e:  # urllib3's own errors of a stream cut short
            if type(e).__module__.startswith("urllib3"):
                return f"the connection broke after {received:,} bytes ({type(e).__name__})"
            raise
        if announced is not None and received != int(announced):
            return f"{received:,} of the {int(announced):,} bytes Zuora announced arrived"
        if inflate is not None and not inflate.eof:
            return f"the compressed answer ends early ({received:,} bytes arrived)"
        return None


def _message(r: requests.Response) -> str:
    """Zuora's own words about a failed call, shortened (its JSON "message" or "reasons"), or nothing."""
    try:
        body = r.json()
    except ValueError:
        return ""
    message = (body.get("message") or body.get("reasons")) if isinstance(body, dict) else None
    return f": {str(message)[:200]}" if message else ""
