"""A stand-in for the Batch API where moto cannot be used without Docker (moto runs every submitted job
in a container): it keeps jobs as DescribeJobs shows them, and checks every request against botocore's
Batch model, so a request the real API would refuse fails here too."""

from __future__ import annotations

import itertools
import time
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

_MODEL = botocore.session.get_session().get_service_model("batch")


def _check(operation: str, params: dict[str, Any]) -> None:
    shape = _MODEL.operation_model(operation).input_shape
    assert shape is not None
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


class FakeBatch:
    """SubmitJob, ListJobs (JOB_NAME filter), DescribeJobs, TerminateJob; jobs set by the test."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}  # job id -> DescribeJobs job
        self.submitted: list[dict[str, Any]] = []
        self.terminated: list[tuple[str, str]] = []
        self.refuse_after: int | None = None  # SubmitJob calls accepted before it answers ClientException
        self._ids = (f"0000{n:04d}-0000-4000-8000-000000000000" for n in itertools.count(1))

    def submit_job(self, **params: Any) -> dict[str, Any]:
        _check("SubmitJob", params)
        if self.refuse_after is not None and len(self.submitted) >= self.refuse_after:
            from botocore.exceptions import ClientError

            error = {
                "Error": {"Code": "ClientException", "Message": "JobDefinition r2o-chain-side not found"}
            }
            raise ClientError(error, "SubmitJob")  # type: ignore[arg-type]
        self.submitted.append(params)
        job_id = next(self._ids)
        size = params.get("arrayProperties", {}).get("size")
        base = {
            "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{job_id}",
            "jobName": params["jobName"],
            "jobId": job_id,
            "jobQueue": params["jobQueue"],
            "status": "SUBMITTED",
            "createdAt": int(time.time() * 1000),
            "dependsOn": params.get("dependsOn", []),
            "jobDefinition": params["jobDefinition"],
            "container": {"command": params["containerOverrides"]["command"]},
            "attempts": [],
            "tags": params.get("tags", {}),
        }
        self.jobs[job_id] = {**base, **({"arrayProperties": {"size": size}} if size else {})}
        for i in range(size or 0):
            child = f"{job_id}:{i}"
            self.jobs[child] = {
                **base,
                "jobId": child,
                "jobArn": base["jobArn"] + f":{i}",
                "arrayProperties": {"index": i},
            }
        return {"jobName": params["jobName"], "jobId": job_id, "jobArn": base["jobArn"]}

    def list_jobs(self, **params: Any) -> dict[str, Any]:
        _check("ListJobs", params)
        names = {v for f in params.get("filters", []) if f["name"] == "JOB_NAME" for v in f["values"]}
        found = [
            {"jobId": j["jobId"], "jobName": j["jobName"], "status": j["status"]}
            for j in self.jobs.values()
            if ":" not in j["jobId"] and (not names or j["jobName"] in names)
        ]
        return {"jobSummaryList": found}

    def describe_jobs(self, **params: Any) -> dict[str, Any]:
        _check("DescribeJobs", params)
        assert len(params["jobs"]) <= 100
        return {"jobs": [dict(self.jobs[i]) for i in params["jobs"] if i in self.jobs]}

    def terminate_job(self, **params: Any) -> dict[str, Any]:
        _check("TerminateJob", params)
        self.terminated.append((params["jobId"], params["reason"]))
        return {}

    # --- what a test makes Batch do ---------------------------------------------------------------

    def set(
        self, job_id: str, status: str, *, code: int | None = None, reason: str = "", ran_s: float = 30
    ) -> dict[str, Any]:
        """Job ``job_id`` moves to ``status`` (times as Batch records them); its description."""
        job = self.jobs[job_id]
        job["status"] = status
        created = job["createdAt"]
        if status == "RUNNING" or (status in ("SUCCEEDED", "FAILED") and code is not None):
            job["startedAt"] = created + 5_000
        if status in ("SUCCEEDED", "FAILED"):
            job["stoppedAt"] = job.get("startedAt", created) + int(ran_s * 1000)
            if code is not None:
                job["attempts"] = [
                    {
                        "container": {"exitCode": code, "logStreamName": f"r2o/default/{job_id}"},
                        "startedAt": job["startedAt"],
                        "stoppedAt": job["stoppedAt"],
                        "statusReason": "Essential container in task exited",
                    }
                ]
                job["container"] = {
                    **job["container"],
                    "exitCode": code,
                    "logStreamName": f"r2o/default/{job_id}",
                }
        if reason:
            job["statusReason"] = reason
        return dict(job)

    def forget(self, job_id: str) -> None:
        """Batch forgets a job (and an array's children with their parent)."""
        for key in [k for k in self.jobs if k == job_id or k.startswith(job_id + ":")]:
            del self.jobs[key]
