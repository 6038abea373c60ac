"""The errors the tooling raises. Library code raises them; only the command line turns them into a one-line
message and an exit code (``zuora_wh.cli.main``)."""

from __future__ import annotations


class WarehouseError(Exception):
    """A problem the user can act on; its message names the file, folder or option and says what to do."""

    exit_code = 2


class ExportError(WarehouseError):
    """A file-level problem with an export file: the message names the file and what is wrong with it."""


class UsageError(WarehouseError):
    """A command asked for something it cannot do (a missing folder, a filter that matches nothing, ...)."""


class BuildBusy(WarehouseError):
    """Another build holds the warehouse folder, and the caller asked not to wait."""

    exit_code = 75  # sysexits' EX_TEMPFAIL: try again later


class BuildFailed(WarehouseError):
    """dbt's build failed (a model or an error-severity test): nothing was published. The exit code is dbt's."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
