"""The service's executor: a pool of workers that take runs from the store and run them locally.

A worker claims a run (a lease in the store), turns its stored request back into a task graph
(:mod:`r2o.service.launch`), fills the run's inputs, and runs it through the pipeline executor
(:class:`r2o.pipeline.local.LocalRun`: the one runner, the task cache, provenance, capped logs).
Task states go to the store as they change, so the API answers from the store alone.

The API thread never waits for a run: it commits the run and wakes the dispatcher. The dispatcher
starts a run when a worker slot is free; at most ``workers`` runs execute at once, and each run's
tasks share that run's vCPU budget (the machine's cores divided among the slots).

Crashes: a lease is renewed every third of its length while the run executes. A server that dies
stops renewing; when the lease expires, any server (the same one restarted) claims the run again and
runs it from where it stood: finished tasks are found in the cache (never run twice), containers of
the dead server are removed by the session sweep, states only move forward.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from r2o.errors import R2OError
from r2o.pipeline import inputs as pipeline_inputs
from r2o.pipeline import local
from r2o.pipeline.plan import TaskGraph
from r2o.repo import Repository
from r2o.run.backend import Backend
from r2o.service import files, launch, states
from r2o.service.catalog import COMPONENT, Catalog
from r2o.service.config import ServiceConfig
from r2o.service.store import RunRecord, Store, TaskRecord

log = logging.getLogger("r2o.service")

_TASK_STATE = {
    local.RAN: states.COMPLETE,
    local.CACHED: states.COMPLETE,
    local.FAILED: states.EXECUTOR_ERROR,
    local.BLOCKED: states.SKIPPED,
    local.INTERRUPTED: states.CANCELED,
    local.RUNNING: states.RUNNING,
}


@dataclass
class _Active:
    run: RunRecord
    executor: local.LocalRun | None = None
    canceled: bool = False


class Workers:
    """Runs the store's queued runs, at most ``config.workers`` at a time, in this process (the local
    :class:`r2o.service.executor.Executor`)."""

    def __init__(
        self,
        repo: Repository,
        store: Store,
        catalog: Catalog,
        config: ServiceConfig,
        *,
        backend_for: Callable[[Repository, TaskGraph, bool], Backend] | None = None,
    ) -> None:
        self.repo = repo
        self.store = store
        self.catalog = catalog
        self.config = config
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.backend_for = backend_for or (lambda r, g, native: local.make_backend(r, g, native=native))
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._dispatch, "r2o-dispatch"), (self._heartbeat, "r2o-heartbeat")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking runs; cancel nothing: a run still executing is left to its lease (a restarted
        server resumes it)."""
        self._closing.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def wake(self) -> None:
        """A run was queued: look for it now (not at the next poll)."""
        self._wake.set()

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._active)

    # --- dispatching -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._closing.is_set():
            self._wake.clear()
            started = False
            if self.busy < self.config.workers:
                try:
                    run = self.store.claim(self.owner, self.config.lease_s)
                except Exception:  # a store hiccup must not kill the dispatcher
                    log.exception("claiming a run failed")
                    run = None
                if run is not None:
                    with self._lock:
                        self._active[run.id] = _Active(run)
                    t = threading.Thread(
                        target=self._execute, args=(run,), name=f"r2o-run-{run.id[:8]}", daemon=True
                    )
                    t.start()
                    started = True
            if not started:
                self._wake.wait(1.0)

    def _heartbeat(self) -> None:
        """Renew our leases; obey cancel requests another server (or process) wrote to the store."""
        while not self._closing.wait(self.config.lease_s / 3):
            with self._lock:
                active = list(self._active.values())
            for item in active:
                try:
                    self.store.renew(item.run.id, self.owner, self.config.lease_s)
                    current = self.store.run(item.run.id)
                except Exception:
                    log.exception("renewing the lease of %s failed", item.run.id)
                    continue
                if current is not None and current.cancel_requested and not item.canceled:
                    self.cancel(item.run.id)

    def cancel(self, run_id: str) -> bool:
        """Stop a run this process executes; False when it is not ours."""
        with self._lock:
            item = self._active.get(run_id)
            if item is None:
                return False
            item.canceled = True
            executor = item.executor
        if executor is not None:
            executor.cancel()
        return True

    # --- one run ---------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.config.runs_dir / run_id

    def read_log(
        self, run: RunRecord, task: TaskRecord, offset: int, limit: int, *, finished: bool
    ) -> files.LogPage:
        return files.read_log(
            files.log_path(self.run_dir(run.id), task.task_id), offset, limit, finished=finished
        )

    def _execute(self, run: RunRecord) -> None:
        try:
            self._run(run)
        except Exception as exc:  # a bug: say so on the run, never leave it RUNNING
            log.exception("run %s failed inside r2o", run.id)
            self.store.move(
                run.id,
                states.SYSTEM_ERROR,
                f"internal error in r2o: {type(exc).__name__}: {exc}",
                finished=time.time(),
            )
        finally:
            with self._lock:
                self._active.pop(run.id, None)
            self._wake.set()

    def _run(self, run: RunRecord) -> None:
        if run.cancel_requested:
            self.store.move(run.id, states.CANCELED, "canceled before it started", finished=time.time())
            return
        if run.state == states.QUEUED:
            self.store.move(
                run.id, states.INITIALIZING, "preparing its inputs and images", started=time.time()
            )
        run_dir = self.run_dir(run.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            graph = self.graph_for(run, run_dir)
            self._fill_inputs(run, graph, run_dir)
            backend = self.backend_for(self.repo, graph, self.config.native)
        except R2OError as exc:
            self.store.move(
                run.id, states.SYSTEM_ERROR, f"could not start: {exc.message}", finished=time.time()
            )
            return
        jobs = max(1, (os.cpu_count() or 1) // max(1, self.config.workers))
        executor = local.LocalRun(
            self.repo,
            graph,
            backend,
            jobs=max(jobs, int(max(t.vcpus for t in graph.tasks))),
            on_event=lambda event: self._on_event(run.id, event),
            git_commit=_git_commit(self.repo),
            run_dir=run_dir,
        )
        with self._lock:
            item = self._active.get(run.id)
            if item is not None:
                item.executor = executor
                if item.canceled:
                    executor.cancel()
        self.store.move(run.id, states.RUNNING, f"running {len(graph.tasks)} task(s)")
        try:
            report = executor.execute()
        except KeyboardInterrupt:
            self._finish(run.id, states.CANCELED, "canceled: every task was stopped", run_dir)
            return
        except R2OError as exc:
            self._finish(run.id, states.SYSTEM_ERROR, exc.message, run_dir)
            return
        finally:
            backend.close()
        if report.ok:
            self._finish(run.id, states.COMPLETE, f"{len(report.tasks)} task(s) done", run_dir, report)
        else:
            first = report.failed[0] if report.failed else None
            reason = f"task {first.id} failed: {first.error}" if first else "a task failed"
            self._finish(run.id, states.EXECUTOR_ERROR, reason, run_dir, report)

    def _finish(
        self, run_id: str, state: str, reason: str, run_dir: Path, report: local.RunReport | None = None
    ) -> None:
        used = 0.0
        if report is not None:
            vcpus = {t.task_id: t.vcpus for t in self.store.tasks(run_id)}
            used = sum((r.seconds or 0.0) * vcpus.get(r.id, 1.0) for r in report.tasks) / 3600.0
        self.store.move(run_id, state, reason, finished=time.time(), used_vcpu_hours=used)

    def _on_event(self, run_id: str, event: local.Event) -> None:
        rec = event.record
        if rec is None:
            return
        state = _TASK_STATE.get(rec.status)
        if state is None:
            return
        changes: dict[str, object] = {"state": state}
        if rec.status == local.RUNNING:
            changes["started"] = time.time()
            changes["reason"] = "running"
        else:
            changes["finished"] = time.time()
            changes["seconds"] = rec.seconds
            changes["exit_code"] = rec.exit_code
            changes["cache_hit"] = rec.cache_hit
            changes["reason"] = (
                (rec.error or "")[:2000]
                if state != states.COMPLETE
                else (f"found in the cache ({rec.cache_hit})" if rec.cache_hit else "ran")
            )
        try:
            self.store.update_task(run_id, rec.id, **changes)
        except Exception:
            log.exception("recording task %s of %s failed", rec.id, run_id)

    # --- graphs and inputs -----------------------------------------------------------------------

    def graph_for(self, run: RunRecord, run_dir: Path) -> TaskGraph:
        if run.kind == "tes":
            from r2o.service import tes  # imported here: tes imports core, which imports this module

            return tes.graph_for_tes(self.repo, self.store, run, run_dir)
        product = self.catalog.product(run.product)
        if product is None:
            raise R2OError(f"product {run.product} no longer exists in this repository")
        if product.kind == COMPONENT:
            component = self.repo.component(run.product)
            paths = {name: self._upload_path(upload_id) for name, upload_id in run.inputs.items()}
            return launch.graph_for_component(component, run.parameters, paths)
        assert run.start is not None and run.days is not None
        return launch.graph_for_pipeline(self.catalog.pipelines[run.product], run_dir, run.start, run.days)

    def _upload_path(self, upload_id: str) -> Path:
        found = self.store.upload(upload_id)
        if found is None:
            raise R2OError(f"upload {upload_id} is gone")
        return Path(found.path)

    def _fill_inputs(self, run: RunRecord, graph: TaskGraph, run_dir: Path) -> None:
        """The run's own copies of its pipeline inputs: the user's upload for the day, else the
        repository's shared file, else made by the input's prepare command."""
        product = self.catalog.product(run.product)
        if product is None or product.kind == COMPONENT:
            return
        pipeline = self.catalog.pipelines[run.product]
        uploads = run.inputs
        for pin in pipeline.inputs.values():
            for day in graph.dates if pin.per_day else [""]:
                target = Path(launch.run_input_path(run_dir, pin).replace("${day}", day))
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                upload_id = (
                    uploads.get(pin.name, {}).get(day) if isinstance(uploads.get(pin.name), dict) else None
                )
                source = (
                    self._upload_path(upload_id)
                    if upload_id
                    else launch.shared_file(self.repo.root, pin, day)
                )
                if source.exists():
                    tmp = target.with_name(f".{target.name}.partial")
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
                    try:
                        os.link(source, tmp)
                    except OSError:
                        shutil.copyfile(source, tmp)
                    os.replace(tmp, target)
        pipeline_inputs.prepare_missing(self.repo, graph)


def _git_commit(repo: Repository) -> str:
    from r2o import git

    return git.head_commit(repo.root)
