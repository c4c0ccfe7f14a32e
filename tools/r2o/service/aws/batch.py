"""The service's executor on AWS: runs submitted as AWS Batch array jobs, in S3 data mode.

``wake()`` claims the store's queued runs (the store's lease: two Lambdas never submit one run at
once), copies each run's inputs to ``runs/<run id>/inputs/`` in the results bucket, and submits the
array jobs ``r2o pipeline submit`` plans (:func:`r2o.pipeline.batch.make_plan`, S3 data mode, the
run's prefix ``runs/<run id>``), recording every task's Batch job id (an array child's is
``<parent id>:<index>``); the run then moves to RUNNING. Job names are deterministic
(``r2o-<run id>-<job>``) and a job is looked up by name before it is submitted, so a Lambda that died
between SubmitJob and the store write never makes a second copy: the run is claimed again when its
lease expires and the jobs found are reused.

Task and run states then come from Batch's state-change events (:mod:`r2o.service.aws.events`) and
the reconciler (:mod:`r2o.service.aws.reconcile`); ``cancel`` terminates every job of the run;
``read_log`` pages the job's CloudWatch Logs stream.

The job definitions are the ones ``r2o deploy`` registers in S3 data mode, named
``<R2O_DEFINITION_PREFIX><pipeline>-<component>`` (a component run is a one-step pipeline named after
its component: ``<prefix><component>-<component>``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from r2o.errors import R2OError
from r2o.pipeline import batch as pipeline_batch
from r2o.pipeline import inputs as pipeline_inputs
from r2o.pipeline import launcher
from r2o.pipeline.plan import TaskGraph, make_graph
from r2o.render.batch import BatchOptions, DataVolume
from r2o.repo import Repository
from r2o.service import files, launch, states
from r2o.service.aws.events import CANCEL_REASON
from r2o.service.catalog import COMPONENT, Catalog
from r2o.service.store import RunFilter, RunRecord, Store, TaskRecord

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("r2o.service.aws")

TAG_RUN = "r2o:run"
JOB_NAME_MAX = 128
# claimed runs are ours for this long; once their jobs are submitted Batch has them (events, reconciler)
LEASE_S = 300.0
SUBMITTED_LEASE_S = 10 * 365 * 86400.0
DESCRIBE_MAX = 100  # DescribeJobs takes at most 100 ids
LOG_EVENTS_MAX = 10_000


@dataclass(frozen=True)
class BatchSettings:
    queue: str
    bucket: str
    definition_prefix: str
    log_group: str = "/aws/batch/job"
    lease_s: float = LEASE_S


def job_name(run_id: str, job: str) -> str:
    """The Batch job name of plan job ``job`` of run ``run_id`` (deterministic: the duplicate check)."""
    return f"r2o-{run_id}-{job}"[:JOB_NAME_MAX]


def parent_id(job_id: str) -> str:
    return job_id.split(":", 1)[0]


class BatchExecutor:
    """:class:`r2o.service.executor.Executor` on AWS Batch (nothing runs in this process)."""

    def __init__(
        self,
        repo: Repository,
        store: Store,
        catalog: Catalog,
        settings: BatchSettings,
        *,
        batch: BatchClient,
        s3: S3Client,
        logs: CloudWatchLogsClient,
    ) -> None:
        self.repo = repo
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.batch = batch
        self.s3 = s3
        self.logs = logs
        self.owner = f"lambda:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # --- the Executor protocol --------------------------------------------------------------------

    def start(self) -> None:
        """Nothing to start: every call does its work and returns (a Lambda may freeze between calls)."""

    def stop(self, timeout: float = 30.0) -> None:
        """Nothing to stop."""

    @property
    def busy(self) -> int:
        return 0  # nothing runs here; Batch runs the jobs

    def wake(self) -> None:
        """Submit every run that needs submitting now (queued, or claimed by a submitter that died)."""
        while True:
            try:
                run = self.store.claim(self.owner, self.settings.lease_s)
            except Exception:  # a store hiccup: the reconciler's next pass claims the run
                log.exception("claiming a run failed")
                return
            if run is None:
                return
            self.submit(run)

    def cancel(self, run_id: str) -> bool:
        """Terminate every job of the run (TerminateJob cancels the jobs that have not started)."""
        run = self.store.run(run_id)
        tasks = self.store.tasks(run_id)
        parents = sorted({parent_id(t.job_id) for t in tasks if t.job_id})
        for job_id in parents:
            try:
                self.batch.terminate_job(jobId=job_id, reason=CANCEL_REASON)
            except Exception:
                log.exception("terminating %s of run %s failed", job_id, run_id)
        if run is not None and not parents and not run.terminal:
            # nothing was submitted: the run ends here (its submitter, if any, sees cancel_requested)
            self.store.move(run_id, states.CANCELED, "canceled before it started", finished=time.time())
        return True

    def read_log(
        self, run: RunRecord, task: TaskRecord, offset: int, limit: int, *, finished: bool
    ) -> files.LogPage:
        """Bytes ``offset`` .. ``offset + limit`` of the task's CloudWatch Logs stream (its events,
        one line each, read from the head with ``nextForwardToken``)."""
        limit = max(1, min(limit, files.LOG_PAGE_MAX))
        offset = max(0, offset)
        if not task.job_id:
            return _note(offset, finished, "this task has no Batch job yet (the run is being submitted)")
        stream = self._log_stream(task.job_id)
        if stream is None:
            what = "wrote no log" if finished else "has not started yet: no log stream exists so far"
            return _note(offset, finished, f"job {task.job_id} {what}")
        data = bytearray()
        token: str | None = None
        more = True
        try:
            while len(data) < offset + limit:
                kwargs: dict[str, Any] = {
                    "logGroupName": self.settings.log_group,
                    "logStreamName": stream,
                    "startFromHead": True,
                    "limit": LOG_EVENTS_MAX,
                }
                if token:
                    kwargs["nextToken"] = token
                answer = self.logs.get_log_events(**kwargs)
                for event in answer.get("events", []):
                    data += (event.get("message", "") + "\n").encode()
                following = answer.get("nextForwardToken")
                if not answer.get("events") or following == token:
                    more = False
                    break
                token = following
        except self.logs.exceptions.ResourceNotFoundException:
            what = "wrote no log" if finished else "has not started yet: no log stream exists so far"
            return _note(offset, finished, f"job {task.job_id} {what} ({self.settings.log_group}/{stream})")
        start = min(offset, len(data))
        chunk = bytes(data[start : start + limit])
        end = start + len(chunk)
        return files.LogPage(
            chunk.decode("utf-8", "replace"),
            start,
            end,
            len(data),
            finished and not more and end >= len(data),
        )

    def describe(self, job_ids: list[str]) -> list[Mapping[str, Any]]:
        """DescribeJobs of at most 100 ids (the jobs Batch still knows)."""
        return list(self.batch.describe_jobs(jobs=job_ids).get("jobs", []))

    def _log_stream(self, job_id: str) -> str | None:
        jobs = self.batch.describe_jobs(jobs=[job_id]).get("jobs", [])
        if not jobs:
            return None
        stream = jobs[0].get("container", {}).get("logStreamName")
        return str(stream) if stream else None

    # --- submitting a run -------------------------------------------------------------------------

    def submit(self, run: RunRecord) -> None:
        """Submit ``run`` (claimed by us); a run already submitted only has its lease extended."""
        tasks = self.store.tasks(run.id)
        if run.terminal:
            return
        if tasks and all(t.job_id for t in tasks):  # submitted: Batch owns it now
            self.store.renew(run.id, self.owner, SUBMITTED_LEASE_S)
            return
        if run.cancel_requested:
            self.store.move(run.id, states.CANCELED, "canceled before it started", finished=time.time())
            return
        if run.state == states.QUEUED:
            self.store.move(
                run.id, states.INITIALIZING, "copying its inputs to S3 and submitting its Batch jobs",
                started=time.time(),
            )  # fmt: skip
        try:
            graph = self.graph_for(run)
            self.stage_inputs(run, graph)
            submitted = self.submit_jobs(run, graph)
        except R2OError as exc:
            self.store.move(
                run.id, states.SYSTEM_ERROR, f"could not start: {exc.message}", finished=time.time()
            )
            return
        except Exception as exc:  # AWS refused (a missing job definition, a throttled call): say so
            log.exception("submitting run %s failed", run.id)
            self.store.move(
                run.id,
                states.SYSTEM_ERROR,
                f"could not submit its Batch jobs: {type(exc).__name__}: {exc}",
                finished=time.time(),
            )
            self.cancel(run.id)
            return
        self.store.renew(run.id, self.owner, SUBMITTED_LEASE_S)
        self.store.move(
            run.id,
            states.RUNNING,
            f"submitted {submitted} AWS Batch job(s) for {len(graph.tasks)} task(s) to {self.settings.queue}",
        )

    def options(self) -> BatchOptions:
        # the registry only names images in the definitions r2o deploy registered; submission names them
        return BatchOptions(
            registry="registry.invalid",
            data=DataVolume(s3_bucket=self.settings.bucket),
            name_prefix=self.settings.definition_prefix,
            log_group=self.settings.log_group,
        )

    def graph_for(self, run: RunRecord) -> TaskGraph:
        """The run's task graph with its inputs at ``inputs/<name>/<file>`` under its prefix."""
        if run.kind == "tes":
            raise R2OError("TES tasks run only where r2o serve runs them (the local executor)")
        product = self.catalog.product(run.product)
        if product is None:
            raise R2OError(f"product {run.product} no longer exists in this deployment")
        if product.kind == COMPONENT:
            component = self.repo.component(run.product)
            paths = {}
            for name, upload_id in run.inputs.items():
                upload = self.store.upload(upload_id)
                if upload is None:
                    raise R2OError(f"upload {upload_id} (input {name}) is gone")
                paths[name] = Path(f"inputs/{name}/{upload.filename}")
            return launch.graph_for_component(component, run.parameters, paths)
        assert run.start is not None and run.days is not None
        pipeline = pipeline_batch.s3_inputs(self.catalog.pipelines[run.product])
        return make_graph(pipeline, dt.date.fromisoformat(run.start), run.days)

    def prefix(self, run_id: str) -> str:
        return f"runs/{run_id}"

    def stage_inputs(self, run: RunRecord, graph: TaskGraph) -> None:
        """Each pipeline input file at ``runs/<run>/inputs/<name>/<file>``, with its SHA-256: the user's
        upload for the day, else the repository's shared file, else made by the input's prepare."""
        prefix = self.prefix(run.id)
        product = self.catalog.product(run.product)
        if product is not None and product.kind == COMPONENT:
            for name, upload_id in run.inputs.items():
                upload = self.store.upload(upload_id)
                assert upload is not None  # graph_for checked
                self._copy_upload(upload.id, upload.filename, f"{prefix}/inputs/{name}/{upload.filename}")
            return
        pipeline = self.catalog.pipelines[run.product]
        wanted = []
        for pin in pipeline.inputs.values():
            for day in graph.dates if pin.per_day else [""]:
                name = PurePosixPath(pin.path).name.replace("${day}", day)
                key = f"{prefix}/inputs/{pin.name}/{name}"
                if self._exists(key):
                    continue
                by_day = run.inputs.get(pin.name)
                upload_id = by_day.get(day) if isinstance(by_day, Mapping) else None
                if upload_id:
                    upload = self.store.upload(upload_id)
                    if upload is None:
                        raise R2OError(f"upload {upload_id} (input {pin.name} {day}) is gone")
                    self._copy_upload(upload.id, upload.filename, key)
                    continue
                shared = launch.shared_file(self.repo.root, pin, day)
                if shared.is_file():
                    self._put_file(shared, key)
                    continue
                wanted.append((pin.name, day, key))
        if wanted:
            self._prepare(run, pipeline, wanted)

    def _prepare(self, run: RunRecord, pipeline: Any, wanted: list[tuple[str, str, str]]) -> None:
        """The inputs only a prepare command makes: made here (in a scratch folder), then uploaded."""
        assert run.start is not None and run.days is not None
        with tempfile.TemporaryDirectory(prefix="r2o-inputs-") as tmp:
            local = launch.graph_for_pipeline(pipeline, Path(tmp), run.start, run.days)
            pipeline_inputs.prepare_missing(self.repo, local)
            for name, day, key in wanted:
                path = Path(launch.run_input_path(Path(tmp), pipeline.inputs[name]).replace("${day}", day))
                if not path.is_file():
                    raise R2OError(f"no file for input {name} {day}: upload one")
                self._put_file(path, key)

    def _exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.settings.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _copy_upload(self, upload_id: str, filename: str, key: str) -> None:
        self.s3.copy_object(
            Bucket=self.settings.bucket,
            Key=key,
            CopySource={"Bucket": self.settings.bucket, "Key": f"uploads/{upload_id}/{filename}"},
            ChecksumAlgorithm="SHA256",
        )

    def _put_file(self, path: Path, key: str) -> None:
        data = path.read_bytes()
        self.s3.put_object(
            Bucket=self.settings.bucket,
            Key=key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
        )

    def submit_jobs(self, run: RunRecord, graph: TaskGraph) -> int:
        """Every job of the run's plan, in order; each task's job id recorded. Jobs found by name
        (submitted by a Lambda that died before recording them) are reused, never submitted twice."""
        images = {s.component.name: f"{s.component.name}:unused" for s in graph.pipeline.steps.values()}
        plan = pipeline_batch.make_plan(graph, images, self.options(), run_prefix=self.prefix(run.id))
        recorded = {t.task_id: t.job_id for t in self.store.tasks(run.id)}
        ids: dict[str, str] = {}
        for job in plan.jobs:
            name = job_name(run.id, job.name)
            found = self._find_job(name)
            if found is None:
                request = job.to_api(self.settings.queue, ids)
                request["jobName"] = name
                request["tags"] = {**request["tags"], TAG_RUN: run.id}
                found = self.batch.submit_job(**request)["jobId"]
            ids[job.name] = found
            for index, task_id in enumerate(_task_ids(graph, job)):
                job_id = found if job.size == 1 else f"{found}:{index}"
                if recorded.get(task_id) != job_id:
                    self.store.update_task(run.id, task_id, job_id=job_id, reason="submitted to AWS Batch")
        return len(plan.jobs)

    def _find_job(self, name: str) -> str | None:
        """The id of a job of this name in the queue (any status), or None."""
        answer = self.batch.list_jobs(
            jobQueue=self.settings.queue, filters=[{"name": "JOB_NAME", "values": [name]}]
        )
        for summary in answer.get("jobSummaryList", []):
            if summary.get("jobName") == name:
                return str(summary["jobId"])
        return None

    # --- what the reconciler walks ------------------------------------------------------------------

    def active_runs(self) -> Iterator[RunRecord]:
        """Every run not in a terminal state (every user's), by the store's state listing."""
        for state in sorted(states.ACTIVE):
            cursor: str | None = None
            while True:
                page = self.store.runs(RunFilter(state=state), cursor=cursor, limit=200)
                yield from page.items
                cursor = page.next_cursor
                if cursor is None:
                    break


def _task_ids(graph: TaskGraph, job: pipeline_batch.ArrayJob) -> list[str]:
    """The task of each child of ``job``: its step on the child's day (the launcher's rule), or the step."""
    if not graph.pipeline.steps[job.step].per_day:
        return [job.step]
    return [f"{job.step}/{launcher.day_of(job.first_day, i)}" for i in range(job.size)]


def _note(offset: int, finished: bool, message: str) -> files.LogPage:
    """A page holding only r2o's note (nothing of the log consumed: the next read starts at ``offset``)."""
    return files.LogPage(f"[r2o: {message}]\n", offset, offset, offset, finished)
