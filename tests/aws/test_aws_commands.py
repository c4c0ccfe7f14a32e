"""deploy, submit, jobs, job, cancel against a moto server (no job runs: the unit tier has no Docker)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from r2o.aws import jobs as batch_jobs
from r2o.aws.deploy import REGISTERED, UNCHANGED, deploy
from r2o.aws.session import AwsTarget
from r2o.aws.submit import make_request
from r2o.errors import AwsError, UsageError
from r2o.render import batch
from r2o.repo import Repository
from tests.aws.conftest import QUEUE, REGION, aws_environment, create_queue

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
REGISTRY = "127.0.0.1:5999"
RENDER = ["--registry", REGISTRY, "--efs-file-system-id", "fs-0123456789abcdef0"]


def r2o(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*R2O, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


@pytest.fixture
def env(moto: str, tmp_path: Path) -> dict[str, str]:
    return aws_environment(tmp_path)


def definitions(repo_root: Path, **overrides: str) -> list[batch.JobDefinition]:
    options = batch.BatchOptions(
        registry=REGISTRY, data=batch.DataVolume(efs_file_system_id="fs-0123456789abcdef0"), **overrides
    )  # type: ignore[arg-type]
    return batch.render_all(Repository(repo_root), ["identity-matrix"], options)


def test_deploy_is_idempotent_and_prunes(moto: str, repo_copy: Path) -> None:
    client = AwsTarget(endpoint_url=moto, region=REGION).batch()
    first = deploy(client, definitions(repo_copy))
    assert [(r.name, r.revision, r.action) for r in first] == [("r2o-identity-matrix", 1, REGISTERED)]
    again = deploy(client, definitions(repo_copy, git_commit="f" * 40))
    assert [(r.revision, r.action) for r in again] == [(1, UNCHANGED)]
    changed = deploy(client, definitions(repo_copy, log_group="/r2o/jobs"))
    assert [(r.revision, r.action) for r in changed] == [(2, REGISTERED)]
    deploy(client, definitions(repo_copy, log_group="/r2o/other"))
    pruned = deploy(client, definitions(repo_copy, log_group="/r2o/other"), keep=1)
    assert pruned[0].action == UNCHANGED and pruned[0].revision == 3
    assert [a.rsplit(":", 1)[1] for a in pruned[0].deregistered] == ["2", "1"]
    active = client.describe_job_definitions(jobDefinitionName="r2o-identity-matrix", status="ACTIVE")
    assert [d["revision"] for d in active["jobDefinitions"]] == [3]
    registered = active["jobDefinitions"][0]
    assert registered["containerProperties"]["image"].startswith(f"{REGISTRY}/identity-matrix:1.0.0-")
    assert registered["tags"]["r2o:component"] == "identity-matrix"


def test_deploy_cli(env: dict[str, str], moto: str, repo_copy: Path) -> None:
    proc = r2o("deploy", *RENDER, "--endpoint-url", moto, "--json", cwd=repo_copy, env=env)
    assert proc.returncode == 0, proc.stderr
    assert [(r["name"], r["action"]) for r in json.loads(proc.stdout)] == [
        ("r2o-identity-matrix", "registered")
    ]
    proc = r2o("deploy", *RENDER, "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "unchanged  r2o-identity-matrix:1" in proc.stderr and "0 registered, 1 unchanged" in proc.stderr
    proc = r2o("deploy", *RENDER, "--keep", "0", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert_clean_error(proc, 2, "--keep must be at least 1")


def test_submit_checks_queue_and_definition(env: dict[str, str], moto: str, repo_copy: Path) -> None:
    create_queue(moto)
    proc = r2o(
        "submit", "identity-matrix", "--queue", "r2o-tset", "--endpoint-url", moto, cwd=repo_copy, env=env
    )
    assert_clean_error(proc, 12, "no job queue named 'r2o-tset'", "did you mean 'r2o-test'?")
    proc = r2o("submit", "identity-matrix", "--queue", QUEUE, "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert_clean_error(proc, 4, "r2o-identity-matrix is not registered", "run: r2o deploy identity-matrix")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-p", "size=x"], "'x' is not an integer"),
        (["-p", "size=0"], "below the minimum 1"),
        (["-p", "sise=3"], "did you mean 'size'?"),
        (["--array-size", "1"], "--array-size 1 is outside AWS Batch's 2-10000"),
        (["--array-size", "10001"], "outside AWS Batch's 2-10000"),
        ([arg for i in range(21) for arg in ("--depends-on", f"job-{i}")], "at most 20 per job"),
        (["--n-to-n", "--depends-on", "a"], "--n-to-n needs --array-size"),
        (["--job-name", "bad name"], "job name 'bad name' is not valid"),
    ],
)
def test_submit_bad_arguments_call_no_aws(
    repo_copy: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    # No endpoint and no credentials: these must fail before any AWS call.
    env = {
        k: v
        for k, v in aws_environment(tmp_path).items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    assert_clean_error(r2o("submit", "identity-matrix", *args, cwd=repo_copy, env=env), 2, needle)


def test_submit_dry_run_is_the_request(repo_copy: Path, tmp_path: Path) -> None:
    proc = r2o(
        "submit",
        "identity-matrix",
        "-p",
        "size=4",
        "--queue",
        "q",
        "--array-size",
        "3",
        "--depends-on",
        "a1",
        "--n-to-n",
        "--dry-run",
        cwd=repo_copy,
        env=aws_environment(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "jobName": "identity-matrix",
        "jobQueue": "q",
        "jobDefinition": "r2o-identity-matrix",
        "tags": {"r2o:component": "identity-matrix"},
        "propagateTags": True,
        "parameters": {"size": "4"},
        "dependsOn": [{"jobId": "a1", "type": "N_TO_N"}],
        "arrayProperties": {"size": 3},
    }


def test_a_required_parameter_without_default_must_be_given(repo_copy: Path) -> None:
    manifest = repo_copy / "components" / "identity-matrix" / "component.yaml"
    manifest.write_text(
        manifest.read_text().replace("size: {type: integer, default: 2,", "size: {type: integer,")
    )
    component = Repository(repo_copy).component("identity-matrix")
    with pytest.raises(UsageError, match="needs parameter 'size'"):
        make_request(component, parameters={}, queue="q")
    assert make_request(component, parameters={"size": "7"}, queue="q").parameters == {"size": "7"}


def test_jobs_job_cancel_errors(env: dict[str, str], moto: str, repo_copy: Path) -> None:
    create_queue(moto)
    proc = r2o("jobs", "--queue", QUEUE, "--json", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    proc = r2o("jobs", "--queue", "nope", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert_clean_error(proc, 12, "no job queue named 'nope'", "queues: r2o-test")
    proc = r2o("job", "0000-no-such-job", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert_clean_error(proc, 4, "no job with ID '0000-no-such-job'")
    proc = r2o("cancel", "0000-no-such-job", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert_clean_error(proc, 4, "no job with ID")
    proc = r2o("cancel", "x", "--reason", " ", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert_clean_error(proc, 2, "--reason must not be empty")
    proc = r2o("jobs", "--status", "DONE", "--endpoint-url", moto, cwd=repo_copy, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_missing_credentials(repo_copy: Path, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in aws_environment(tmp_path).items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    # credentials are resolved before any connection, so the closed port is never reached
    proc = r2o("jobs", "--endpoint-url", "http://127.0.0.1:9", cwd=repo_copy, env=env)
    assert_clean_error(proc, 12, "no AWS credentials found", "AWS_PROFILE")


def test_missing_region(repo_copy: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in aws_environment(tmp_path).items() if k != "AWS_DEFAULT_REGION"}
    assert_clean_error(r2o("job", "x", cwd=repo_copy, env=env), 12, "no AWS region configured", "AWS_REGION")


class _Throttler(BaseHTTPRequestHandler):
    """Answers AWS Batch calls with ThrottlingException the first ``throttle`` times, then an empty result."""

    throttle = 0
    seen = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen += 1
        if type(self).seen <= type(self).throttle:
            body, status = {"__type": "ThrottlingException", "message": "Rate exceeded"}, 400
        else:
            queue = {"jobQueueName": "q", "jobQueueArn": "arn:aws:batch:us-east-1:123456789012:job-queue/q"}
            body, status = {"jobSummaryList": [], "jobQueues": [queue]}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def throttler(moto: str) -> Iterator[tuple[str, type[_Throttler]]]:
    handler = type("Handler", (_Throttler,), {"throttle": 0, "seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_throttling_is_retried_with_backoff(throttler: tuple[str, type[_Throttler]]) -> None:
    url, handler = throttler
    handler.throttle = 2
    client = AwsTarget(endpoint_url=url, region=REGION, max_attempts=3).batch()
    assert batch_jobs.list_jobs(client, "q", ["RUNNING"]) == []
    assert handler.seen == 4  # DescribeJobQueues throttled twice, then it and ListJobs answered


def test_throttling_that_never_ends_is_a_clear_error(throttler: tuple[str, type[_Throttler]]) -> None:
    url, handler = throttler
    handler.throttle = 1000
    client = AwsTarget(endpoint_url=url, region=REGION, max_attempts=2).batch()
    with pytest.raises(
        AwsError, match=r"AWS kept throttling .* \(ThrottlingException, gave up after 2 attempts"
    ):
        batch_jobs.list_jobs(client, "q", ["RUNNING"])
    assert handler.seen == 2


def test_cancel_picks_cancel_or_terminate(moto: str, repo_copy: Path) -> None:
    """Batch's CancelJob only affects jobs that have not started; running ones need TerminateJob."""
    calls: list[tuple[str, str]] = []

    class Fake:
        def __init__(self, status: str) -> None:
            self.status = status

        def describe_jobs(self, jobs: list[str]) -> dict[str, object]:
            return {"jobs": [{"jobId": jobs[0], "jobName": "n", "status": self.status}]}

        def cancel_job(self, jobId: str, reason: str) -> None:
            calls.append(("cancel", jobId))

        def terminate_job(self, jobId: str, reason: str) -> None:
            calls.append(("terminate", jobId))

    assert batch_jobs.cancel(Fake("RUNNABLE"), "a", "r") == "cancelled"  # type: ignore[arg-type]
    assert batch_jobs.cancel(Fake("RUNNING"), "b", "r") == "terminated"  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="already finished: SUCCEEDED"):
        batch_jobs.cancel(Fake("SUCCEEDED"), "c", "r")  # type: ignore[arg-type]
    assert calls == [("cancel", "a"), ("terminate", "b")]


def test_boto3_sees_the_queue(moto: str) -> None:
    create_queue(moto)
    queues = boto3.client("batch", endpoint_url=moto, region_name=REGION).describe_job_queues()["jobQueues"]
    assert [q["jobQueueName"] for q in queues] == [QUEUE]


def test_deploy_dry_run_calls_no_aws(repo_copy: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in aws_environment(tmp_path).items() if not k.startswith("AWS_ACCESS")}
    proc = r2o("deploy", *RENDER, "--dry-run", cwd=repo_copy, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"would deploy r2o-identity-matrix  {REGISTRY}/identity-matrix:1.0.0-" in proc.stderr
