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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from zuora_wh.columns import (
    BILLING_RUN_EXPORT_FIELDS,
    BILLING_RUN_FIELDS,
    ENTITY_FIELDS,
    csv_injection_characters,
    headers,
    status_ui_labels,
)

TENANT_TZ = ZoneInfo("America/Los_Angeles")
DEMO_BILL_RUNS = 720
DEMO_START = date(2024, 11, 1)
DEMO_MONTHS = 24
DEMO_SEED = 20240101  # the demo's random seed: the same seed writes the same files
BILLING_RUN_FILE = "zuora_billing_run_export.csv"
COMBINED_FILE = "zuora_billing_run_data_source.csv"
ENTITY_FILE = "zuora_entity_export.csv"

# Status mix of a long-lived tenant's settled runs: most end posted.
STATUS_WEIGHTS = {"Posted": 44, "Completed": 18, "Error": 9, "Canceled": 7}
# The states a run passes through, or waits in, are short-lived: only the latest runs of a long export are in them,
# created every few hours over its last two days, each in one of these in turn (newest first; the older round
# written with the UI's labels), so that the demo's stuck list is a handful.
IN_FLIGHT_STATUSES = ("Pending", "Processing", "PostInProgress", "CancelInProgress", "RemoveInProgress", "Paused")
IN_FLIGHT_RUNS = 2 * len(IN_FLIGHT_STATUSES)
IN_FLIGHT_MIN_RUNS = 5 * IN_FLIGHT_RUNS  # a shorter export is all history
IN_FLIGHT_EVERY = timedelta(hours=4)
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
    return "'" + value if value.startswith(csv_injection_characters()) else value


def zuora_datetime(value: datetime | None) -> str:
    """A UTC datetime as Zuora writes it: tenant-local with its offset, midnight as the bare date."""
    if value is None:
        return ""
    local = value.astimezone(TENANT_TZ)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return local.date().isoformat()
    return local.isoformat(timespec="seconds")


def zuora_date(value: date | None) -> str:
    """A date as the API, AQuA and Data Query write it (ISO). The localised spellings of UI exports, and of a
    spreadsheet that saved a file again, are a property of the whole file: the tests write them from these."""
    return "" if value is None else value.isoformat()


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


def draw_tenant(seed: int) -> tuple[random.Random, list[str], list[Entity]]:
    """The tenant's users and entities drawn from ``seed``, and the generator that drew them (the entity export's rows
    come from it next): a history and its re-exports, written with the same seed, share them."""
    rng = random.Random(seed)
    users = [hex_id(rng) for _ in range(6)]
    return rng, users, make_entities(rng, users)


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
        yield [guard(values.get(f.api, "")) for f in ENTITY_FIELDS]  # a field it has no value for: empty


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class BillRun:
    """One bill run, with Python values; ``export_row`` writes it the way Zuora does."""

    number: int
    id: str
    run_type: str
    target_type: str
    status: str
    created: datetime
    target: date
    invoice: date
    executed: datetime | None
    started: datetime | None
    ended: datetime | None
    posted: datetime | None
    updated: datetime
    total_ms: int | None
    accounts: int | None  # None until the run has processed: Zuora leaves the counts empty
    invoices: int | None
    credit_memos: int | None
    error: str
    name: str
    entity_id: str
    created_by: str
    updated_by: str
    ui_label: bool
    invoice_settlement: bool  # without the feature, Zuora leaves Number of Credit Memos empty

    def export_row(self) -> list[str]:
        status = status_ui_labels()[self.status] if self.ui_label and self.status in status_ui_labels() else self.status
        values = {
            "BillingRunNumber": f"BR-{self.number:08d}",
            "BillingRunType": self.run_type,
            "CreatedById": self.created_by,
            "CreatedDate": zuora_datetime(self.created),
            "EndDate": zuora_datetime(self.ended),
            "ErrorMessage": self.error,
            "ExecutedDate": zuora_datetime(self.executed),
            "Id": self.id,
            "InvoiceDate": zuora_date(self.invoice),
            "Name": self.name,
            "NumberOfAccounts": _count(self.accounts),
            "NumberOfCreditMemos": _count(self.credit_memos if self.invoice_settlement else None),
            "NumberOfInvoices": _count(self.invoices),
            "PostedDate": zuora_datetime(self.posted),
            "StartDate": zuora_datetime(self.started),
            "Status": status,
            "TargetDate": zuora_date(self.target),
            "TargetType": self.target_type,
            "TotalTime": "" if self.total_ms is None else str(self.total_ms),
            "UpdatedById": self.updated_by,
            "UpdatedDate": zuora_datetime(self.updated),
            "Entity.Id": self.entity_id,
        }
        return [guard(values.get(f, "")) for f in _EXPORT_KEYS]  # a field it has no value for: empty


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


