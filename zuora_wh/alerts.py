"""``python -m zuora_wh alerts``: tell the team when a bill run fails or sticks, the failure rate spikes, the data
stops arriving, or a refresh fails; each once.

It reads the served warehouse only, read-only (BI tools may hold it open), and what the last refresh recorded:

- **failed**: a bill run that reached Error within ``failed_within_hours`` of its tenant's latest Updated Date
  (``fct_billing_runs.is_failed``); an event, reported once;
- **stuck**: a run of ``marts.fct_stuck_billing_runs`` (a status a run should leave by itself, held longer than its
  tenant's ``stuck_after_hours``, which the build applies); reported when it sticks, again when its status changes,
  and once more when it is stuck no longer;
- **failure rate**: the share of failed runs among those created in the tenant's last ``failure_rate_days`` days
  (``fct_billing_run_daily.failure_rate``, weighted by its runs) above ``failure_rate_limit``, with at least
  ``failure_rate_min_runs`` runs; reported when it rises above, and when it falls back;
- **stale data**: the tenant's latest Updated Date older than ``stale_after_hours`` before now: a broken extract,
  or a tenant that stopped billing; reported when it goes stale, and when data arrives again;
- **refresh failed**: ``python -m zuora_wh refresh`` failed (the extract, the build or the metrics), with its one
  line; reported again when the line changes, and once when a refresh succeeds.

Thresholds have defaults (``Thresholds``) that a tenants file (``ZUORA_TENANTS_FILE``) overrides, for every tenant
in its ``[alerts]`` table and for one in that tenant's ``[tenant.alerts]``.

Delivery is optional, to each channel the environment configures: a webhook taking Slack's JSON
(``ZUORA_ALERT_WEBHOOK_URL``), and e-mail over SMTP with STARTTLS (``ZUORA_ALERT_SMTP_*``). What each channel was
sent is remembered in ``<warehouse>/alerts/sent.json``, so that a run that stays stuck is not reported at every
refresh; a delivery that fails keeps its alerts to be sent next time. Secrets (the webhook's URL, the SMTP password)
are never printed or written.

Exit codes: 0 all is well; 1 an alert is firing (new or not); 2 an error (a delivery that failed, no warehouse).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import sys
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from zuora_wh import options
from zuora_wh.errors import UsageError, WarehouseError
from zuora_wh.publish import write_json
from zuora_wh.tenants import read_toml, tenants_file
from zuora_wh.warehouse import served_db

DEFAULT_TENANT = "default"  # the tenant of a warehouse whose exports name none (var zuora_default_tenant)
# The conditions: reported when they start, when what is said of them changes, and when they end. The other alerts
# (failed runs) are events, reported once.
CONDITIONS = ("stuck", "failure_rate", "stale", "refresh")


class DeliveryError(WarehouseError):
    """A channel could not take the alerts; they are kept to be sent next time."""


@dataclass(frozen=True)
class Thresholds:
    """When an alert fires, per tenant (README: Alerts)."""

    stuck_after_hours: float = 24.0  # a status a run should leave by itself, held longer than this
    failed_within_hours: float = 24.0  # a failed run is reported if it failed this close to the tenant's latest data
    failure_rate_days: int = 7  # the window of the failure rate, in days of the tenant's calendar
    failure_rate_limit: float = 0.2  # the share of failed runs above which the rate alerts
    failure_rate_min_runs: int = 5  # fewer runs than this in the window say nothing about a rate
    stale_after_hours: float = 48.0  # the tenant's latest Updated Date older than this before now


def thresholds(tenants_file: Path | None) -> dict[str, Thresholds]:
    """The thresholds of each tenant the tenants file names, and of any other (key ``"*"``): the defaults, then the
    file's ``[alerts]``, then the tenant's own ``[tenant.alerts]``."""
    if tenants_file is None:
        return {"*": Thresholds()}
    data = read_toml(tenants_file)
    common = _overridden(Thresholds(), data.get("alerts", {}), f"{tenants_file}, [alerts]")
    found = {"*": common}
    for entry in data.get("tenant", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            where = f"{tenants_file}, tenant {entry['name']}, [tenant.alerts]"
            found[entry["name"]] = _overridden(common, entry.get("alerts", {}), where)
    return found


def _overridden(base: Thresholds, table: object, where: str) -> Thresholds:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: not a table of thresholds")
    known = {f.name: f.type for f in fields(Thresholds)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise UsageError(f"{where}: unknown thresholds {', '.join(unknown)} (known: {', '.join(known)})")
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(f"{where}: {name} = {value!r} is no number of zero or more")
        if known[name] == "int" and not isinstance(value, int):  # the annotation's text (postponed annotations)
            raise UsageError(f"{where}: {name} = {value!r} is no whole number")
    return replace(base, **table)


def stuck_after_hours_by_tenant(found: dict[str, Thresholds]) -> dict[str, float]:
    """What the build passes to dbt (macro zuora_stuck_after_hours): each tenant's stuck threshold, ``"*"`` for the
    others; nothing when the tenants file sets none."""
    by_tenant = {name: t.stuck_after_hours for name, t in found.items()}
    return by_tenant if set(by_tenant.values()) != {Thresholds.stuck_after_hours} else {}


def for_tenant(found: dict[str, Thresholds], tenant: str) -> Thresholds:
    return found.get(tenant, found["*"])


@dataclass(frozen=True)
class Alert:
    key: str  # what it is about, the same while it lasts: "stuck:acme-us:8a..."
    kind: str  # failed | stuck | failure_rate | stale | refresh
    version: str  # what is said of it: a change is reported again
    text: str  # one line, for people


def firing(served: Path, found: dict[str, Thresholds], now: datetime, refresh: dict | None) -> list[Alert]:
    """Every alert that fires now, from the served warehouse and the last refresh's record."""
    alerts = []
    if refresh and not refresh.get("ok", True):
        error = f"{refresh.get('step', 'refresh')}: {refresh.get('error', '(no message)')}"
        alerts.append(Alert("refresh", "refresh", error, f"the refresh at {refresh.get('at')} failed: {error}"))
    if not served.exists():
        return alerts
    with duckdb.connect(str(served), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        latest = dict(con.execute("select tenant, max(updated_at) from marts.fct_billing_runs group by 1").fetchall())
        for tenant, as_of in sorted(latest.items()):
            limits = for_tenant(found, tenant)
            alerts += _failed(con, tenant, as_of - timedelta(hours=limits.failed_within_hours))
            alerts += _failure_rate(con, tenant, limits)
            age = (now - as_of.replace(tzinfo=UTC)).total_seconds() / 3600
            if age > limits.stale_after_hours:
                alerts.append(
                    Alert(
                        f"stale:{tenant}",
                        "stale",
                        f"{as_of:%Y-%m-%d %H:%M:%S}",
                        f"{tenant}: no new data for {age:.0f} hours (the latest Updated Date is {as_of:%Y-%m-%d %H:%M} "
                        f"UTC; the limit is {limits.stale_after_hours:g}): is the extract running?",
                    )
                )
        for tenant, run_id, number, status, hours in con.execute(
            "select tenant, billing_run_id, billing_run_number, status_label, hours_in_status "
            "from marts.fct_stuck_billing_runs order by 1, 2"
        ).fetchall():
            alerts.append(
                Alert(
                    f"stuck:{tenant}:{run_id}",
                    "stuck",
                    status,
                    f"{tenant}: bill run {number} has been {status} for {hours:.0f} hours",
                )
            )
    return alerts


def _failed(con, tenant: str, since: datetime) -> list[Alert]:
    rows = con.execute(
        "select billing_run_id, billing_run_number, updated_at, error_message from marts.fct_billing_runs "
        "where tenant = ? and is_failed and updated_at >= ? order by updated_at, billing_run_id",
        [tenant, since],
    ).fetchall()
    return [
        Alert(
            f"failed:{tenant}:{run_id}",
            "failed",
            "Error",
            f"{tenant}: bill run {number} failed at {at:%Y-%m-%d %H:%M} UTC: {message or '(no error message)'}",
        )
        for run_id, number, at, message in rows
    ]


def _failure_rate(con, tenant: str, limits: Thresholds) -> list[Alert]:
    runs, rate = con.execute(
        "select sum(bill_runs), sum(failure_rate * bill_runs) / nullif(sum(bill_runs), 0) "
        "from marts.fct_billing_run_daily where tenant = ? and run_date > ("
        "  select max(run_date) from marts.fct_billing_run_daily where tenant = ? and bill_runs > 0"
        ") - cast(? as integer)",
        [tenant, tenant, limits.failure_rate_days],
    ).fetchone()
    if not runs or runs < limits.failure_rate_min_runs or rate is None or rate <= limits.failure_rate_limit:
        return []
    return [
        Alert(
            f"failure_rate:{tenant}",
            "failure_rate",
            "above",
            f"{tenant}: {rate:.0%} of the {runs:,} bill runs of the last {limits.failure_rate_days} days failed "
            f"(the limit is {limits.failure_rate_limit:.0%})",
        )
    ]


# -- what was sent ---------------------------------------------------------------------------------------------------


@dataclass
class News:
    """What a channel has not been told yet: alerts new or changed since it was last told, and conditions that ended."""

    new: list[Alert]
    resolved: list[dict]  # what the channel was told of each condition that ended: {"key", "kind", "text"}

    def __bool__(self) -> bool:
        return bool(self.new or self.resolved)

    def lines(self) -> list[str]:
        return [f"NEW   {a.text}" for a in self.new] + [f"ENDED {r['text']}" for r in self.resolved]


def news(told: dict[str, dict], now_firing: list[Alert]) -> News:
    keys = {a.key for a in now_firing}
    return News(
        new=[a for a in now_firing if told.get(a.key, {}).get("version") != a.version],
        resolved=[{"key": key, **said} for key, said in told.items() if key not in keys and said["kind"] in CONDITIONS],
    )


def told_after(told: dict[str, dict], now_firing: list[Alert]) -> dict[str, dict]:
    """What a channel knows once it was sent the news: what fires now (an event no longer firing is forgotten)."""
    return {a.key: {"kind": a.kind, "version": a.version, "text": a.text} for a in now_firing}


# -- the channels ----------------------------------------------------------------------------------------------------


def subject(news_: News) -> str:
    parts = [f"{len(news_.new)} new alert{'s' * (len(news_.new) != 1)}"] if news_.new else []
    parts += [f"{len(news_.resolved)} ended"] if news_.resolved else []
    return "Zuora bill runs: " + ", ".join(parts)


class Webhook:
    """A webhook that takes Slack's JSON ("Sending messages using incoming webhooks": ``text``, the fallback, and
    ``blocks``, sections of mrkdwn text), through slack_sdk's client, which tries again after a 429 (Slack's "Rate
    limits": wait what ``Retry-After`` says), a 5xx or a lost connection."""

    name = "webhook"

    def __init__(self, url: str, retries: int = 3):
        self.url, self.retries = url, retries
        self.where = urlsplit(url).hostname or "the webhook"  # never the whole URL: it holds the token

    def send(self, news_: News) -> None:
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
            ServerErrorRetryHandler,
        )
        from slack_sdk.webhook import WebhookClient

        text = subject(news_) + "\n" + "\n".join(news_.lines())
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{subject(news_)}*"}}]
        body = "\n".join(news_.lines())
        while body:  # a section's text holds at most 3000 characters
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
            body = body[3000:]
        client = WebhookClient(
            self.url,
            timeout=15,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=self.retries),
                RateLimitErrorRetryHandler(max_retry_count=self.retries),
                ServerErrorRetryHandler(max_retry_count=self.retries),
            ],
        )
        try:
            response = client.send(text=text, blocks=blocks[:50])
        except Exception as e:  # the client's own errors: a refused connection, a timeout, a bad URL
            raise DeliveryError(f"the webhook at {self.where} could not be reached ({type(e).__name__})") from None
        if response.status_code != 200:
            raise DeliveryError(
                f"the webhook at {self.where} answered {response.status_code} after {self.retries + 1} tries"
            )


