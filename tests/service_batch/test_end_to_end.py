"""A 1-day AQcast on moto's Batch in the local Docker engine, in S3 data mode, start to map, through
the Lambda functions.

The job definitions are the real manifests' rendering in S3 mode (``plan_pipeline``), adapted only as
moto needs (tests/service_batch/motobatch.py), with the images ``r2o build`` made, tagged with their
rendered names. A user of moto's Cognito pool launches the run through ``handler.api`` (an API Gateway
payload 2.0 event; DynamoDB store, BatchExecutor built from the environment), which copies its inputs
to S3 and submits the array jobs; moto runs them (r2o-stage staging through moto's S3); the test
delivers to ``handler.batch_event`` the "Batch Job State Change" events AWS would send (moto emits
none), built from DescribeJobs as AWS documents them, except the ends of the cmaq jobs (lost), which
``handler.reconcile`` then finds. The map comes through the API's presigned redirect and is compared
byte for byte with the same day run locally by ``r2o pipeline run`` (an independent expectation).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.pipeline import batch as pipeline_batch
from r2o.render.batch import BatchOptions, DataVolume
from r2o.repo import Repository
from r2o.service import states
from r2o.service.aws import events, handler
from r2o.service.aws.batch import BatchExecutor
from tests.aws.conftest import ACCOUNT, REGION, aws_environment, create_queue
from tests.conftest import REPO_ROOT
from tests.service.lambda_client import LambdaClient, create_tables
from tests.service.test_auth import cognito, sign_in, user_pool
from tests.service_batch.motobatch import aws_dependencies, for_moto
from tests.services import free_port

pytestmark = [
    pytest.mark.docker,
    pytest.mark.integration,
    # moto in this process: its Batch job threads and its Docker-host probe (a subprocess it never waits
    # for) leave unclosed files and a running process behind; they are moto's, not r2o's
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
REGISTRY = "127.0.0.1:5999/r2o-moto"
DAY = "2024-07-15"
BUCKET = "r2o-results-e2e"
QUEUE = "r2o-e2e"
PREFIX = "r2o-"
COMPONENTS = (
    "wrf",
    "emissions-biogenic",
    "emissions-point",
    "emissions-area",
    "emissions-merge",
    "cmaq",
    "aq-compliance",
)
RUN_TIMEOUT_S = 1500


@pytest.fixture(scope="module")
def moto_here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in this process (its Batch taught AWS's dependency rules); its jobs' containers on the host
    network, so r2o-stage in them reaches its S3 on the loopback."""
    with pytest.MonkeyPatch.context() as env, aws_dependencies():
        for key in list(os.environ):
            if key.startswith(("AWS_", "R2O_")):
                env.delenv(key)
        for key, value in aws_environment(tmp_path_factory.mktemp("aws")).items():
            if key.startswith("AWS_"):
                env.setenv(key, value)
        env.setenv("MOTO_DOCKER_NETWORK_MODE", "host")
        port = free_port()
        server = ThreadedMotoServer("127.0.0.1", port, verbose=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def images(engine: Engine) -> Iterator[dict[str, str]]:
    """The AQcast images (built when missing), tagged with the names the definitions give them."""
    graph = ImageGraph.from_repo(Repository(REPO_ROOT))
    if not all(engine.has_local(graph.ref(c)) for c in COMPONENTS):
        proc = subprocess.run(
            [*R2O, "build", *COMPONENTS], cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    refs = {c: graph.ref(c, REGISTRY) for c in COMPONENTS}
    for c, ref in refs.items():
        engine.tag(graph.ref(c), ref)
    try:
        yield refs
    finally:
        for ref in refs.values():
            engine.remove(ref)


def local_map() -> bytes:
    """The same day's map from the local executor (r2o pipeline run, the same images)."""
    proc = subprocess.run(
        [*R2O, "pipeline", "run", "aqcast", "--start", DAY, "--days", "1", "--prepare-inputs", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return (Path(report["run_dir"]) / "compliance" / "mda8_max.png").read_bytes()


def deliver_events(executor: BatchExecutor, run_id: str, seen: dict[str, str]) -> bool:
    """What EventBridge would deliver since the last call: one event per job whose status changed,
    except the end of every cmaq job (lost: the reconciler must find it). Whether every job ended."""
    ids = [t.job_id for t in executor.store.tasks(run_id) if t.job_id]
    parents = sorted({i.split(":")[0] for i in ids if ":" in i})
    jobs = []
    for i in range(0, len(ids) + len(parents), 100):
        jobs += executor.batch.describe_jobs(jobs=[*ids, *parents][i : i + 100])["jobs"]
    for job in jobs:
        if seen.get(job["jobId"]) != job["status"]:
            seen[job["jobId"]] = job["status"]
            if job["jobName"].endswith("-cmaq") and job["status"] in ("SUCCEEDED", "FAILED"):
                continue  # lost
            event = events.event_for(job, region=REGION, account=ACCOUNT)
            assert event["detail"]["jobId"] == job["jobId"]
            handler.batch_event(event, None)  # the events function, as EventBridge invokes it
    return all(j["status"] in ("SUCCEEDED", "FAILED") for j in jobs if j["jobId"] in ids)


def handler_caches() -> None:
    """A new Lambda container: nothing cached from the last one."""
    for cache in (
        handler.config,
        handler._api_handler,
        handler.repository,
        handler.catalog,
        handler.executor,
    ):
        cache.cache_clear()


def test_a_one_day_aqcast_on_moto_batch_with_s3_staging(
    moto_here: str, images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = moto_here
    repo = Repository(REPO_ROOT)
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    batch = boto3.client("batch", endpoint_url=url, region_name=REGION)
    create_queue(url, QUEUE)
    # the job definitions r2o deploy would register in S3 mode, as moto can run them
    options = BatchOptions(registry=REGISTRY, data=DataVolume(s3_bucket=BUCKET), name_prefix=PREFIX)
    plan = pipeline_batch.plan_pipeline(repo, "aqcast", dt.date.fromisoformat(DAY), 1, options)
    job_env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    for definition in plan.definitions:
        assert definition.payload["containerProperties"]["image"] == images[definition.component]
        batch.register_job_definition(**for_moto(definition.payload, job_env))

    # the Lambda functions' environment, as the stack sets it; a user of the stack's Cognito pool
    idp = cognito(url)
    pool, app = user_pool(idp, "r2o-e2e-users", {"carol": []})
    tables = create_tables(url, "r2o-e2e")
    env = {
        "AWS_ENDPOINT_URL": url,
        "R2O_RUNS_TABLE": tables["runs"],
        "R2O_TASKS_TABLE": tables["tasks"],
        "R2O_UPLOADS_TABLE": tables["uploads"],
        "R2O_RESULTS_BUCKET": BUCKET,
        "R2O_JOB_QUEUE": QUEUE,
        "R2O_DEFINITION_PREFIX": PREFIX,
        "R2O_REPO": str(REPO_ROOT),
        "R2O_RESULTS_EXPIRY_DAYS": "1",
        "R2O_OIDC_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{pool}",
        "R2O_OIDC_AUDIENCE": app,
        "R2O_OIDC_JWKS_URL": f"{url}/{pool}/.well-known/jwks.json",  # moto serves the keys here
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler_caches()
    token = {"Authorization": f"Bearer {sign_in(idp, app, 'carol')['access']}"}
    try:
        with LambdaClient(handler.api) as client:
            launched = client.post(
                "/api/v1/runs",
                json={"product": "aqcast", "parameters": {"start": DAY, "days": 1}},
                headers=token,
            )
            assert launched.status_code == 201, launched.text
            run_id = launched.json()["id"]
            executor = handler.executor()
            store = executor.store
            submitted = store.run(run_id)
            assert submitted is not None and submitted.state == states.RUNNING, submitted

            seen: dict[str, str] = {}
            deadline = time.monotonic() + RUN_TIMEOUT_S
            ended = False
            while time.monotonic() < deadline and not ended:
                ended = deliver_events(executor, run_id, seen)
                time.sleep(2)
            current = store.run(run_id)
            assert current is not None and ended
            tasks = {t.task_id: (t.state, t.reason) for t in store.tasks(run_id)}
            # the events of cmaq's ends were lost: the run waits on them until the reconciler passes
            assert current.state == states.RUNNING, (current.reason, tasks)
            waiting = {t for t, (state, _) in tasks.items() if state == states.RUNNING}
            assert waiting == {"cmaq/2024-07-15", "cmaq/2024-07-16"}
            assert handler.reconcile({"source": "aws.events", "detail-type": "Scheduled Event"}, None)[
                "ended"
            ] == [run_id]
            shown = client.get(f"/api/v1/runs/{run_id}", headers=token).json()
            tasks = {t.task_id: (t.state, t.reason) for t in store.tasks(run_id)}
            assert shown["state"] == states.COMPLETE, (shown, tasks)
            assert shown["reason"] == "13 task(s) done"  # 6 steps x 2 days (the look-ahead day) + compliance
            assert handler.reconcile({}, None)["ended"] == []  # nothing left for the reconciler

            # every task folder holds its provenance, written last, listing its outputs' sha256
            listed = {
                o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{run_id}/")["Contents"]
            }
            for task_id in tasks:
                assert f"runs/{run_id}/{task_id}/provenance.json" in listed, task_id
            # the map through the API: a redirect to a presigned URL
            answer = client.get(
                f"/api/v1/runs/{run_id}/outputs/compliance/mda8_max.png",
                headers=token,
                follow_redirects=False,
            )
            assert answer.status_code == 307, answer.text
            with urllib.request.urlopen(answer.headers["location"], timeout=30) as got:
                downloaded = got.read()
            assert downloaded[:8] == b"\x89PNG\r\n\x1a\n"
            assert downloaded == local_map()
            # a task's log, from CloudWatch Logs through the API
            log = client.get(f"/api/v1/runs/{run_id}/tasks/compliance/logs", headers=token)
            assert log.status_code == 200, log.text
            assert "r2o-stage: done" in log.json()["text"]
    finally:
        handler_caches()
