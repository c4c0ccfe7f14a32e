"""A moto server on a loopback port, started and stopped by the tests, and AWS settings that reach only it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.services import free_port

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
REGION = "us-east-1"
ACCOUNT = "123456789012"
QUEUE = "r2o-test"
_MOTO_LOG: list[Path] = []


def aws_environment(tmp: Path) -> dict[str, str]:
    """Fake credentials and a region; no profile or config file of the machine can leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("R2O_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server; its Batch backend runs jobs as containers of the local Docker engine (no network)."""
    tmp = tmp_path_factory.mktemp("moto")
    port = free_port()
    env = aws_environment(tmp)
    # Batch job containers get no network, like `r2o run` (and they need none: they only print).
    env["MOTO_DOCKER_NETWORK_MODE"] = "none"
    log = (tmp / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    _MOTO_LOG[:] = [tmp / "moto.log"]  # read by failing docker-tier tests
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start: {(tmp / 'moto.log').read_text()}")
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        _MOTO_LOG.clear()


def moto_log_tail(lines: int = 40) -> str:
    """The end of the moto server's log: why moto failed a job (it records no statusReason)."""
    if not _MOTO_LOG or not _MOTO_LOG[0].is_file():
        return "(no moto log)"
    return "\n".join(_MOTO_LOG[0].read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def moto(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto state, with this process's AWS settings pointed at it."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    for key in list(os.environ):
        if key.startswith(("AWS_", "R2O_")):
            monkeypatch.delenv(key)
    for key, value in aws_environment(tmp_path).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return moto_url


def create_queue(url: str, name: str = QUEUE) -> str:
    """An UNMANAGED compute environment and a job queue on it (moto runs the jobs itself)."""
    iam = boto3.client("iam", endpoint_url=url, region_name=REGION)
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", endpoint_url=url, region_name=REGION)
    env = batch.create_compute_environment(
        computeEnvironmentName="r2o-test-ce", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    batch.create_job_queue(
        jobQueueName=name,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    return name
