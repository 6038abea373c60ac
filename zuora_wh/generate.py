"""Deterministic generator of Zuora Billing Run and Entity exports that look like what Zuora writes.

Every value follows Zuora's documentation (``shared/reference``): label headers (or API-name headers), datetimes
with the tenant's Pacific offset (``-08:00`` / ``-07:00`` across daylight-saving changes), a datetime that falls
exactly on midnight written as the bare date, some dates localised the en_US way (``MM/DD/YYYY``), text values
protected by the CSV-injection apostrophe, UI labels instead of API values for some statuses, and field values
consistent with the bill-run state machine (a Pending run has no start, end or total time; an Error run has an
error message; only runs that were posted have a posted date).

Rows are written one at a time, so any size fits in bounded memory.

    python -m zuora_wh.generate --out-dir seeds              # the embedded demo (the default sizes)
    python -m zuora_wh.generate --bill-runs 1000000 --out-dir /tmp/exports --header-style api
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from zuora_wh.columns import (
    BILLING_RUN_EXPORT_FIELDS,
    ENTITY_FIELDS,
    STATUS_UI_LABELS,
    headers,
)

TENANT_TZ = ZoneInfo("America/Los_Angeles")
DEMO_BILL_RUNS = 720
DEMO_START = date(2024, 11, 1)
DEMO_MONTHS = 24
BILLING_RUN_FILE = "zuora_billing_run_export.csv"
ENTITY_FILE = "zuora_entity_export.csv"

# Status mix of a long-lived tenant: most runs end posted; the in-progress states are short-lived.
STATUS_WEIGHTS = {
    "Posted": 44,
    "Completed": 18,
    "Error": 9,
    "Canceled": 7,
    "Pending": 6,
    "Processing": 3,
    "Paused": 3,
    "PostInProgress": 4,
    "CancelInProgress": 3,
    "RemoveInProgress": 3,
}
ERROR_MESSAGES = (
    "There are no accounts matching the bill run criteria.",
    "The invoice template for account A{acct:08d} is missing.",
    "-{n} accounts failed: the tax engine did not respond within 120 seconds.",
    "Bill run failed because the payment term of account A{acct:08d} is inactive.",
    "=Charge amount is negative for subscription A-S{acct:08d}; the invoice cannot be generated.",
    "Internal error: the bill run was interrupted. Please retry or contact Zuora Global Support.",
)
RUN_NAMES = (
    "Monthly bill run {month}",
    "BCD {bcd} run",
    "Month-end {month}",
    "-{month} catch-up",
    "@finance {month}",
    "Quarter close {month}",
)
TARGET_TYPES = ("SingleAccount", "Batch", "Batch", "Batch", "AllAccounts")
CSV_INJECTION_PREFIXES = ("=", "+", "-", "@", ";")


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    display_name: str
    email: str
    address_1: str
    address_2: str
    city: str
    state: str
    postal_code: str
    country: str
    created_at: datetime
    updated_at: datetime


def guard(value: str) -> str:
    """Zuora's CSV-injection guard: a text value starting with = + - @ ; gets a leading apostrophe."""
    return "'" + value if value.startswith(CSV_INJECTION_PREFIXES) else value


def zuora_datetime(value: datetime | None) -> str:
    """A UTC datetime as Zuora writes it: tenant-local with its offset, midnight as the bare date."""
    if value is None:
        return ""
    local = value.astimezone(TENANT_TZ)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return local.date().isoformat()
    return local.isoformat(timespec="seconds")


def zuora_date(value: date | None, en_us: bool) -> str:
    if value is None:
        return ""
    return value.strftime("%m/%d/%Y") if en_us else value.isoformat()


def hex_id(rng: random.Random) -> str:
    """A 32-character lowercase hex ID shaped like Zuora's (they start with the pod prefix 8a)."""
    return "8a" + f"{rng.getrandbits(120):030x}"


