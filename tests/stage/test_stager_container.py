"""r2o-stage in the python-sci image, run as AWS Batch runs an S3-mode job: root, read-only root file
system, scratch /data/input and /data/output, the component's command after ``--``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import pytest

from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from tests.aws.conftest import REGION
from tests.conftest import REPO_ROOT
from tests.stage.conftest import BUCKET

pytestmark = pytest.mark.docker

# The component: who it runs as, whether it can change its input, then one output.
COMPONENT = """
import json, os
try:
    open("/data/input/coarse.nc", "ab").close(); writable = True
except OSError:
    writable = False
info = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "writable": writable,
        "aws": sorted(k for k in os.environ if k.startswith("AWS_"))}
data = open("/data/input/coarse.nc", "rb").read()
open("/data/output/copy.nc", "wb").write(data)
open("/data/output/info.json", "w").write(json.dumps(info))
print("component done")
"""


@pytest.fixture(scope="module")
def image(engine: Engine) -> str:
    ref = ImageGraph.from_repo(Repository(REPO_ROOT)).ref("python-sci")
    if not engine.has_local(ref):
        subprocess.run(
            [sys.executable, "-c", "from r2o.cli.main import main; main()", "build", "python-sci"],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            timeout=1800,
        )
    return ref


def docker_run(image: str, moto: str, spec: dict[str, Any], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "docker", "run", "--rm", "--network", "host", "--user", "0:0", "--read-only",
            "--tmpfs", "/tmp", "--tmpfs", "/data/input:mode=0755", "--tmpfs", "/data/output:mode=0755",
            "-e", f"AWS_ENDPOINT_URL={moto}", "-e", "AWS_ACCESS_KEY_ID=testing",
            "-e", "AWS_SECRET_ACCESS_KEY=testing", "-e", f"AWS_DEFAULT_REGION={REGION}",
            "-e", "AWS_BATCH_JOB_ID=0f6a6b8e-0000-4000-8000-000000000000:2",
            image, "r2o-stage", json.dumps(spec), "--", *argv,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def test_the_stager_in_its_image_stages_runs_as_1000_and_uploads(image: str, s3: Any, moto: str) -> None:
    body = b"coarse analysis of 2024-07-03"
    s3.put_object(
        Bucket=BUCKET,
        Key="runs/r-9/inputs/coarse/coarse_2024-07-03.nc",
        Body=body,
        ChecksumAlgorithm="SHA256",
    )
    spec = {
        "bucket": BUCKET,
        "run": "runs/r-9",
        "task": "wrf/@DAY@",
        "first_day": "2024-07-01",
        "inputs": [
            {"kind": "in", "dest": "/data/input/coarse.nc", "key": "@RUN@/inputs/coarse/coarse_@DAY@.nc"}
        ],
        "outputs": [
            {"name": "copy", "path": "/data/output/copy.nc"},
            {"name": "info", "path": "/data/output/info.json"},
        ],
        "storage_mib": 16,
    }
    proc = docker_run(image, moto, spec, "python3", "-c", COMPONENT)
    assert proc.returncode == 0, proc.stderr
    assert "component done" in proc.stdout
    task = "runs/r-9/wrf/2024-07-03"  # child 2 (from the job id) of an array from 2024-07-01
    info = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{task}/info.json")["Body"].read())
    assert info == {"uid": 1000, "gid": 1000, "groups": [], "writable": False, "aws": []}
    assert s3.get_object(Bucket=BUCKET, Key=f"{task}/copy.nc")["Body"].read() == body
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{task}/provenance.json")["Body"].read())
    assert doc["outputs"]["copy"] == {"file": "copy.nc", "sha256": hashlib.sha256(body).hexdigest()}

    failing = docker_run(image, moto, {**spec, "task": "fail/@DAY@"}, "python3", "-c", "raise SystemExit(7)")
    assert failing.returncode == 7
    assert "nothing uploaded" in failing.stderr
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/r-9/fail/")["KeyCount"] == 0
