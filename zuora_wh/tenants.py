"""Zuora tenants: how the extractor is configured for one or several, and how a folder of exports says whose it is.

One tenant needs no file: the environment names it (``ZUORA_BASE_URL``, ``ZUORA_CLIENT_ID``, ``ZUORA_CLIENT_SECRET``
or ``ZUORA_CLIENT_SECRET_FILE``, optional ``ZUORA_ENTITY_IDS``, ``ZUORA_TENANT``, ``ZUORA_TENANT_TIMEZONE``), and its
files go straight into the export folder. Several tenants are listed in a TOML file (``--tenants FILE``)::

    [[tenant]]
    name = "acme-us"                         # letters, digits, '.', '_' and '-': the name of its sub-folder
    base_url = "https://rest.na.zuora.com"   # the tenant's REST endpoint (each data center has its own)
    time_zone = "America/Los_Angeles"        # the tenant's zone (Settings > Billing > time zone)
    client_id_env = "ACME_US_ZUORA_CLIENT_ID"          # the OAuth client, from the environment...
    client_secret_env = "ACME_US_ZUORA_CLIENT_SECRET"
    # client_secret_file = "/run/secrets/acme-us"      # ...or from a file only its owner may read
    # entity_ids = "8ad0..."                           # Multi-entity: the Zuora-Entity-Ids header
    [tenant.alerts]                          # optional: this tenant's thresholds (README: Alerts)
    stuck_after_hours = 12

    [alerts]                                 # optional: the thresholds of every tenant (zuora_wh.alerts.Thresholds)
    failure_rate_limit = 0.1

Each tenant's files go into its own sub-folder, ``<export folder>/<name>/``. The secrets themselves are never in the
TOML file, never printed and never written: a ``Tenant`` holds them out of its ``repr``.

The extractor keeps its state in ``STATE_FILE`` in the tenant's folder; the build reads the tenant's name and time
zone from it (``folder_tenant``), so a folder of extracts needs no other configuration.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zuora_wh.errors import UsageError, WarehouseError

STATE_FILE = ".zuora-extract.json"  # hidden: the build never takes it for an export
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class FolderTenant:
    """What the build knows of the tenant of a folder of exports, from the extractor's state file there (None: not
    named; dbt uses its defaults)."""

    name: str | None
    time_zone: str | None
    folder: Path | None = None  # the folder of the state file
    # the extract files of that folder, by what each holds: runs, entities or id_sweep (zuora_wh.extract)
    files: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # the data source's fields the tenant does not have (by label), and why: their columns stay empty
    unavailable: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def extract_kind(self, path: Path) -> str | None:
        """What the extractor wrote ``path`` for, or None for a file it did not write."""
        return self.files.get(path.name) if path.parent == self.folder else None


@dataclass
class Tenant:
    """One Zuora tenant the extractor pulls from."""

    name: str | None  # None: the one tenant of the environment, whose files go straight into the export folder
    base_url: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    time_zone: str | None = None
    entity_ids: str | None = None

    @property
    def label(self) -> str:
        return self.name or "the tenant"

    def folder(self, export_dir: Path) -> Path:
        return export_dir if self.name is None else export_dir / self.name

    def secrets(self) -> tuple[str, ...]:
        return (self.client_id, self.client_secret)


def _secret_from_file(path_text: str, where: str) -> str:
    path = Path(path_text).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError:
        raise UsageError(f"{path} (given by {where}): no such file; it must hold the OAuth client secret") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"{path} (given by {where}): others may read this file (mode {stat.S_IMODE(mode):o}); a secret file must "
            f"be readable by its owner only: chmod 600 {path}"
        )
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise UsageError(f"{path} (given by {where}): the file is empty; it must hold the OAuth client secret")
    return value


def _required_env(name: str, why: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise UsageError(f"{name} is not set: {why}")
    return value


def _time_zone(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"{where}: {value!r} is no time zone (an IANA name, such as America/Los_Angeles)") from None
    return value


def _base_url(value: str, where: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise UsageError(f"{where}: {value!r} is no URL (the tenant's REST endpoint, such as https://rest.zuora.com)")
    return value.rstrip("/")


def from_environment() -> Tenant:
    """The one tenant the environment names (its rows get the default tenant, var zuora_default_tenant)."""
    secret_file = os.environ.get("ZUORA_CLIENT_SECRET_FILE")
    secret = (
        _secret_from_file(secret_file, "ZUORA_CLIENT_SECRET_FILE")
        if secret_file
        else _required_env("ZUORA_CLIENT_SECRET", "the OAuth client's secret (or ZUORA_CLIENT_SECRET_FILE, a file)")
    )
    base_url = _required_env("ZUORA_BASE_URL", "the tenant's REST endpoint, such as https://rest.zuora.com")
    return Tenant(
        name=None,
        base_url=_base_url(base_url, "ZUORA_BASE_URL"),
        client_id=_required_env("ZUORA_CLIENT_ID", "the OAuth client's ID (Settings > Administration > OAuth Clients)"),
        client_secret=secret,
        time_zone=_time_zone(os.environ.get("ZUORA_TENANT_TIMEZONE") or None, "ZUORA_TENANT_TIMEZONE"),
        entity_ids=os.environ.get("ZUORA_ENTITY_IDS") or None,
    )


def tenants_file(given: str | None = None) -> Path | None:
    """The tenants file: the one given (``--tenants``), else ``ZUORA_TENANTS_FILE``; None for one tenant."""
    path = given or os.environ.get("ZUORA_TENANTS_FILE")
    return Path(path).expanduser() if path else None


def read_toml(path: Path) -> dict:
    """The tenants file's tables (its tenants, and the alerts' thresholds), or one line saying why not."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{path}: cannot read the tenants file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not a valid TOML file ({e})") from None