def make_entities(rng: random.Random, users: list[str]) -> list[Entity]:
    created = datetime(2023, 6, 1, 17, 0, tzinfo=UTC)
    rows = [
        (
            "Global",
            "Acme Global",
            "billing@acme.example",
            "100 Market St",
            "",
            "San Francisco",
            "CA",
            "94105",
            "United States",
        ),
        (
            "Acme US",
            "Acme Inc.",
            "billing-us@acme.example",
            "500 Howard St",
            "Suite 300",
            "San Francisco",
            "CA",
            "94105",
            "United States",
        ),
        (
            "Acme EU",
            "Acme Europe GmbH",
            "rechnung@acme.example",
            "Friedrichstrasse 68",
            "",
            "Berlin",
            "",
            "10117",
            "Germany",
        ),
        (
            "Acme APAC",
            "@Acme Japan KK",
            "billing-jp@acme.example",
            "1-1 Marunouchi",
            "+81 Floor 12",
            "Chiyoda-ku",
            "Tokyo",
            "100-0005",
            "Japan",
        ),
    ]
    entities = []
    for i, (name, display, email, a1, a2, city, state, postal, country) in enumerate(rows):
        c = created + timedelta(days=30 * i, hours=rng.randint(0, 8))
        entities.append(
            Entity(
                hex_id(rng),
                name,
                display,
                email,
                a1,
                a2,
                city,
                state,
                postal,
                country,
                c,
                c + timedelta(days=rng.randint(10, 400), minutes=rng.randint(1, 600)),
            )
        )
    return entities


