"""Alerts: what fires, that each alert reaches each channel once, and what a channel that fails does.

The channels are real servers the tests start on 127.0.0.1 and stop: a webhook that records what it is posted (and
answers what a test queues: a 500, a 429 with Retry-After), and an SMTP server (aiosmtpd) that requires STARTTLS and
a login, with a certificate from a throw-away authority (trustme) that the client is told to trust. The day of
refreshes drives the extractor against the stand-in for Zuora's API (fake_zuora.py) through ``refresh``.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fake_zuora import FakeZuora, demo_tenant, parse_utc, utc_text
from helpers import ROOT, TEST_BUILD, zuora_wh

from zuora_wh.alerts import News, Thresholds, Webhook, thresholds
from zuora_wh.errors import UsageError

SMTP_USER, SMTP_PASSWORD = "alerts", "s3cret-smtp-password"
TOKEN = "T000/B000/not-to-be-printed"  # the secret part of a webhook's URL
README = ROOT / "README.md"
TEST_DB = TEST_BUILD


class Hook:
    """A webhook that records the JSON it is posted; ``answers`` holds the statuses to answer first (then 200)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.tries = 0
        self.answers: list[tuple[int, dict[str, str]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.tries += 1
                status, headers = hook.answers.pop(0) if hook.answers else (200, {})
                if status == 200:
                    hook.posts.append(body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{TOKEN}"

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]


@pytest.fixture
def webhook():
    hook = Hook()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def body(message: str) -> str:
    return email.message_from_string(message, policy=email.policy.default).get_content()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the SMTP server received, and whether each message came over TLS after a login."""

    def __init__(self) -> None:
        self.messages: list[tuple[bool, str | None, str]] = []  # (over TLS, login, message)

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.decode() if session.authenticated else None
        self.messages.append((session.ssl is not None, login, envelope.content.decode()))
        return "250 OK"


def _login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login)


@pytest.fixture
def smtp(tmp_path):
    """An SMTP server that requires STARTTLS and a login; the environment that points the alerts at it."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    mailbox, port = Mailbox(), free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_login,
    )
    controller.start()
    env = {
        "ZUORA_ALERT_SMTP_HOST": "127.0.0.1",
        "ZUORA_ALERT_SMTP_PORT": str(port),
        "ZUORA_ALERT_SMTP_USER": SMTP_USER,
        "ZUORA_ALERT_SMTP_PASSWORD": SMTP_PASSWORD,
        "ZUORA_ALERT_SMTP_FROM": "warehouse@example.com",
        "ZUORA_ALERT_SMTP_TO": "billing-ops@example.com, finance@example.com",
        "ZUORA_ALERT_SMTP_CA_FILE": str(ca_file),
    }
    yield mailbox, env
    controller.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A warehouse folder serving the demo: its in-flight runs are stuck, and its data is old (stale against today).
    The demo build of `make dbt-test` (target/test.duckdb, which make test builds first; the alerts read its tables
    only), or, when pytest runs alone, a build of the demo."""
    warehouse = tmp_path_factory.mktemp("alerts") / "wh"
    if TEST_DB.exists():
        warehouse.mkdir()
        shutil.copyfile(TEST_DB, warehouse / "zuora.duckdb")
        return warehouse
    result = zuora_wh("build", warehouse=warehouse)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return warehouse


def fresh_copy(demo: Path, tmp_path: Path) -> Path:
    """The demo's served file in a warehouse folder of its own (alerts only read it), nothing sent yet."""
    warehouse = tmp_path / "wh"
    warehouse.mkdir()
    (warehouse / "zuora.duckdb").write_bytes((demo / "zuora.duckdb").read_bytes())
    return warehouse


# ---------- what fires, and the thresholds


def test_the_demo_warehouse_fires_its_stuck_runs_and_stale_data(demo, tmp_path):
    warehouse = fresh_copy(demo, tmp_path)
    first = zuora_wh("alerts", warehouse=warehouse)
    assert first.returncode == 1, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "alerts: 6 firing (6 new), 0 ended"
    assert sum("has been" in line for line in lines) == 5  # the demo's five stuck runs
    assert any("default: no new data for" in line for line in lines)
    assert "(no channel configured" in first.stdout
    again = zuora_wh("alerts", warehouse=warehouse)
    assert again.returncode == 1 and again.stdout.startswith("alerts: 6 firing (0 new), 0 ended")
    # measured against the demo's own last day, nothing is stale
    settled = zuora_wh("alerts", "--now", "2026-11-01T12:00:00", warehouse=warehouse)
    assert settled.stdout.startswith("alerts: 5 firing (0 new), 1 ended\n")
    assert "\n  ended default: no new data for" in settled.stdout


def test_thresholds_come_from_the_tenants_file(tmp_path):
    assert thresholds(None) == {"*": Thresholds()}
    toml = tmp_path / "tenants.toml"
    toml.write_text(
        '[alerts]\nfailure_rate_limit = 0.1\n\n[[tenant]]\nname = "acme-us"\nbase_url = "https://rest.zuora.com"\n'
        'client_id_env = "X"\nclient_secret_env = "Y"\n[tenant.alerts]\nstuck_after_hours = 6\n\n'
        '[[tenant]]\nname = "acme-eu"\nbase_url = "https://rest.eu.zuora.com"\nclient_id_env = "X"\n'
        'client_secret_env = "Y"\n'
    )
    found = thresholds(toml)
    assert found["acme-us"] == Thresholds(stuck_after_hours=6, failure_rate_limit=0.1)
    assert found["acme-eu"] == found["*"] == Thresholds(failure_rate_limit=0.1)
    toml.write_text("[alerts]\nstuck_after = 6\n")
    with pytest.raises(UsageError, match=r"tenants.toml, \[alerts\]: unknown thresholds stuck_after \(known: "):
        thresholds(toml)
    toml.write_text("[alerts]\nstale_after_hours = -1\n")
    with pytest.raises(UsageError, match="stale_after_hours = -1 is no number of zero or more"):
        thresholds(toml)
    toml.write_text("[alerts]\nfailure_rate_days = 7.5\n")
    with pytest.raises(UsageError, match=r"failure_rate_days = 7\.5 is no whole number"):
        thresholds(toml)


def test_the_readmes_thresholds_are_the_defaults(tmp_path):
    """The README's example of the [alerts] table shows the defaults, and its tenant's own table is read."""
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S) if "[alerts]" in b]
    toml = tmp_path / "tenants.toml"
    toml.write_text(block)
    found = thresholds(toml)
    assert found["*"] == Thresholds()
    assert found["acme-us"] == Thresholds(stuck_after_hours=6)


