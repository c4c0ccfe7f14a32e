"""deploy, submit, job, jobs, logs and cancel end to end against a moto server running the jobs in Docker.

moto's Batch backend starts each job as a container of the local engine (docker SDK, ``containers.run``
with the job definition's image, command after Ref:: substitution, environment and host-path mounts),
then copies the container's output into its CloudWatch Logs backend. The image is the one
``r2o build`` made, tagged locally with the rendered name ``<registry>/<name>:<content tag>``, so
nothing is pulled. The server runs job containers with network mode none (MOTO_DOCKER_NETWORK_MODE),
as ``r2o run`` does.

What moto cannot do, and how this test adapts (the rendered definitions stay as they are):

- EFS volumes: moto mounts only ``host.sourcePath`` volumes (an ``efsVolumeConfiguration`` volume
  fails the job), so this test deploys with ``--data-host-path``; the EFS form is covered by the
  botocore checks of tests/render/test_render_batch.py.
- It ignores ``user``, ``readonlyRootFilesystem``, ``linuxParameters`` (tmpfs, init), resource
  requirements and the awslogs log group: the container runs with the image's user and no limits,
  and logs always land in ``/aws/batch/job``. None of them trips it.
- No retries: ``retryStrategy`` is stored, never applied (one attempt per job).
- N_TO_N dependencies are not per index (a child waits for the whole parent job), so they are not
  tested here.
- Exit codes appear only in ListJobs summaries (DescribeJobs replaces ``container`` with the job
  definition's view), so the exit code is read from ``r2o jobs --json``.
- Log messages are stripped of surrounding whitespace line by line (moto's ``line.strip()``), so
  the golden stdout is compared with each line stripped the same way; order and content are exact.
- Job states do not follow the job: with moto's "immediate" state progression a job still waiting
  for a dependency reads as SUBMITTED or as RUNNING, depending on timing; so ``r2o cancel`` uses
  CancelJob or TerminateJob (on Batch the job is PENDING and gets CancelJob; the choice per state is
  unit-tested in test_aws_commands.py). Either way moto stops the waiting job at its next
  dependency poll (about a second) with the given reason. A running job (a sleeper on the base
  image) is terminated: moto kills its container and marks it FAILED with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from tests.aws.conftest import QUEUE, REGION, aws_environment, create_queue, moto_log_tail
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.docker

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
REGISTRY = "127.0.0.1:5999/r2o-moto"
GOLDEN = REPO_ROOT / "components" / "identity-matrix" / "tests" / "golden"


def r2o(*args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run([*R2O, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def stripped(text: str) -> str:
    return "".join(line.strip() + "\n" for line in text.splitlines())


def wait_for(job_id: str, *, cwd: Path, env: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    """The job once it finished (or when ``timeout`` passed); the endpoint comes from R2O_AWS_ENDPOINT_URL."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = json.loads(r2o("job", job_id, "--json", cwd=cwd, env=env))
        if job["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            job["moto log"] = moto_log_tail()  # shown when an assertion on the job fails
            return job
        time.sleep(1)


@pytest.fixture
def deployed(engine: Engine, moto: str, repo_copy: Path, tmp_path: Path) -> Any:
    """identity-matrix built, tagged with its rendered name, deployed to moto; a queue to submit to."""
    env = {**aws_environment(tmp_path), "R2O_AWS_ENDPOINT_URL": moto}
    subprocess.run(
        [*R2O, "build", "identity-matrix"],
        cwd=repo_copy,
        check=True,
        capture_output=True,
        timeout=1800,
        env=env,
    )
    graph = ImageGraph.from_repo(Repository(repo_copy))
    rendered_ref = graph.ref("identity-matrix", REGISTRY)
    engine.tag(graph.ref("identity-matrix"), rendered_ref)
    create_queue(moto)
    data = tmp_path / "data"
    for sub in ("input", "output"):  # the job mounts <data>/input read-only and <data>/output
        (data / sub).mkdir(parents=True)
    common = ["--endpoint-url", moto]
    out = r2o(
        "deploy",
        "--registry",
        REGISTRY,
        "--data-host-path",
        str(data),
        "--json",
        *common,
        cwd=repo_copy,
        env=env,
    )
    assert [r["action"] for r in json.loads(out)] == ["registered"]
    try:
        yield repo_copy, env, common, rendered_ref
    finally:
        engine.remove(rendered_ref)


def test_submit_size_4_and_read_its_logs(deployed: Any) -> None:
    repo, env, common, image = deployed
    submitted = json.loads(
        r2o(
            "submit",
            "identity-matrix",
            "-p",
            "size=4",
            "--queue",
            QUEUE,
            "--json",
            *common,
            cwd=repo,
            env=env,
        )
    )
    assert submitted["contentTag"] == image.rsplit(":", 1)[1]
    job = wait_for(submitted["jobId"], cwd=repo, env=env)
    assert job["status"] == "SUCCEEDED", job["moto log"]
    assert job["parameters"] == {"size": "4"}
    assert len(job["attempts"]) == 1
    logs = r2o("logs", submitted["jobId"], *common, cwd=repo, env=env)
    assert logs == stripped((GOLDEN / "size-4" / "expected" / "stdout.txt").read_text())
    listed = json.loads(
        r2o("jobs", "--queue", QUEUE, "--status", "SUCCEEDED", "--json", *common, cwd=repo, env=env)
    )
    assert [(j["jobId"], j["exitCode"]) for j in listed] == [(submitted["jobId"], 0)]
    shown = r2o("job", submitted["jobId"], *common, cwd=repo, env=env)
    assert "status      SUCCEEDED" in shown and "parameters  size=4" in shown


def test_a_dependency_chain_then_a_cancel(deployed: Any) -> None:
    repo, env, common, _ = deployed

    def submit(*args: str) -> str:
        return str(
            json.loads(
                r2o(
                    "submit", "identity-matrix", "--queue", QUEUE, "--json", *args, *common, cwd=repo, env=env
                )
            )["jobId"]
        )

    first = submit("-p", "size=3", "--job-name", "chain-first")
    second = submit("--job-name", "chain-second", "--depends-on", first)
    done_second = wait_for(second, cwd=repo, env=env)
    done_first = wait_for(first, cwd=repo, env=env)
    assert (done_first["status"], done_second["status"]) == ("SUCCEEDED", "SUCCEEDED"), done_first["moto log"]
    assert done_second["dependsOn"] == [first]
    assert done_second["startedAt"] >= done_first["stoppedAt"]
    assert r2o("logs", second, *common, cwd=repo, env=env) == stripped(
        (GOLDEN / "default-size" / "expected" / "stdout.txt").read_text()
    )

    # A job that is still running when its dependent is cancelled: a sleeper on the base image,
    # registered and submitted with boto3 directly (it is not a component).
    batch = boto3.client("batch", endpoint_url=common[1], region_name=REGION)
    base = ImageGraph.from_repo(Repository(repo)).ref("python-sci")
    batch.register_job_definition(
        jobDefinitionName="test-sleeper",
        type="container",
        containerProperties={
            "image": base,
            "command": ["python3", "-c", "import time; time.sleep(120)"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}],
        },
    )
    blocker = batch.submit_job(jobName="cancel-blocker", jobQueue=QUEUE, jobDefinition="test-sleeper")[
        "jobId"
    ]
    doomed = submit("--job-name", "cancel-doomed", "--depends-on", blocker)
    cancel = [*R2O, "cancel", doomed, "--reason", "not needed after all", *common]
    proc = subprocess.run(cancel, cwd=repo, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr in (f"r2o: cancelled {doomed}\n", f"r2o: terminated {doomed}\n")  # see the docstring
    cancelled = wait_for(doomed, cwd=repo, env=env)
    assert (cancelled["status"], cancelled["statusReason"]) == ("FAILED", "not needed after all")
    assert cancelled["attempts"] == []  # it never ran

    started = time.monotonic()
    stop = [*R2O, "cancel", blocker, "--reason", "stop the sleeper", *common]
    proc = subprocess.run(stop, cwd=repo, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    stopped = wait_for(blocker, cwd=repo, env=env)
    assert (stopped["status"], stopped["statusReason"]) == ("FAILED", "stop the sleeper")
    assert time.monotonic() - started < 60  # killed, not run to its end
    again = subprocess.run(stop, cwd=repo, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 2 and "already finished: FAILED" in again.stderr
    failed = json.loads(
        r2o("jobs", "--queue", QUEUE, "--status", "FAILED", "--json", *common, cwd=repo, env=env)
    )
    assert sorted(j["jobName"] for j in failed) == ["cancel-blocker", "cancel-doomed"]


def test_submit_warns_when_the_tree_moved_past_the_registered_image(deployed: Any) -> None:
    repo, env, common, image = deployed
    algorithm = repo / "components" / "identity-matrix" / "algorithm.py"
    algorithm.write_text(algorithm.read_text() + "# changed after deploy\n")
    proc = subprocess.run(
        [*R2O, "submit", "identity-matrix", "--queue", QUEUE, *common],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    registered = image.rsplit(":", 1)[1]
    assert (
        f"warning: the registered definition runs identity-matrix:{registered}, this tree builds"
        in proc.stderr
    )
    assert "r2o deploy identity-matrix" in proc.stderr
    assert wait_for(proc.stdout.strip(), cwd=repo, env=env)["status"] == "SUCCEEDED"
