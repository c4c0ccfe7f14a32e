"""The service's executor: what runs the runs the store holds. Two homes, one interface.

- :class:`r2o.service.worker.Workers` (``r2o serve``): a pool of threads in the server's process that
  claim runs from the store and run them with the local pipeline executor; logs are files in the
  run folder.
- :class:`r2o.service.aws.batch.BatchExecutor` (AWS): claims queued runs and submits them as AWS Batch
  jobs; their states come back through Batch's state-change events and the reconciler; logs are in
  CloudWatch Logs.

The API, WES and TES facades reach the executor only through this protocol (and the run's files only
through :mod:`r2o.service.blobs`), so the same app serves both homes. The store stays the single
source of truth: an executor writes states there, it never answers the API from its memory.
"""

from __future__ import annotations

from typing import Protocol

from r2o.service.files import LogPage
from r2o.service.store import RunRecord, TaskRecord


class Executor(Protocol):
    def start(self) -> None:
        """Begin taking the store's queued runs (a long-lived server); a Lambda starts nothing."""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking runs; a run still executing is left to its lease (or to Batch)."""

    def wake(self) -> None:
        """A run was just committed QUEUED: start it now if there is room (not at the next poll)."""

    def cancel(self, run_id: str) -> bool:
        """Stop run ``run_id``'s tasks (after ``store.request_cancel``); False when this executor
        has nothing of it to stop."""

    @property
    def busy(self) -> int:
        """How many runs this executor is executing now (``/healthz``)."""

    def read_log(
        self, run: RunRecord, task: TaskRecord, offset: int, limit: int, *, finished: bool
    ) -> LogPage:
        """A page of task ``task``'s log (its container's output), from byte ``offset``."""
