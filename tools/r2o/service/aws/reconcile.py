"""The reconciler: Batch's view of every unfinished run, applied as its events would be.

EventBridge delivers state-change events at least once but may be late, and a deployment loses them
while its rule or function is broken; Batch itself forgets finished jobs after about a week. So a
scheduled pass (:func:`run_once`) makes the store agree with Batch:

- queued runs are submitted (``BatchExecutor.wake``), including runs whose submitting Lambda died:
  their lease expired, some or none of their jobs recorded (jobs are found by name, never doubled);
- for every run not in a terminal state (the store's listing by state), its jobs are described and
  each job is applied exactly as its event would be (:func:`r2o.service.aws.events.apply_job`): a
  run whose events were lost reaches its true terminal state;
- a task whose job Batch no longer knows (DescribeJobs returns nothing for it) is failed with a reason
  saying so, and its run ends: never left RUNNING;
- a run being canceled has its jobs terminated again (TerminateJob is idempotent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from r2o.service import states
from r2o.service.aws.events import ENDED, apply_job, settle_run

if TYPE_CHECKING:
    from r2o.service.aws.batch import BatchExecutor

log = logging.getLogger("r2o.service.aws")

DESCRIBE_MAX = 100
VANISHED = (
    "AWS Batch no longer knows job {job} (it forgets finished jobs after about a week, or the job "
    "was deleted) and no state-change event recorded how it ended"
)


@dataclass
class Report:
    runs: int = 0  # unfinished runs looked at
    jobs: int = 0  # jobs described
    vanished: list[str] = field(default_factory=list)  # task job ids Batch did not know
    ended: list[str] = field(default_factory=list)  # runs that reached a terminal state in this pass

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "jobs": self.jobs, "vanished": self.vanished, "ended": self.ended}


def run_once(executor: BatchExecutor | None = None) -> dict[str, Any]:
    """One pass over every unfinished run (the scheduled Lambda's work)."""
    if executor is None:
        executor = executor_from_env()
    executor.wake()
    report = Report()
    for run in list(executor.active_runs()):
        report.runs += 1
        try:
            reconcile_run(executor, run.id, report)
        except Exception:  # one run's trouble must not stop the others
            log.exception("reconciling run %s failed", run.id)
    return report.as_dict()


def reconcile_run(executor: BatchExecutor, run_id: str, report: Report) -> None:
    store = executor.store
    run = store.run(run_id)
    if run is None or run.terminal:
        return
    if run.state == states.CANCELING:
        executor.cancel(run_id)
    tasks = store.tasks(run_id)
    open_ids = [t.job_id for t in tasks if t.job_id and t.state not in ENDED]
    if not open_ids:
        if tasks and all(t.job_id for t in tasks):
            settle_run(store, run_id)  # every task ended but the run did not (a settle that failed)
        _note_end(store, run_id, report)
        return
    # the array parents too: their summaries, and (moto) their own state follows only when described
    parents = sorted({i.split(":", 1)[0] for i in open_ids if ":" in i})
    found: dict[str, Mapping[str, Any]] = {}
    for chunk in _chunks([*open_ids, *parents], DESCRIBE_MAX):
        for job in executor.describe(list(chunk)):
            found[str(job["jobId"])] = job
    report.jobs += len(found)
    now = time.time()
    for job_id in open_ids:
        if job_id in found:
            apply_job(store, found[job_id], now)
            continue
        task = store.task_by_job(job_id)
        if task is None or task.state in ENDED:
            continue
        report.vanished.append(job_id)
        store.update_task(
            run_id, task.task_id, state=states.SYSTEM_ERROR, reason=VANISHED.format(job=job_id), finished=now
        )
        settle_run(store, run_id)
    _note_end(store, run_id, report)


def _note_end(store: Any, run_id: str, report: Report) -> None:
    run = store.run(run_id)
    if run is not None and run.terminal:
        report.ended.append(run_id)


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def executor_from_env() -> BatchExecutor:
    """The executor the Lambda functions share, from their environment (``AwsServiceConfig``)."""
    from r2o.service.aws.handler import executor

    return executor()
