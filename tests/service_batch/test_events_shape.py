"""What a Batch job's description means for its task: state and a reason a person can act on.

The jobs are written here as AWS documents DescribeJobs / the "Batch Job State Change" detail
(times in ms since the epoch), not produced by the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from r2o.service import states
from r2o.service.aws.events import CANCEL_REASON, change_of, event_for

T0 = 1_700_000_000_000  # createdAt (ms)


def job(status: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jobArn": "arn:aws:batch:us-east-1:123456789012:job/8c1e-0000:3",
        "jobName": "r2o-run-aqcast-wrf",
        "jobId": "8c1e-0000:3",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/r2o",
        "status": status,
        "createdAt": T0,
        "arrayProperties": {"index": 3},
        "dependsOn": [],
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/r2o-aqcast-wrf:1",
        "parameters": {},
        "container": {"image": "wrf:1", "logStreamName": "r2o/default/abc"},
        "attempts": [],
        "tags": {},
    }
    base.update(extra)
    return base


def attempt(
    code: int | None, reason: str = "", started: int = T0 + 65_000, stopped: int = T0 + 185_000
) -> Any:
    container: dict[str, Any] = {"logStreamName": "r2o/default/abc"}
    if code is not None:
        container["exitCode"] = code
    if reason:
        container["reason"] = reason
    return {
        "container": container,
        "startedAt": started,
        "stoppedAt": stopped,
        "statusReason": "Essential container in task exited",
    }


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("SUBMITTED", "submitted to AWS Batch"),
        ("PENDING", "waiting for the tasks it depends on"),
        ("STARTING", "STARTING: its container is being started"),
    ],
)
def test_waiting_states_keep_the_task_queued_with_the_batch_state(status: str, reason: str) -> None:
    change = change_of(job(status))
    assert change.state == states.QUEUED and reason in change.reason


def test_runnable_says_how_long_it_has_waited() -> None:
    change = change_of(job("RUNNABLE"), now=T0 / 1000 + 754)
    assert change.state == states.QUEUED
    assert change.reason == (
        "RUNNABLE: waiting for an instance with the vCPUs and memory it asks for; submitted 12 min 34 s ago"
    )


def test_running_says_how_long_it_waited_in_the_queue() -> None:
    change = change_of(job("RUNNING", startedAt=T0 + 65_000, attempts=[]))
    assert (change.state, change.reason) == (states.RUNNING, "running after 65 s in the queue")
    assert change.fields["started"] == T0 / 1000 + 65


def test_succeeded() -> None:
    change = change_of(job("SUCCEEDED", startedAt=T0 + 65_000, stoppedAt=T0 + 185_000, attempts=[attempt(0)]))
    assert change.state == states.COMPLETE
    assert change.reason == "ran in 2 min 0 s after 65 s in the queue"
    assert change.fields["exit_code"] == 0 and change.fields["seconds"] == 120.0


@pytest.mark.parametrize(
    ("detail", "state", "reason"),
    [
        (
            {"statusReason": "Essential container in task exited", "attempts": [attempt(3)]},
            states.EXECUTOR_ERROR,
            "exited with code 3",
        ),
        (
            {
                "statusReason": "Essential container in task exited",
                "attempts": [attempt(137, "OutOfMemoryError: Container killed due to memory usage")],
            },
            states.EXECUTOR_ERROR,
            "out of memory: OutOfMemoryError: Container killed due to memory usage (raise resources.",
        ),
        (
            {"statusReason": "Job attempt duration exceeded timeout", "attempts": [attempt(None)]},
            states.EXECUTOR_ERROR,
            "timed out after 2 min 0 s: Job attempt duration exceeded timeout",
        ),
        ({"statusReason": "Dependent Job failed", "attempts": []}, states.SKIPPED, "did not run"),
        ({"statusReason": CANCEL_REASON, "attempts": []}, states.CANCELED, "canceled by its user"),
        (
            {
                "statusReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                "attempts": [],
            },
            states.SYSTEM_ERROR,
            "AWS Batch: CannotPullContainerError",
        ),
        (
            {
                "statusReason": "Host EC2 (instance i-0abc) terminated.",
                "attempts": [attempt(None), attempt(None)],
            },
            states.SYSTEM_ERROR,
            "AWS Batch: Host EC2 (instance i-0abc) terminated. (attempt 2)",
        ),
    ],
)
def test_failures_name_their_cause(detail: dict[str, Any], state: str, reason: str) -> None:
    change = change_of(job("FAILED", **detail))
    assert change.state == state
    assert reason in change.reason


def test_the_event_is_shaped_as_aws_documents_it() -> None:
    event = event_for(job("RUNNING"), region="us-east-1", account="123456789012")
    assert event["detail-type"] == "Batch Job State Change" and event["source"] == "aws.batch"
    assert event["resources"] == ["arn:aws:batch:us-east-1:123456789012:job/8c1e-0000:3"]
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