def test_bad_settings_are_one_line_each(demo, tmp_path):
    """A time that is no time, a channel half configured, a password file that cannot be read: one line naming the
    setting, exit 2, nothing sent and nothing remembered."""
    warehouse = fresh_copy(demo, tmp_path)
    smtp = {"ZUORA_ALERT_SMTP_HOST": "127.0.0.1", "ZUORA_ALERT_SMTP_FROM": "w@example.com"}
    cases = [
        (["--now", "yesterday"], {}, "error: --now 'yesterday' is no ISO time (2026-11-29T14:00:00Z)"),
        ([], {"ZUORA_ALERT_WEBHOOK_URL": "hooks.example.com/T0"}, "error: ZUORA_ALERT_WEBHOOK_URL is no http(s) URL"),
        ([], smtp, "error: ZUORA_ALERT_SMTP_HOST is set: set ZUORA_ALERT_SMTP_FROM and ZUORA_ALERT_SMTP_TO too"),
        (
            [],
            {**smtp, "ZUORA_ALERT_SMTP_TO": "o@example.com", "ZUORA_ALERT_SMTP_PASSWORD_FILE": str(tmp_path / "no")},
            "error: ZUORA_ALERT_SMTP_PASSWORD_FILE cannot be read (FileNotFoundError)",
        ),
        ([], {"ZUORA_ALERT_SMTP_PORT": "smtp", **smtp, "ZUORA_ALERT_SMTP_TO": "o@example.com"}, None),
    ]
    for args, env, line in cases:
        result = zuora_wh("alerts", *args, warehouse=warehouse, env=env)
        expected = line or "error: ZUORA_ALERT_SMTP_PORT='smtp' is no port number"
        assert (result.returncode, result.stderr.strip()) == (2, expected)
    assert not (warehouse / "alerts" / "sent.json").exists()


# ---------- the channels


def test_the_webhook_tries_again_after_a_5xx_and_a_429(webhook):
    """Slack's JSON (text, and blocks of mrkdwn sections); a 500, then a 429 that says how long to wait (Slack's "Rate
    limits"), then it is taken."""
    webhook.answers = [(500, {}), (429, {"Retry-After": "1"})]
    Webhook(webhook.url).send(News(new=[], resolved=[{"key": "k", "kind": "stuck", "text": "a run is done"}]))
    assert webhook.tries == 3 and len(webhook.posts) == 1
    (post,) = webhook.posts
    assert post["text"] == "Zuora bill runs: 1 ended\nENDED a run is done"
    assert [b["type"] for b in post["blocks"]] == ["section", "section"]
    assert post["blocks"][1]["text"] == {"type": "mrkdwn", "text": "ENDED a run is done"}