def from_toml(path: Path) -> list[Tenant]:
    """The tenants a TOML file lists (see the module's docstring); each secret comes from the environment or a file."""
    data = read_toml(path)
    entries = data.get("tenant")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: no [[tenant]] table; list each tenant as a [[tenant]] with name, base_url, ...")
    tenants, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        where = f"{path}, tenant {i}"
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise UsageError(f"{where}: name {name!r} is no tenant name (letters, digits, '.', '_' and '-')")
        where = f"{path}, tenant {name}"
        if name in seen:
            raise UsageError(f"{where}: the name is used twice")
        seen.add(name)
        unknown = sorted(
            set(entry)
            - {
                "name",
                "base_url",
                "time_zone",
                "client_id_env",
                "client_secret_env",
                "client_secret_file",
                "entity_ids",
                "alerts",  # the tenant's alert thresholds (zuora_wh.alerts)
            }
        )
        if unknown:
            raise UsageError(
                f"{where}: unknown keys {', '.join(unknown)} (secrets never go in this file: name the "
                "environment variables that hold them, client_id_env and client_secret_env)"
            )
        for key in ("base_url", "client_id_env"):
            if not isinstance(entry.get(key), str):
                raise UsageError(f"{where}: {key} is missing")
        if "client_secret_file" in entry:
            secret = _secret_from_file(entry["client_secret_file"], f"{where}, client_secret_file")
        elif isinstance(entry.get("client_secret_env"), str):
            secret = _required_env(entry["client_secret_env"], f"{where} names it as its client_secret_env")
        else:
            raise UsageError(f"{where}: client_secret_env (or client_secret_file) is missing")
        tenants.append(
            Tenant(
                name=name,
                base_url=_base_url(entry["base_url"], f"{where}, base_url"),
                client_id=_required_env(entry["client_id_env"], f"{where} names it as its client_id_env"),
                client_secret=secret,
                time_zone=_time_zone(entry.get("time_zone"), f"{where}, time_zone"),
                entity_ids=entry.get("entity_ids"),
            )
        )
    return tenants


def read_state(folder: Path) -> dict:
    """The extractor's state of a tenant's folder ({} when there is none)."""
    path = folder / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise WarehouseError(f"{path}: cannot read the extractor's state ({e.strerror})") from None
    try:
        state = json.loads(text)
        if not isinstance(state, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise WarehouseError(
            f"{path}: the extractor's state is damaged ({e}); delete it, and the next extract starts over from "
            "the files in the folder"
        ) from None
    return state


def folder_tenant(folder: Path, export_dir: Path) -> FolderTenant | None:
    """The tenant of a folder of exports: the one named by the nearest state file at or above ``folder``, up to
    ``export_dir``; None when there is no state file (the default tenant)."""
    for candidate in (folder, *folder.parents):
        state = read_state(candidate)
        if state:
            files = state.get("files") or {}
            return FolderTenant(
                state.get("tenant"),
                state.get("time_zone"),
                candidate,
                dict(files) if isinstance(files, dict) else {},
                dict(state.get("unavailable_fields") or {}),
            )
        if candidate == export_dir or export_dir not in candidate.parents:
            return None
    return None
