"""What every API (r2o's own, WES, TES) does, once: submit with quotas, see, list, cancel, relaunch.

The HTTP layers translate requests and answers; the rules live here. A user sees only their own
runs (another user's run does not exist for them: NotFound, never Forbidden); admins see all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from r2o.repo import Repository
from r2o.service import launch, states
from r2o.service.auth import Identity
from r2o.service.blobs import Blobs, LocalBlobs
from r2o.service.catalog import COMPONENT, Catalog
from r2o.service.config import ServiceConfig
from r2o.service.executor import Executor
from r2o.service.store import Page, RunFilter, RunRecord, Store, TaskRecord, now
from r2o.service.worker import Workers


class ServiceError(Exception):
    """An answer other than success; ``status`` is the HTTP status the APIs map it to."""

    status = 400

    def __init__(self, message: str, fields: list[launch.FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []


class NotFound(ServiceError):
    status = 404


class Invalid(ServiceError):
    status = 422


class QuotaExceeded(ServiceError):
    status = 429


class MonthlyQuotaExceeded(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


@dataclass(frozen=True)
class Quota:
    concurrent_limit: int
    concurrent_used: int
    vcpu_hours_limit: float
    vcpu_hours_used: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrent_runs": {
                "limit": self.concurrent_limit,
                "used": self.concurrent_used,
                "left": max(0, self.concurrent_limit - self.concurrent_used),
            },
            "vcpu_hours_this_month": {
                "limit": self.vcpu_hours_limit,
                "used": round(self.vcpu_hours_used, 4),
                "left": round(max(0.0, self.vcpu_hours_limit - self.vcpu_hours_used), 4),
            },
        }


def month_start(t: float) -> float:
    d = dt.datetime.fromtimestamp(t, dt.UTC)
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp()


class Service:
    def __init__(
        self,
        repo: Repository,
        store: Store,
        config: ServiceConfig,
        *,
        executor: Executor | None = None,
        blobs: Blobs | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        """``executor`` defaults to the local workers, ``blobs`` to the local folders, ``catalog`` to
        the repository's products (an executor that needs the catalog is given the one passed here)."""
        self.repo = repo
        self.store = store
        self.config = config
        self.catalog = catalog or Catalog(repo, max_days=config.max_days)
        self.executor: Executor = executor or Workers(repo, store, self.catalog, config)
        self.blobs: Blobs = blobs or LocalBlobs(config)

    @property
    def workers(self) -> Executor:
        """The executor (its name from when it was always the local workers)."""
        return self.executor

    # --- quotas ----------------------------------------------------------------------------------

    def quota(self, who: Identity) -> Quota:
        q = self.config.quotas
        return Quota(
            q.concurrent_runs,
            self.store.active_runs(who.user),
            q.vcpu_hours_per_month,
            self.store.vcpu_hours_since(who.user, month_start(now())),
        )

    # --- submitting ------------------------------------------------------------------------------

    def check(self, body: Mapping[str, Any], who: Identity) -> launch.Launch:
        found, errors = launch.check(self.catalog, self.store, self.config, body, user=who.user)
        if found is None:
            raise Invalid(
                "the launch request has errors: " + "; ".join(f"{e.field}: {e.message}" for e in errors),
                errors,
            )
        return found

    def validate_only(self, body: Mapping[str, Any], who: Identity) -> dict[str, Any]:
        found, errors = launch.check(self.catalog, self.store, self.config, body, user=who.user)
        quota = self.quota(who)
        return {
            "valid": found is not None,
            "plan": found.plan_dict() if found is not None else None,
            "errors": [e.as_dict() for e in errors],
            "quota": quota.as_dict(),
        }

    def submit(
        self,
        body: Mapping[str, Any],
        who: Identity,
        *,
        kind: str | None = None,
        relaunch_of: str | None = None,
        checked: launch.Launch | None = None,  # a launch its API checked itself (TES tasks)
    ) -> RunRecord:
        found = checked if checked is not None else self.check(body, who)
        quota = self.quota(who)
        if quota.concurrent_used >= quota.concurrent_limit:
            raise QuotaExceeded(
                f"you already have {quota.concurrent_used} runs queued or running (your limit is "
                f"{quota.concurrent_limit}); wait for one to finish, or cancel one"
            )
        if quota.vcpu_hours_used + found.vcpu_hours > quota.vcpu_hours_limit:
            raise MonthlyQuotaExceeded(
                f"this run needs about {found.vcpu_hours:.2f} vCPU-hours and you have "
                f"{max(0.0, quota.vcpu_hours_limit - quota.vcpu_hours_used):.2f} of your "
                f"{quota.vcpu_hours_limit:g} left this month; ask an administrator for more"
            )
        run_id = uuid.uuid4().hex
        record = RunRecord(
            id=run_id,
            user=who.user,
            product=found.product.name,
            kind=kind or found.product.kind,
            name=found.name,
            created=now(),
            parameters=found.parameters,
            inputs=found.inputs,
            tags=found.tags,
            start=found.start,
            days=found.days,
            tasks_total=found.tasks,
            vcpu_hours=found.vcpu_hours,
            cost=found.cost,
            relaunch_of=relaunch_of,
            request=dict(body),
        )
        tasks = [
            TaskRecord(run_id, t.id, t.step, t.component, t.day, t.vcpus, reason="waiting")
            for t in found.graph.tasks
        ]
        self.store.create_run(record, tasks)  # committed before anyone is told the run exists
        self.executor.wake()
        return record

    def relaunch(self, run_id: str, edits: Mapping[str, Any], who: Identity) -> RunRecord:
        old = self.visible(run_id, who)
        if old.kind == "tes":
            raise ServiceError(
                f"run {run_id} is a TES task: submit it again to /ga4gh/tes/v1/tasks to run it again"
            )
        body = dict(old.request)
        body.pop("validate_only", None)
        body["product"] = old.product
        for key in ("name", "tags", "inputs"):
            if key in edits:
                body[key] = edits[key]
        if "parameters" in edits:
            body["parameters"] = {**(old.request.get("parameters") or {}), **edits["parameters"]}
        if "name" not in edits and old.name:
            body["name"] = f"{old.name} (relaunch)"[: launch.NAME_MAX]
        return self.submit(body, who, kind=old.kind, relaunch_of=old.id)

    # --- reading ---------------------------------------------------------------------------------

    def visible(self, run_id: str, who: Identity) -> RunRecord:
        run = self.store.run(run_id)
        if run is None or (run.user != who.user and not who.admin):
            raise NotFound(f"no run {run_id}")
        return run

    def runs(self, who: Identity, where: RunFilter, *, cursor: str | None, limit: int) -> Page:
        if not who.admin:
            where = replace(where, user=who.user)
        try:
            return self.store.runs(where, cursor=cursor, limit=limit)
        except ValueError as exc:
            raise ServiceError(f"bad cursor: {exc}") from None

    def tasks(self, run: RunRecord) -> list[TaskRecord]:
        return self.store.tasks(run.id)

    # --- canceling -------------------------------------------------------------------------------

    def cancel(self, run_id: str, who: Identity) -> RunRecord:
        run = self.visible(run_id, who)
        if run.terminal:
            raise Conflict(f"run {run_id} has already ended ({run.state})")
        updated = self.store.request_cancel(run_id)
        self.executor.cancel(run_id)
        assert updated is not None
        return updated


def product_kind_is_component(kind: str) -> bool:
    return kind == COMPONENT


__all__ = ["Conflict", "Invalid", "NotFound", "QuotaExceeded", "Service", "ServiceError", "states"]