def entity_rows(entities: list[Entity], users: list[str], rng: random.Random) -> Iterator[list[str]]:
    for e in entities:
        values = {
            "Address1": e.address_1,
            "Address2": e.address_2,
            "City": e.city,
            "Country": e.country,
            "CreatedById": rng.choice(users),
            "CreatedDate": zuora_datetime(e.created_at),
            "DisplayName": e.display_name,
            "Email": e.email,
            "Id": e.id,
            "Name": e.name,
            "PostalCode": e.postal_code,
            "State": e.state,
            "UpdatedById": rng.choice(users),
            "UpdatedDate": zuora_datetime(e.updated_at),
        }
        yield [guard(values[f.api]) for f in ENTITY_FIELDS]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def bill_run_rows(
    n: int,
    entities: list[Entity],
    users: list[str],
    rng: random.Random,
    start: date = DEMO_START,
    months: int = DEMO_MONTHS,
    first_number: int = 1,
) -> Iterator[list[str]]:
    """Yield ``n`` bill-run export rows in creation order, values as Zuora writes them."""
    t0 = datetime(start.year, start.month, start.day, tzinfo=TENANT_TZ).astimezone(UTC)
    span = timedelta(days=round(months * 365.25 / 12)).total_seconds()
    step = span / max(n, 1)
    fields = [f.api if f.obj_api == "BillingRun" else "Entity.Id" for f in BILLING_RUN_EXPORT_FIELDS]
    for i in range(n):
        created = t0 + timedelta(seconds=int(i * step + rng.random() * step * 0.9))
        local = created.astimezone(TENANT_TZ)
        scheduled = rng.random() < 0.08  # scheduled runs start exactly at tenant midnight
        if scheduled:
            local = local.replace(hour=0, minute=0, second=0)
            created = local.astimezone(UTC)
        status = _weighted(rng, STATUS_WEIGHTS)
        run_type = "CatchUp" if rng.random() < 0.07 and status not in ("Canceled", "CancelInProgress") else "Regular"
        target_type = rng.choice(TARGET_TYPES)
        target = local.date() + timedelta(days=rng.choice((0, 0, 0, 1, 7)))
        invoice = target if rng.random() < 0.85 else local.date()
        executed = started = ended = posted = None
        total_ms = None
        accounts = invoices = credit_memos = 0
        error = ""
        if status not in ("Pending", "Paused") and not (
            status in ("Canceled", "CancelInProgress") and rng.random() < 0.4
        ):
            executed = created if scheduled else created + timedelta(seconds=rng.randint(0, 1800))
            started = executed + timedelta(seconds=rng.randint(0, 20))
            accounts = 1 if target_type == "SingleAccount" else int(rng.lognormvariate(5, 1.3)) + 1
            invoices = 0 if run_type == "CatchUp" else rng.randint(max(0, accounts - accounts // 10), accounts)
            credit_memos = rng.randint(0, accounts // 15) if run_type == "Regular" else 0
            if status != "Processing":
                total_ms = int(rng.lognormvariate(10.5, 1.4)) + 800
                ended = started + timedelta(milliseconds=total_ms)
                ended = ended.replace(microsecond=0)
            else:
                invoices = invoices // 2
            if status == "Error":
                error = rng.choice(ERROR_MESSAGES).format(acct=rng.randint(1, 99999), n=rng.randint(1, 40))
                invoices = 0 if error.startswith("There are no") else invoices // 3
                accounts = 0 if error.startswith("There are no") else accounts
            reverted = status == "Completed" and rng.random() < 0.05  # posted, then an invoice went back to draft
            reposting = status == "PostInProgress" and rng.random() < 0.2
            if status == "Posted" or reverted or reposting:
                posted = ended + timedelta(seconds=rng.randint(300, 3 * 86400))
        if status in ("Pending", "Paused"):
            accounts = invoices = credit_memos = 0
        stamps = [s for s in (created, executed, started, ended, posted) if s]
        updated = max(stamps) + timedelta(seconds=rng.randint(1, 600))
        # Before 2025-02 the tenant had not enabled Invoice Settlement: Zuora leaves the count empty.
        credit_memos_text = "" if local.date() < date(2025, 2, 1) else str(credit_memos)
        status_text = status
        if status in STATUS_UI_LABELS and rng.random() < 0.5:
            status_text = STATUS_UI_LABELS[status]
        name = ""
        if rng.random() < 0.55:
            name = rng.choice(RUN_NAMES).format(month=local.strftime("%b %Y"), bcd=rng.randint(1, 28))
        entity_id = "" if rng.random() < 0.02 else rng.choice(entities).id
        en_us = rng.random() < 0.1
        values = {
            "BillingRunNumber": f"BR-{first_number + i:08d}",
            "BillingRunType": run_type,
            "CreatedById": rng.choice(users),
            "CreatedDate": zuora_datetime(created),
            "EndDate": zuora_datetime(ended),
            "ErrorMessage": error,
            "ExecutedDate": zuora_datetime(executed),
            "Id": hex_id(rng),
            "InvoiceDate": zuora_date(invoice, en_us),
            "Name": name,
            "NumberOfAccounts": str(accounts),
            "NumberOfCreditMemos": credit_memos_text,
            "NumberOfInvoices": str(invoices),
            "PostedDate": zuora_datetime(posted),
            "StartDate": zuora_datetime(started),
            "Status": status_text,
            "TargetDate": zuora_date(target, en_us),
            "TargetType": target_type,
            "TotalTime": "" if total_ms is None else str(total_ms),
            "UpdatedById": rng.choice(users),
            "UpdatedDate": zuora_datetime(updated),
            "Entity.Id": entity_id,
        }
        yield [guard(values[f]) for f in fields]


def _progress(it: Iterator[list[str]], total: int, enabled: bool) -> Iterator[list[str]]:
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, unit=" rows", unit_scale=True, desc="bill runs", file=sys.stderr)


def write_exports(
    out_dir: Path,
    bill_runs: int = DEMO_BILL_RUNS,
    seed: int = 20240101,
    header_style: str = "label",
    start: date = DEMO_START,
    months: int = DEMO_MONTHS,
    progress: bool = False,
) -> tuple[Path, Path]:
    """Write one Billing Run export and one Entity export into ``out_dir``; return their paths."""
    rng = random.Random(seed)
    users = [hex_id(rng) for _ in range(6)]
    entities = make_entities(rng, users)
    out_dir.mkdir(parents=True, exist_ok=True)
    entity_path, run_path = out_dir / ENTITY_FILE, out_dir / BILLING_RUN_FILE
    with entity_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(headers(ENTITY_FIELDS, header_style))
        w.writerows(entity_rows(entities, users, rng))
    with run_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(headers(BILLING_RUN_EXPORT_FIELDS, header_style))
        rows = bill_run_rows(bill_runs, entities, users, rng, start=start, months=months)
        w.writerows(_progress(rows, bill_runs, progress))
    return run_path, entity_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zuora_wh.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, default=Path("seeds"), help="folder to write the exports to")
    p.add_argument("--bill-runs", type=int, default=DEMO_BILL_RUNS, help="number of bill runs (default 720)")
    p.add_argument("--seed", type=int, default=20240101, help="random seed; the same seed writes the same files")
    p.add_argument(
        "--header-style",
        choices=("label", "api"),
        default="label",
        help="label headers (Billing Run: Status) or API names (BillingRun.Status)",
    )
    p.add_argument("--months", type=int, default=DEMO_MONTHS, help="months of history (default 24)")
    p.add_argument("--progress", action="store_true", help="show a progress bar on standard error")
    args = p.parse_args(argv)
    if args.bill_runs < 0:
        p.error("--bill-runs must be 0 or more")
    runs, entities = write_exports(
        args.out_dir, args.bill_runs, args.seed, args.header_style, months=args.months, progress=args.progress
    )
    print(f"wrote {runs} ({args.bill_runs} bill runs) and {entities}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