_EXPORT_KEYS = [f.api if f.obj_api == "BillingRun" else "Entity.Id" for f in BILLING_RUN_EXPORT_FIELDS]


def make_run(i: int, n: int, seed: int, entities: list[Entity], users: list[str], start: date, months: int) -> BillRun:
    """Bill run number ``i + 1`` of ``n``, created in creation order over ``months`` from ``start``.

    Each run draws from its own random generator (seeded by ``seed`` and ``i``), so any run can be made again
    on its own: that is how a re-export writes a later version of a run without keeping the earlier ones.
    """
    rng = random.Random(seed * 1_000_003 + i)
    t0 = datetime(start.year, start.month, start.day, tzinfo=TENANT_TZ).astimezone(UTC)
    end = t0 + timedelta(days=round(months * 365.25 / 12))
    # the latest runs of a long export are still on their way, created every few hours over its last days; the
    # settled ones before them fill the time until then
    in_flight = IN_FLIGHT_RUNS if n >= IN_FLIGHT_MIN_RUNS else 0
    settled_until = end - in_flight * IN_FLIGHT_EVERY
    step = (settled_until - t0).total_seconds() / max(n - in_flight, 1)
    created = t0 + timedelta(seconds=int(i * step + rng.random() * step * 0.9))
    local = created.astimezone(TENANT_TZ)
    scheduled = rng.random() < 0.08  # scheduled runs start exactly at tenant midnight
    if scheduled:
        local = local.replace(hour=0, minute=0, second=0)
        created = local.astimezone(UTC)
    status = _weighted(rng, STATUS_WEIGHTS)
    ui_label = rng.random() < 0.5
    back = n - 1 - i  # 0: the newest run
    if back < in_flight:
        status = IN_FLIGHT_STATUSES[back % len(IN_FLIGHT_STATUSES)]
        ui_label = back >= len(IN_FLIGHT_STATUSES)
        # A run after the end (back < 0: a re-export's new run) comes at the history's own pace, at most every few
        # hours: a re-export of a large tenant's new runs spans hours, not years.
        every = IN_FLIGHT_EVERY if back >= 0 else min(IN_FLIGHT_EVERY, timedelta(seconds=step))
        created = end - back * every - timedelta(seconds=rng.randint(0, int(min(3600, every.total_seconds()))))
        local = created.astimezone(TENANT_TZ)
    run_type = "CatchUp" if rng.random() < 0.07 and status not in ("Canceled", "CancelInProgress") else "Regular"
    target_type = rng.choice(TARGET_TYPES)
    target = local.date() + timedelta(days=rng.choice((0, 0, 0, 1, 7)))
    run = BillRun(
        number=i + 1,
        id=hex_id(rng),
        run_type=run_type,
        target_type=target_type,
        status=status,
        created=created,
        target=target,
        invoice=target if rng.random() < 0.85 else local.date(),
        executed=None,
        started=None,
        ended=None,
        posted=None,
        updated=created,
        total_ms=None,
        accounts=None,
        invoices=None,
        credit_memos=None,
        error="",
        name="",
        entity_id="",
        created_by=rng.choice(users),
        updated_by=rng.choice(users),
        ui_label=ui_label,
        # Before 2025-02 the tenant had not enabled Invoice Settlement.
        invoice_settlement=local.date() >= date(2025, 2, 1),
    )
    if status not in ("Pending", "Paused") and not (status in ("Canceled", "CancelInProgress") and rng.random() < 0.4):
        _process(run, rng, scheduled)
        if status == "Processing":
            run.ended = run.total_ms = None
            run.invoices //= 2
        if status == "Error":
            run.error = rng.choice(ERROR_MESSAGES).format(acct=rng.randint(1, 99999), n=rng.randint(1, 40))
            nothing = run.error.startswith("There are no")
            run.invoices = 0 if nothing else run.invoices // 3
            run.accounts = 0 if nothing else run.accounts
        reverted = status == "Completed" and rng.random() < 0.05  # posted, then an invoice went back to draft
        reposting = status == "PostInProgress" and rng.random() < 0.2
        if status == "Posted" or reverted or reposting:
            run.posted = run.ended + timedelta(seconds=rng.randint(300, 3 * 86400))
    stamps = [s for s in (run.created, run.executed, run.started, run.ended, run.posted) if s]
    run.updated = max(stamps) + timedelta(seconds=rng.randint(1, 600))
    if rng.random() < 0.55:
        run.name = rng.choice(RUN_NAMES).format(month=local.strftime("%b %Y"), bcd=rng.randint(1, 28))
    run.entity_id = "" if rng.random() < 0.02 else rng.choice(entities).id
    return run