@dataclass(frozen=True)
class Smtp:
    """E-mail over SMTP, with STARTTLS always: the password never crosses the network in clear."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None  # a CA to trust besides the system's (a relay with a private certificate)

    name = "e-mail"

    def send(self, news_: News) -> None:
        message = EmailMessage()
        message["Subject"] = subject(news_)
        message["From"], message["To"] = self.sender, ", ".join(self.recipients)
        message.set_content("\n".join(news_.lines()) + "\n")
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"the SMTP server {self.host}:{self.port} offers no STARTTLS; nothing sent")
                smtp.starttls(context=context)
                smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError(f"the SMTP server {self.host}:{self.port} refused the login of {self.user}") from None
        except (OSError, smtplib.SMTPException) as e:
            reason = type(e).__name__ if isinstance(e, OSError) else str(e).splitlines()[0][:200]
            raise DeliveryError(f"e-mail through {self.host}:{self.port} failed ({reason})") from None


def channels() -> list:
    """The channels the environment configures (README: Alerts)."""
    found: list = []
    url = os.environ.get("ZUORA_ALERT_WEBHOOK_URL", "").strip()
    if url:
        if urlsplit(url).scheme not in ("http", "https"):
            raise UsageError("ZUORA_ALERT_WEBHOOK_URL is no http(s) URL")
        found.append(Webhook(url))
    host = os.environ.get("ZUORA_ALERT_SMTP_HOST", "").strip()
    if host:
        recipients = tuple(a.strip() for a in os.environ.get("ZUORA_ALERT_SMTP_TO", "").split(",") if a.strip())
        sender = os.environ.get("ZUORA_ALERT_SMTP_FROM", "").strip()
        if not recipients or not sender:
            raise UsageError("ZUORA_ALERT_SMTP_HOST is set: set ZUORA_ALERT_SMTP_FROM and ZUORA_ALERT_SMTP_TO too")
        password = os.environ.get("ZUORA_ALERT_SMTP_PASSWORD")
        password_file = os.environ.get("ZUORA_ALERT_SMTP_PASSWORD_FILE")
        if password_file:
            try:
                password = Path(password_file).expanduser().read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as e:
                raise UsageError(f"ZUORA_ALERT_SMTP_PASSWORD_FILE cannot be read ({type(e).__name__})") from None
        port = os.environ.get("ZUORA_ALERT_SMTP_PORT", "587")
        if not port.isdigit():
            raise UsageError(f"ZUORA_ALERT_SMTP_PORT={port!r} is no port number")
        found.append(
            Smtp(
                host=host,
                port=int(port),
                sender=sender,
                recipients=recipients,
                user=os.environ.get("ZUORA_ALERT_SMTP_USER") or None,
                password=password,
                ca_file=os.environ.get("ZUORA_ALERT_SMTP_CA_FILE") or None,
            )
        )
    return found


# -- the command -----------------------------------------------------------------------------------------------------

ALERTS_DIR = "alerts"
SENT = "sent.json"  # per channel: what it was told of each alert that fires
REFRESH = "refresh.json"  # the last refresh: when, whether it worked, and its one line if not


def record_refresh(warehouse_dir: Path, ok: bool, step: str | None = None, error: str | None = None) -> None:
    """What ``python -m zuora_wh refresh`` leaves for the alerts: its outcome."""
    folder = warehouse_dir / ALERTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    write_json(folder / REFRESH, {"at": at, "ok": ok, "step": step, "error": error})


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def alerts(args) -> int:
    """``python -m zuora_wh alerts``: the module's docstring."""
    warehouse_dir = options.warehouse_dir(args)
    served = served_db(warehouse_dir)
    folder = warehouse_dir / ALERTS_DIR
    refresh = _read_json(folder / REFRESH) or None
    if not served.exists() and refresh is None:
        raise UsageError(f"no warehouse in {warehouse_dir}: run 'make build' or 'make refresh' first")
    now = _now(args.now)
    now_firing = firing(served, thresholds(tenants_file()), now, refresh)
    found_channels = channels()
    folder.mkdir(parents=True, exist_ok=True)
    sent = _read_json(folder / SENT)
    failures = []
    for channel in found_channels:
        told = sent.get(channel.name, {})
        what = news(told, now_firing)
        if what:
            try:
                channel.send(what)
            except DeliveryError as e:
                failures.append(str(e))
                continue  # what it was told stays as it was: the news is sent next time
        sent[channel.name] = told_after(told, now_firing)
    # the terminal is told too, so that its summary says what is new since the last run
    print(summary(now_firing, news(sent.get("terminal", {}), now_firing), found_channels))
    sent["terminal"] = told_after(sent.get("terminal", {}), now_firing)
    write_json(folder / SENT, sent)
    for failure in failures:
        print(f"error: {failure}; the alerts are kept and sent at the next run", file=sys.stderr)
    if failures:
        return 2
    return 1 if now_firing else 0