def test_a_webhook_that_keeps_failing_is_one_line_and_its_alerts_wait(demo, tmp_path, webhook):
    warehouse = fresh_copy(demo, tmp_path)
    env = {"ZUORA_ALERT_WEBHOOK_URL": webhook.url}
    webhook.answers = [(503, {})] * 4
    failed = zuora_wh("alerts", warehouse=warehouse, env=env)
    assert failed.returncode == 2 and webhook.posts == []
    assert failed.stderr.strip().splitlines() == [
        "error: the webhook at 127.0.0.1 answered 503 after 4 tries; the alerts are kept and sent at the next run"
    ]
    assert TOKEN not in failed.stdout + failed.stderr
    assert TOKEN not in "".join(p.read_text() for p in (warehouse / "alerts").iterdir())
    later = zuora_wh("alerts", warehouse=warehouse, env=env)
    assert later.returncode == 1 and len(webhook.posts) == 1 and webhook.texts()[0].count("\nNEW ") == 6
    assert zuora_wh("alerts", warehouse=warehouse, env=env).returncode == 1 and len(webhook.posts) == 1


def test_e_mail_goes_over_starttls_with_a_login(demo, tmp_path, smtp):
    mailbox, env = smtp
    warehouse = fresh_copy(demo, tmp_path)
    result = zuora_wh("alerts", warehouse=warehouse, env=env)
    assert result.returncode == 1, result.stderr
    ((over_tls, login, message),) = mailbox.messages
    assert over_tls and login == SMTP_USER
    assert "Subject: Zuora bill runs: 6 new alerts" in message
    assert "To: billing-ops@example.com, finance@example.com" in message
    assert body(message).count("NEW ") == 6
    assert SMTP_PASSWORD not in result.stdout + result.stderr
    assert zuora_wh("alerts", warehouse=warehouse, env=env).returncode == 1 and len(mailbox.messages) == 1