def _process(run: BillRun, rng: random.Random, scheduled: bool = False) -> None:
    """The run goes through processing: start, counts, end."""
    run.executed = run.created if scheduled else run.created + timedelta(seconds=rng.randint(0, 1800))
    run.started = run.executed + timedelta(seconds=rng.randint(0, 20))
    run.accounts = 1 if run.target_type == "SingleAccount" else int(rng.lognormvariate(5, 1.3)) + 1
    run.invoices = 0 if run.run_type == "CatchUp" else rng.randint(run.accounts - run.accounts // 10, run.accounts)
    memos = rng.randint(0, run.accounts // 15) if run.run_type == "Regular" else 0
    run.credit_memos = memos
    run.total_ms = int(rng.lognormvariate(10.5, 1.4)) + 800
    run.ended = (run.started + timedelta(milliseconds=run.total_ms)).replace(microsecond=0)


def advance(run: BillRun, rng: random.Random) -> BillRun:
    """The same bill run, exported again later: one step further along the state machine, Updated Date later."""
    later = run.updated + timedelta(hours=rng.randint(1, 72))
    if run.status in ("Pending", "Paused"):
        run.created = min(run.created, later)
        _process(run, rng)
        run.status = "Completed"
    elif run.status == "Processing":
        run.total_ms = int(rng.lognormvariate(10.5, 1.4)) + 800
        run.ended = (run.started + timedelta(milliseconds=run.total_ms)).replace(microsecond=0)
        run.status = "Completed"
    elif run.status in ("Completed", "PostInProgress") and run.ended:
        run.posted = max(run.ended, later - timedelta(minutes=5))
        run.status = "Posted"
    elif run.status == "CancelInProgress":
        run.status = "Canceled"
    elif run.status in ("Error", "Canceled"):
        run.status = "RemoveInProgress"
    elif run.status == "Posted":
        run.name = run.name or "Reviewed"
    stamps = [s for s in (run.created, run.executed, run.started, run.ended, run.posted) if s]
    run.updated = max([later, *stamps]) + timedelta(seconds=1)
    run.updated_by = run.created_by
    return run


def bill_run_rows(
    n: int,
    entities: list[Entity],
    users: list[str],
    seed: int,
    start: date = DEMO_START,
    months: int = DEMO_MONTHS,
    indexes: Iterable[int] | None = None,
    advanced: bool = False,
    with_entity: dict[str, list[str]] | None = None,
) -> Iterator[list[str]]:
    """Rows of the runs ``indexes`` (default: all ``n``) of a history of ``n`` runs, as Zuora writes them.

    ``advanced``: each run as a later export carries it, one step further along the state machine with a later
    Updated Date. ``with_entity``: the entity export row of each entity ID, appended to the run's row (the
    combined file of the UI export).
    """
    for i in range(n) if indexes is None else indexes:
        run = make_run(i, n, seed, entities, users, start, months)
        if advanced:
            run = advance(run, random.Random(seed * 7_000_003 + i))
        row = run.export_row()
        if with_entity is not None:
            row = row[:-1] + with_entity.get(run.entity_id, [""] * len(ENTITY_FIELDS))
        yield row


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=" rows", unit_scale=True, desc="bill runs", file=sys.stderr, disable=not enabled)


def _writer(path: Path, header: list[str], bom: bool = False):
    fh = path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8")
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(header)
    return fh, w


def write_demo_files(
    out_dir: Path,
    bill_runs: int = DEMO_BILL_RUNS,
    seed: int = DEMO_SEED,
    header_style: str = "label",
    start: date = DEMO_START,
    months: int = DEMO_MONTHS,
    progress: bool = False,
    files: int = 1,
    overlap: float = 0.0,
    combined: bool = False,
    workers: int = 1,
) -> list[Path]:
    """Write Zuora exports of ``bill_runs`` runs into ``out_dir`` and return their paths.

    - By default one Billing Run export and one Entity export.
    - ``files`` > 1 splits the runs over that many Billing Run exports in creation order; each file after the
      first starts by re-exporting the last ``overlap`` share of the previous file's runs, one step further
      along the state machine with a later Updated Date (as overlapping incremental exports do).
    - ``combined``: instead, the one file Zuora's UI writes for the data source, Billing Run and Entity columns
      side by side.
    - ``workers`` > 1 writes that many files at once, in separate processes.
    """
    rng, users, entities = draw_tenant(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    entity_export = list(entity_rows(entities, users, rng))
    kw = {"n": bill_runs, "entities": entities, "users": users, "seed": seed, "start": start, "months": months}
    bar = _progress_bar(bill_runs + int(bill_runs * overlap), progress)
    if combined:
        path = out_dir / COMBINED_FILE
        fh, w = _writer(path, headers(BILLING_RUN_FIELDS + ENTITY_FIELDS, header_style))
        by_id = {row[[f.api for f in ENTITY_FIELDS].index("Id")]: row for row in entity_export}
        with fh:
            for row in bill_run_rows(**kw, with_entity=by_id):
                w.writerow(row)
                bar.update()
        bar.close()
        return [path]
    paths = [out_dir / ENTITY_FILE]
    fh, w = _writer(paths[0], headers(ENTITY_FIELDS, header_style))
    with fh:
        w.writerows(entity_export)
    bounds = [round(bill_runs * k / files) for k in range(files + 1)]
    names = [
        BILLING_RUN_FILE if files == 1 else BILLING_RUN_FILE.replace(".csv", f"_{k + 1:03d}.csv") for k in range(files)
    ]
    jobs = [(out_dir / names[k], header_style, kw, bounds, k, overlap) for k in range(files)]
    if workers > 1 and files > 1:
        from multiprocessing import Pool

        with Pool(workers) as pool:
            for written in pool.imap(_write_run_file, jobs):
                bar.update(written)
    else:
        for job in jobs:
            bar.update(_write_run_file(job))
    bar.close()
    return paths + [out_dir / name for name in names]


def _write_run_file(job) -> int:
    """Write Billing Run export number ``k`` (see write_demo_files); returns how many rows it holds."""
    path, header_style, kw, bounds, k, overlap = job
    written = 0
    fh, w = _writer(path, headers(BILLING_RUN_EXPORT_FIELDS, header_style))
    with fh:
        if k:
            again = range(bounds[k] - int((bounds[k] - bounds[k - 1]) * overlap), bounds[k])
            for row in bill_run_rows(**kw, indexes=again, advanced=True):
                w.writerow(row)
                written += 1
        for row in bill_run_rows(**kw, indexes=range(bounds[k], bounds[k + 1])):
            w.writerow(row)
            written += 1
    return written


def write_demo_reexport(
    out_dir: Path,
    bill_runs: int,
    share: float,
    new_runs: int = 0,
    seed: int = DEMO_SEED,
    header_style: str = "label",
    name: str = "zuora_billing_run_export_reexport.csv",
    months: int = DEMO_MONTHS,
) -> Path:
    """An incremental re-export of a history written by ``write_demo_files`` with the same ``bill_runs`` and
    ``seed``, as an export of Zuora's Updated Date window brings one: the newest ``share`` of its runs one step
    further along (the runs still moving along the state machine are mostly the recent ones: Pending, Processing,
    Completed, in progress), plus ``new_runs`` new runs, created after the history's end at its own pace (at most
    every few hours). The overlap of ``write_demo_files``'s files is the same window."""
    _, users, entities = draw_tenant(seed)
    kw = {"n": bill_runs, "entities": entities, "users": users, "seed": seed, "months": months}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fh, w = _writer(path, headers(BILLING_RUN_EXPORT_FIELDS, header_style))
    with fh:
        w.writerows(bill_run_rows(**kw, indexes=range(bill_runs - round(bill_runs * share), bill_runs), advanced=True))
        w.writerows(bill_run_rows(**kw, indexes=range(bill_runs, bill_runs + new_runs)))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m zuora_wh.generate",
        description=__doc__.split("\n\n")[0],
        epilog="Examples: --out-dir /tmp/exports writes a first export; run again with --reexport 0.1 --new-runs 20 "
        "(and the same --bill-runs, --seed and --months) for a later re-export into the same folder, then build "
        "the folder twice to see an incremental build. The demo seeds are written by 'make demo-data'.",
    )
    p.add_argument("--out-dir", type=Path, required=True, help="folder to write the exports to (created if missing)")
    p.add_argument("--bill-runs", type=int, default=DEMO_BILL_RUNS, help="number of bill runs (default 720)")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed; the same seed writes the same files")
    p.add_argument(
        "--header-style",
        choices=("label", "api"),
        default="label",
        help="label headers (Billing Run: Status) or API names (BillingRun.Status)",
    )
    p.add_argument("--months", type=int, default=DEMO_MONTHS, help="months of history (default 24)")
    p.add_argument("--files", type=int, default=1, help="split the bill runs over this many exports (default 1)")
    p.add_argument(
        "--overlap",
        type=float,
        default=0.05,
        help="with --files: share of the previous file's runs each file exports again, updated (default 0.05)",
    )
    p.add_argument(
        "--combined", action="store_true", help="write the UI's one combined file (Billing Run + Entity columns)"
    )
    p.add_argument("--jobs", type=int, default=1, help="with --files: write this many files at once (processes)")
    p.add_argument("--progress", action="store_true", help="show a progress bar on standard error")
    p.add_argument(
        "--reexport",
        type=float,
        metavar="SHARE",
        help="write only a re-export of the history the same options write: the newest runs, this share "
        "of them, one step further along the status state machine with a later Updated Date",
    )
    p.add_argument("--new-runs", type=int, default=0, help="with --reexport: this many new runs too (default 0)")
    args = p.parse_args(argv)
    if args.bill_runs < 0:
        p.error("--bill-runs must be 0 or more")
    if args.files < 1 or not 0 <= args.overlap <= 1:
        p.error("--files must be 1 or more and --overlap between 0 and 1")
    if args.reexport is not None:
        if not 0 < args.reexport <= 1 or args.new_runs < 0:
            p.error("--reexport must be above 0 and at most 1, and --new-runs 0 or more")
        path = write_demo_reexport(
            args.out_dir, args.bill_runs, args.reexport, args.new_runs, args.seed, args.header_style, months=args.months
        )
        print(f"wrote a re-export of {args.reexport:.0%} of {args.bill_runs} bill runs and {args.new_runs} new: {path}")
        return 0
    paths = write_demo_files(
        args.out_dir,
        args.bill_runs,
        args.seed,
        args.header_style,
        months=args.months,
        progress=args.progress,
        files=args.files,
        overlap=args.overlap if args.files > 1 else 0.0,
        combined=args.combined,
        workers=args.jobs,
    )
    print(f"wrote {args.bill_runs} bill runs: " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