def _now(given: str | None) -> datetime:
    if not given:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(given)
    except ValueError:
        raise UsageError(f"--now {given!r} is no ISO time (2026-11-29T14:00:00Z)") from None
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def summary(now_firing: list[Alert], what: News, found_channels: list) -> str:
    if not now_firing and not what.resolved:
        return "alerts: all is well"
    new_keys = {a.key for a in what.new}
    lines = [f"alerts: {len(now_firing)} firing ({len(what.new)} new), {len(what.resolved)} ended"]
    lines += [f"  {'NEW  ' if a.key in new_keys else 'still'} {a.text}" for a in now_firing]
    lines += [f"  ended {r['text']}" for r in what.resolved]
    lines.append(
        "  sent to: " + ", ".join(c.name for c in found_channels)
        if found_channels
        else "  (no channel configured: ZUORA_ALERT_WEBHOOK_URL, ZUORA_ALERT_SMTP_HOST)"
    )
    return "\n".join(lines)


def add_parser(sub) -> None:
    a = sub.add_parser("alerts", help="tell the team of failed and stuck runs, failure-rate spikes, stale data")
    a.add_argument(
        "--now",
        help="the time to measure staleness against, as an ISO UTC time (default: now; to replay a day)",
    )
    a.set_defaults(func=alerts)
