"""Jobs after submission: list, describe (status, reason, exit code, attempts), cancel, logs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from r2o.aws.session import aws_errors, error_code
from r2o.aws.states import BEFORE_START, FINISHED, STATUSES
from r2o.errors import AwsError, NotFoundError, UsageError, did_you_mean
from r2o.render.batch import DEFAULT_LOG_GROUP

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient


def _time(ms: Any) -> str | None:
    if not isinstance(ms, int) or ms <= 0:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="seconds")


def _exit_code(container: Any) -> int | None:
    if isinstance(container, dict) and isinstance(container.get("exitCode"), int):
        return int(container["exitCode"])
    return None


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    name: str
    status: str
    reason: str = ""
    exit_code: int | None = None
    created: str | None = None
    started: str | None = None
    stopped: str | None = None
    array_size: int | None = None

    @classmethod
    def from_api(cls, job: Any) -> JobSummary:
        array = job.get("arrayProperties") or {}
        return cls(
            job_id=job["jobId"],
            name=job["jobName"],
            status=job.get("status", ""),
            reason=job.get("statusReason", ""),
            exit_code=_exit_code(job.get("container")),
            created=_time(job.get("createdAt")),
            started=_time(job.get("startedAt")),
            stopped=_time(job.get("stoppedAt")),
            array_size=array.get("size"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "jobName": self.name,
            "status": self.status,
            "statusReason": self.reason,
            "exitCode": self.exit_code,
            "createdAt": self.created,
            "startedAt": self.started,
            "stoppedAt": self.stopped,
            "arraySize": self.array_size,
        }


def require_queue(client: BatchClient, queue: str) -> None:
    with aws_errors(f"looking up job queue {queue}"):
        found = client.describe_job_queues(jobQueues=[queue]).get("jobQueues", [])
    if found:
        return
    with aws_errors("listing job queues"):
        names = [
            q["jobQueueName"]
            for page in client.get_paginator("describe_job_queues").paginate()
            for q in page.get("jobQueues", [])
        ]
    raise AwsError(
        f"no job queue named '{queue}' in this account and region",
        hint=did_you_mean(queue, names)
        or (f"queues: {', '.join(sorted(names))}" if names else "create one (r2o render cloudformation)"),
    )


def list_jobs(client: BatchClient, queue: str, statuses: Sequence[str] = ()) -> list[JobSummary]:
    """Jobs in ``queue`` with any of ``statuses`` (all statuses when empty), oldest first.

    ListJobs without a status returns only RUNNING jobs, so "all" is one listing per status.
    """
    for status in statuses:
        if status not in STATUSES:
            raise UsageError(f"unknown job status '{status}'", hint=f"statuses: {', '.join(STATUSES)}")
    require_queue(client, queue)
    seen: dict[str, JobSummary] = {}
    for status in statuses or STATUSES:
        with aws_errors(f"listing {status} jobs in {queue}"):
            for page in client.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):  # type: ignore[arg-type]
                for job in page.get("jobSummaryList", []):
                    summary = JobSummary.from_api(job)
                    if summary.status == status or not summary.status:
                        seen[summary.job_id] = summary
    return sorted(seen.values(), key=lambda j: (j.created or "", j.job_id))


@dataclass(frozen=True)
class Attempt:
    exit_code: int | None
    reason: str
    started: str | None
    stopped: str | None
    log_stream: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started,
            "stoppedAt": self.stopped,
            "logStreamName": self.log_stream,
        }


@dataclass(frozen=True)
class JobDetail:
    summary: JobSummary
    queue: str
    definition: str
    parameters: dict[str, str]
    depends_on: tuple[str, ...]
    attempts: tuple[Attempt, ...]
    log_stream: str | None
    log_group: str
    array_status: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_api(cls, job: Any) -> JobDetail:
        container = job.get("container") or {}
        attempts = tuple(
            Attempt(
                exit_code=_exit_code(a.get("container")),
                reason=a.get("statusReason", "") or (a.get("container") or {}).get("reason", ""),
                started=_time(a.get("startedAt")),
                stopped=_time(a.get("stoppedAt")),
                log_stream=(a.get("container") or {}).get("logStreamName"),
            )
            for a in job.get("attempts", [])
        )
        summary = JobSummary.from_api(job)
        if summary.exit_code is None and attempts and attempts[-1].exit_code is not None:
            summary = JobSummary(**{**summary.__dict__, "exit_code": attempts[-1].exit_code})
        stream = container.get("logStreamName") or next(
            (a.log_stream for a in reversed(attempts) if a.log_stream), None
        )
        options = (container.get("logConfiguration") or {}).get("options") or {}
        return cls(
            summary=summary,
            queue=job.get("jobQueue", ""),
            definition=job.get("jobDefinition", ""),
            parameters=dict(job.get("parameters") or {}),
            depends_on=tuple(d.get("jobId", d.get("type", "")) for d in job.get("dependsOn") or []),
            attempts=attempts,
            log_stream=stream,
            log_group=str(options.get("awslogs-group", DEFAULT_LOG_GROUP)),
            array_status=dict((job.get("arrayProperties") or {}).get("statusSummary") or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "jobQueue": self.queue,
            "jobDefinition": self.definition,
            "parameters": self.parameters,
            "dependsOn": list(self.depends_on),
            "attempts": [a.as_dict() for a in self.attempts],
            "logGroup": self.log_group,
            "logStreamName": self.log_stream,
            "arrayStatusSummary": self.array_status,
        }


def describe(client: BatchClient, job_id: str) -> JobDetail:
    with aws_errors(f"describing job {job_id}"):
        jobs = client.describe_jobs(jobs=[job_id]).get("jobs", [])
    if not jobs:
        raise NotFoundError(f"no job with ID '{job_id}'", hint="list jobs with: r2o jobs --queue QUEUE")
    return JobDetail.from_api(jobs[0])


def cancel(client: BatchClient, job_id: str, reason: str) -> str:
    """Cancel a job that has not started, terminate one that has; return "cancelled" or "terminated"."""
    if not reason.strip():
        raise UsageError("--reason must not be empty (AWS Batch records it on the job)")
    job = describe(client, job_id)
    status = job.summary.status
    if status in FINISHED:
        raise UsageError(f"job {job_id} ({job.summary.name}) already finished: {status}; nothing to cancel")
    if status in BEFORE_START:
        with aws_errors(f"cancelling job {job_id}"):
            client.cancel_job(jobId=job_id, reason=reason)
        return "cancelled"
    with aws_errors(f"terminating job {job_id}"):
        client.terminate_job(jobId=job_id, reason=reason)
    return "terminated"


def log_lines(logs: CloudWatchLogsClient, job: JobDetail) -> Iterator[str]:
    """The job's log messages in order, from its CloudWatch Logs stream (the newest attempt's)."""
    if job.log_stream is None:
        if job.summary.array_size:
            raise UsageError(
                f"job {job.summary.job_id} is an array job; its children have the logs",
                hint=f"run: r2o logs {job.summary.job_id}:0 (child index 0)",
            )
        raise NotFoundError(
            f"job {job.summary.job_id} has no logs yet (status {job.summary.status})",
            hint=f"wait until it runs: r2o job {job.summary.job_id}",
        )
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "logGroupName": job.log_group,
            "logStreamName": job.log_stream,
            "startFromHead": True,
        }
        if token is not None:
            kwargs["nextToken"] = token
        with aws_errors(f"reading log stream {job.log_stream}"):
            try:
                page = logs.get_log_events(**kwargs)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                raise NotFoundError(
                    f"log stream {job.log_group}/{job.log_stream} does not exist",
                    hint="the job may not have written any output yet",
                ) from exc
        for event in page.get("events", []):
            yield str(event.get("message", ""))
        next_token = page.get("nextForwardToken")
        if not page.get("events") or next_token is None or next_token == token:
            return
        token = next_token
