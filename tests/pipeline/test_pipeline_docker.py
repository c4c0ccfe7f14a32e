"""The fixture pipeline in Docker: locally through the Docker executor, and on AWS Batch as moto runs it.

moto's Batch backend runs each job as a container of the local engine, which lets the array jobs, the
launcher and the data-lake layout run for real. What moto does differently from Batch, and how this
test adapts:

- N_TO_N is not per index: each child of an array job waits for the whole parent job (every child),
  so the per-day overlap is not tested here; the SubmitJob calls themselves are checked exactly in
  test_pipeline_batch.py (Stubber, botocore's model).
- SEQUENTIAL dependencies (no jobId) crash moto's dependency wait, so the pipeline submitted here has
  no day-to-day chain (acc without its optional ``prev`` input); the chain is covered by the Stubber
  test and by the local runs.
- An array parent's status turns SUCCEEDED only when it is described, so the wait loop describes
  every job (as `r2o jobs` would).
- It ignores ``linuxParameters.tmpfs``: the fixture images create /data/input and /data/output
  themselves (owned by uid 1000). It sets no AWS_BATCH_JOB_ARRAY_INDEX; the launcher falls back to
  the ``<parent>:<index>`` suffix of AWS_BATCH_JOB_ID, which Batch sets the same way.
- The lake is a host directory (``--data-host-path``): moto mounts no EFS volumes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import docker.errors
import pytest

from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from tests.aws.conftest import QUEUE, REGION, aws_environment, create_queue
from tests.pipeline.conftest import R2O, make_repo, r2o, set_sleep

pytestmark = pytest.mark.docker

REGISTRY = "127.0.0.1:5999/r2o-pipeline"
FAN = """apiVersion: r2o/v1
kind: Pipeline
name: fan
description: Per-day generator, a per-day consumer (N_TO_N) and a fan-in.
steps:
  gen: {component: gen, foreach: day, parameters: {date: "${day}"}}
  acc: {component: acc, foreach: day, inputs: {value: {step: gen, output: value}}}
  report: {component: gather, inputs: {days: {step: acc, output: total, collect: all}}}
"""


def _build(repo: Path) -> None:
    proc = subprocess.run(
        [*R2O, "build", "gen", "acc", "gather"], cwd=repo, capture_output=True, text=True, timeout=1800
    )
    assert proc.returncode == 0, proc.stderr


def _files(run_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*.txt"))
        if "logs" not in p.parts and ".inputs" not in p.parts
    }


def test_chain_in_docker_matches_native(engine: Engine, tmp_path: Path) -> None:
    docker_repo = make_repo(tmp_path / "docker")
    native_repo = make_repo(tmp_path / "native")
    _build(docker_repo)
    args = ("pipeline", "run", "chain", "--start", "2024-07-15", "--days", "2")
    proc = r2o(*args, cwd=docker_repo, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert r2o(*args, "--native", cwd=native_repo).returncode == 0
    run = Path(".r2o/pipelines/chain/2024-07-15+2d")
    assert _files(docker_repo / run) == _files(native_repo / run)
    prov = json.loads((docker_repo / run / "acc" / "2024-07-16" / "provenance.json").read_text())
    assert prov["backend"] == "docker" and prov["image_digest"].startswith("sha256:")
    assert prov["image"] == ImageGraph.from_repo(Repository(docker_repo)).ref("acc")
    assert _containers(engine, docker_repo) == []
    again = r2o(*args, cwd=docker_repo)
    assert again.returncode == 0 and "0 ran, 7 cached" in again.stderr


def _containers(engine: Engine, repo: Path) -> list[Any]:
    """The containers r2o started for ``repo`` (its org.r2o.repo label; other sessions share the
    engine); one removed between the listing and its inspection is gone, not left."""
    labels = ["org.r2o.component", f"org.r2o.repo={repo.resolve()}"]
    found = []
    for c in engine.client.containers.list(all=True, sparse=True, filters={"label": labels}):
        try:
            c.reload()
        except docker.errors.NotFound:
            continue
        found.append(c)
    return found


def _wait(client: Any, ids: list[str], timeout: float = 600) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = client.describe_jobs(jobs=ids)["jobs"]
        # name -> status (and moto's reason when it failed one), for a readable assertion
        status = {
            j["jobName"]: j["status"] + (f" ({j['statusReason']})" if j.get("statusReason") else "")
            for j in jobs
        }
        if all(s.startswith(("SUCCEEDED", "FAILED")) for s in status.values()) or time.monotonic() > deadline:
            return status
        time.sleep(1)


def test_two_days_on_moto(engine: Engine, moto: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "pipelines" / "fan.yaml").write_text(FAN)
    _build(repo)
    graph = ImageGraph.from_repo(Repository(repo))
    refs = [graph.ref(c, REGISTRY) for c in ("gen", "acc", "gather")]
    for c, ref in zip(("gen", "acc", "gather"), refs, strict=True):
        engine.tag(graph.ref(c), ref)
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o777)  # the containers run as uid 1000
    try:
        create_queue(moto)
        env = {**aws_environment(tmp_path), "R2O_AWS_ENDPOINT_URL": moto}
        proc = subprocess.run(
            [
                *R2O,
                "pipeline",
                "submit",
                "fan",
                "--start",
                "2024-07-15",
                "--days",
                "2",
                "--queue",
                QUEUE,
                "--registry",
                REGISTRY,
                "--data-host-path",
                str(lake),
                "--json",
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        submitted = json.loads(proc.stdout)
        assert [(s["jobName"], s["size"]) for s in submitted] == [
            ("fan-gen", "2"),
            ("fan-acc", "2"),
            ("fan-report", "1"),
        ]
        client = boto3.client("batch", endpoint_url=moto, region_name=REGION)
        status = _wait(client, [s["jobId"] for s in submitted])
        assert all(s.startswith("SUCCEEDED") for s in status.values()), status
    finally:
        for ref in refs:
            engine.remove(ref)
    run = lake / "pipelines" / "fan" / "2024-07-15+2d"
    assert (run / "gen" / "2024-07-16" / "value.txt").read_text() == f"{20240716 % 97}\n"
    assert (run / "gen" / "2024-07-16" / "stdout.txt").read_text() == "gen 2024-07-16\n"
    assert (run / "acc" / "2024-07-15" / "total.txt").read_text() == f"{20240715 % 97}\n"
    assert (run / "report" / "report.txt").read_text() == (
        f"total_2024-07-15.txt {20240715 % 97}\ntotal_2024-07-16.txt {20240716 % 97}\n"
    )
    assert not [p for p in run.rglob("*") if ".partial" in p.name]


def test_ctrl_c_in_docker_removes_the_containers(engine: Engine, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    set_sleep(repo, "gen", 3)
    set_sleep(repo, "side", 3.1)
    _build(repo)
    run = repo / ".r2o" / "pipelines" / "chain" / "2024-07-15+2d"
    proc = subprocess.Popen(
        [*R2O, "pipeline", "run", "chain", "--start", "2024-07-15", "--days", "2"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def ours() -> list[Any]:
        return _containers(engine, repo)

    deadline = time.monotonic() + 120
    while not ours():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert ours() == []
    assert not [p for p in run.rglob("*") if ".partial-" in p.name]
    rerun = r2o("pipeline", "run", "chain", "--start", "2024-07-15", "--days", "2", cwd=repo, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