def test_e_mail_is_never_sent_without_starttls(demo, tmp_path):
    """A server that offers no STARTTLS would see the password in clear: nothing is sent, and the alerts wait."""

    class Plain:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Plain.received += 1
            return "250 OK"

    port = free_port()
    controller = Controller(Plain(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = {
            "ZUORA_ALERT_SMTP_HOST": "127.0.0.1",
            "ZUORA_ALERT_SMTP_PORT": str(port),
            "ZUORA_ALERT_SMTP_FROM": "warehouse@example.com",
            "ZUORA_ALERT_SMTP_TO": "billing-ops@example.com",
        }
        result = zuora_wh("alerts", warehouse=fresh_copy(demo, tmp_path), env=env)
    finally:
        controller.stop()
    assert result.returncode == 2 and Plain.received == 0
    assert f"the SMTP server 127.0.0.1:{port} offers no STARTTLS; nothing sent" in result.stderr


# ---------- a day of refreshes


def settled_tenant():
    """The demo tenant with nothing to report: its in-flight and failed runs of the last days left out."""
    runs, entities = demo_tenant()
    latest = max(parse_utc(r["BillingRun.UpdatedDate"]) for r in runs.values())
    quiet = {
        run_id: run
        for run_id, run in runs.items()
        if run["BillingRun.Status"] in ("Completed", "Posted", "Canceled")
        or (run["BillingRun.Status"] == "Error" and (latest - parse_utc(run["BillingRun.UpdatedDate"])).days > 8)
    }
    return quiet, entities


def test_a_day_of_refreshes_tells_each_alert_once_to_each_channel(tmp_path, webhook, smtp, monkeypatch):
    """A tenant through a day of scheduled refreshes (``refresh``: extract, build, alerts): all is well; a run fails;
    another sticks, then completes; the extract stops (a rotated secret), so the data goes stale, then works again.
    Each alert reaches the webhook and the mailbox once, an ended condition is said once, and nothing is sent when
    all is well."""
    mailbox, smtp_env = smtp
    exports, warehouse = tmp_path / "exports", tmp_path / "wh"
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(
        '[[tenant]]\nname = "acme"\nbase_url = "URL"\nclient_id_env = "ACME_ID"\nclient_secret_env = "ACME_SECRET"\n'
        "[tenant.alerts]\nstuck_after_hours = 12\n"
    )
    runs, entities = settled_tenant()
    with FakeZuora("acme-client", "acme-secret", runs, entities) as fake:
        tenants.write_text(tenants.read_text().replace("URL", fake.url))
        env = {
            **smtp_env,
            "ZUORA_ALERT_WEBHOOK_URL": webhook.url,
            "ZUORA_TENANTS_FILE": str(tenants),
            "ACME_ID": "acme-client",
            "ACME_SECRET": "acme-secret",
        }

        def refresh() -> tuple[int, str]:
            now = fake.clock.strftime("%Y-%m-%dT%H:%M:%S")
            fast = ["--poll-interval", "0.01", "--retry-backoff", "0.01", "--no-metrics", "--now", now]
            result = zuora_wh("refresh", "--export-dir", str(exports), *fast, warehouse=warehouse, env=env)
            assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
            return result.returncode, result.stdout

        sent = []  # (what the webhook got, what the mailbox got) after each refresh

        def told() -> tuple[list[str], list[str]]:
            posts = [line for text in webhook.texts() for line in text.splitlines()[1:]]
            mails = [line for _, _, m in mailbox.messages for line in body(m).splitlines()]
            return posts, mails

        # 1. all is well: nothing sent
        assert refresh()[0] == 0 and told() == ([], [])
        # 2. a run fails; another starts processing
        posted = sorted(run_id for run_id, run in runs.items() if run["BillingRun.Status"] == "Posted")
        failed, stuck = posted[0], "8a" + "0" * 29 + "9"
        fake.update(failed, Status="Error", ErrorMessage="Invoice generation failed", PostedDate="")
        started = {"ExecutedDate": utc_text(fake.clock), "StartDate": utc_text(fake.clock), "EndDate": ""}
        fake.create(stuck, like=failed, Status="Processing", BillingRunNumber="BR-09999999", PostedDate="", **started)
        fake.update(stuck, ErrorMessage="", TotalTime="")
        fake.advance(hours=3)
        assert refresh()[0] == 1
        sent.append(told())
        # 3. half a day later (another run moves the tenant's clock on), the processing run is stuck (over 12 hours)
        fake.advance(hours=14)
        fake.update(posted[1], Name="a rename")
        fake.advance(hours=3)
        assert refresh()[0] == 1
        sent.append(told())
        # 4. nothing changed: nothing new sent, though the run is still stuck
        fake.advance(hours=1)
        code, out = refresh()
        assert code == 1 and "the warehouse is current" in out and told() == sent[-1]
        # 5. the stuck run completes
        finished = {"Status": "Completed", "EndDate": utc_text(fake.clock), "NumberOfInvoices": "3"}
        fake.update(stuck, **finished)
        fake.advance(hours=3)
        refresh()
        sent.append(told())
        # 6. the client's secret is rotated in Zuora: the extract fails, and three days later the data is stale
        fake.client_secret = "rotated"
        fake.advance(days=3)
        assert refresh()[0] == 1
        sent.append(told())
        # 7. still failing: nothing new
        fake.advance(hours=1)
        refresh()
        assert told() == sent[-1]
        # 8. the new secret is set: data arrives, and all is well again
        fake.client_secret = "acme-secret"
        fake.update(posted[2], Name="back")
        fake.advance(hours=3)
        assert refresh()[0] == 0
        sent.append(told())
        assert refresh()[0] == 0 and told() == sent[-1]
    posts, mails = told()
    assert posts == mails  # each channel was told the same, once each
    expected = [
        "NEW   acme: bill run BR-",  # 2: the failed run
        "NEW   acme: bill run BR-",  # 3: the stuck run
        "ENDED acme: bill run BR-",  # 5: no longer stuck
        "NEW   the refresh at ",  # 6: the extract failed
        "NEW   acme: no new data for ",  # 6: stale
        "ENDED the refresh at ",  # 8
        "ENDED acme: no new data for ",  # 8
    ]
    assert len(posts) == len(expected) and all(
        line.startswith(e) for line, e in zip(sorted(posts), sorted(expected), strict=True)
    )
    assert "failed at" in posts[0] and "Invoice generation failed" in posts[0]
    assert "has been Processing for" in posts[1] and "has been Processing for" in posts[2]
    assert "extract: " in next(p for p in posts if p.startswith("NEW   the refresh"))
    assert [len(s[0]) for s in sent] == [1, 2, 3, 5, 7]
