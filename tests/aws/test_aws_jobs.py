"""Reading jobs as real AWS Batch describes them: exit codes, attempts, the log group and paging of logs."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from r2o.aws.jobs import JobDetail, log_lines
from r2o.errors import NotFoundError, UsageError

# The shape DescribeJobs returns for a finished container job with two attempts (the first lost to Spot).
DESCRIBED: dict[str, Any] = {
    "jobId": "j-1",
    "jobName": "wrf",
    "status": "SUCCEEDED",
    "statusReason": "Essential container in task exited",
    "createdAt": 1_700_000_000_000,
    "startedAt": 1_700_000_060_000,
    "stoppedAt": 1_700_000_120_000,
    "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/r2o",
    "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/r2o-wrf:3",
    "parameters": {"date": "2024-07-15"},
    "dependsOn": [{"jobId": "j-0"}],
    "attempts": [
        {
            "container": {"exitCode": None, "logStreamName": "r2o/default/a"},
            "statusReason": "Host EC2 (instance i-0abc) terminated.",
            "startedAt": 1,
            "stoppedAt": 2,
        },
        {"container": {"exitCode": 0, "logStreamName": "r2o/default/b"}, "startedAt": 3, "stoppedAt": 4},
    ],
    "container": {
        "exitCode": 0,
        "logStreamName": "r2o/default/b",
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/r2o/prod/jobs"}},
    },
}


def test_detail_from_a_real_shaped_description() -> None:
    detail = JobDetail.from_api(DESCRIBED)
    assert detail.summary.exit_code == 0 and detail.summary.status == "SUCCEEDED"
    assert detail.summary.started == "2023-11-14T22:14:20+00:00"
    assert [a.reason for a in detail.attempts] == ["Host EC2 (instance i-0abc) terminated.", ""]
    assert [a.exit_code for a in detail.attempts] == [None, 0]
    assert (detail.log_group, detail.log_stream) == ("/r2o/prod/jobs", "r2o/default/b")
    assert detail.depends_on == ("j-0",)
    assert detail.as_dict()["attempts"][1]["logStreamName"] == "r2o/default/b"


def test_exit_code_falls_back_to_the_last_attempt() -> None:
    job = {**DESCRIBED, "container": {"logStreamName": "s"}}
    assert JobDetail.from_api(job).summary.exit_code == 0


class FakeLogs:
    def __init__(self, pages: list[dict[str, Any]] | None = None, missing: bool = False) -> None:
        self.pages = pages or []
        self.calls: list[dict[str, Any]] = []
        self.missing = missing

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.missing:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, "GetLogEvents"
            )
        return self.pages[min(len(self.calls) - 1, len(self.pages) - 1)]


def test_logs_follow_forward_tokens_until_they_repeat() -> None:
    logs = FakeLogs(
        [
            {"events": [{"message": "a"}, {"message": " b"}], "nextForwardToken": "t1"},
            {"events": [{"message": "c"}], "nextForwardToken": "t2"},
            {"events": [], "nextForwardToken": "t2"},
        ]
    )
    assert list(log_lines(logs, JobDetail.from_api(DESCRIBED))) == ["a", " b", "c"]  # type: ignore[arg-type]
    assert logs.calls[0] == {
        "logGroupName": "/r2o/prod/jobs",
        "logStreamName": "r2o/default/b",
        "startFromHead": True,
    }
    assert logs.calls[1]["nextToken"] == "t1"


def test_logs_errors_name_the_next_step() -> None:
    with pytest.raises(NotFoundError, match="log stream /r2o/prod/jobs/r2o/default/b does not exist"):
        list(log_lines(FakeLogs(missing=True), JobDetail.from_api(DESCRIBED)))  # type: ignore[arg-type]
    waiting = {"jobId": "j-2", "jobName": "wrf", "status": "RUNNABLE"}
    with pytest.raises(NotFoundError, match=r"has no logs yet \(status RUNNABLE\)"):
        list(log_lines(FakeLogs(), JobDetail.from_api(waiting)))  # type: ignore[arg-type]
    array = {**waiting, "status": "RUNNING", "arrayProperties": {"size": 4, "statusSummary": {"RUNNING": 4}}}
    with pytest.raises(UsageError, match="is an array job"):
        list(log_lines(FakeLogs(), JobDetail.from_api(array)))  # type: ignore[arg-type]
