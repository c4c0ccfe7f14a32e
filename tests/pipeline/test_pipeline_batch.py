"""The Batch rendering of aqcast: array jobs, dependencies, and the exact AWS calls (botocore Stubber)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from r2o.images.plan import ImageGraph
from r2o.pipeline import batch, spec
from r2o.pipeline import plan as planning
from r2o.render.batch import BatchOptions, DataVolume
from r2o.repo import Repository
from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import r2o

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
QUEUE = "r2o-queue"


def _plan(days: int) -> batch.BatchPlan:
    repo = Repository(REPO_ROOT)
    graph = planning.make_graph(spec.load(repo, "aqcast"), dt.date(2024, 1, 1), days)
    images = ImageGraph.from_repo(repo)
    refs = {s.component.name: images.ref(s.component.name, REGISTRY) for s in graph.pipeline.steps.values()}
    options = BatchOptions(registry=REGISTRY, data=DataVolume(efs_file_system_id="fs-12345678"))
    return batch.make_plan(graph, refs, options)


def test_a_year_of_aqcast_is_seven_array_jobs() -> None:
    plan = _plan(365)
    calls = plan.submit_calls(QUEUE)
    assert len(calls) == 7 <= 10
    assert batch.validate_submit_calls(calls) == []
    by_name = {c["jobName"]: c for c in calls}
    assert by_name["aqcast-wrf"]["arrayProperties"] == {"size": 365}
    assert "dependsOn" not in by_name["aqcast-wrf"]
    assert by_name["aqcast-merge"]["dependsOn"] == [
        {"jobId": "${job:aqcast-biogenic}", "type": "N_TO_N"},
        {"jobId": "${job:aqcast-point}", "type": "N_TO_N"},
        {"jobId": "${job:aqcast-area}", "type": "N_TO_N"},
    ]
    assert by_name["aqcast-cmaq"]["dependsOn"] == [
        {"jobId": "${job:aqcast-wrf}", "type": "N_TO_N"},
        {"jobId": "${job:aqcast-merge}", "type": "N_TO_N"},
        {"type": "SEQUENTIAL"},  # the restart chain
    ]
    assert by_name["aqcast-compliance"]["dependsOn"] == [{"jobId": "${job:aqcast-cmaq}"}]  # fan-in
    assert "arrayProperties" not in by_name["aqcast-compliance"]
    command = by_name["aqcast-cmaq"]["containerOverrides"]["command"]
    assert command[:4] == ["sh", "-c", batch.LAUNCHER, "r2o-task"]
    assert command[4:6] == ["2024-01-01", "pipelines/aqcast/2024-01-01+365d"]
    assert command[12:15] == ["opt", "/data/input/CGRID.nc", "/data/lake/@RUN@/cmaq/@PREV@/CGRID.nc"]
    assert "@DAY@" in command  # --date, replaced per child by the launcher
    assert all(len(c.get("dependsOn", [])) <= 20 for c in calls)
    for definition in plan.definitions:
        container = definition.payload["containerProperties"]
        assert {"sourceVolume": "lake", "containerPath": "/data/lake", "readOnly": False} in container[
            "mountPoints"
        ]
        tmpfs = {t["containerPath"] for t in container["linuxParameters"]["tmpfs"]}
        assert {"/data/input", "/data/output"} <= tmpfs


def test_long_ranges_split_into_chunks() -> None:
    plan = _plan(25_000)
    sizes = [j.size for j in plan.jobs if j.step == "cmaq"]
    assert sizes == [10_000, 10_000, 5_000]
    cmaq_1 = next(j for j in plan.jobs if j.name == "aqcast-cmaq-1")
    assert ("aqcast-cmaq-0", None) in cmaq_1.depends_on and cmaq_1.sequential
    assert cmaq_1.first_day == batch.day_of("2024-01-01", 10_000)
    compliance = next(j for j in plan.jobs if j.step == "compliance")
    assert [n for n, _ in compliance.depends_on] == ["aqcast-cmaq-0", "aqcast-cmaq-1", "aqcast-cmaq-2"]
    assert batch.validate_submit_calls(plan.submit_calls(QUEUE)) == []


def test_submit_makes_exactly_these_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    plan = _plan(365)
    client = boto3.client("batch", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "describe_job_queues",
        {
            "jobQueues": [
                {
                    "jobQueueName": QUEUE,
                    "jobQueueArn": f"arn:aws:batch:us-east-1:1:job-queue/{QUEUE}",
                    "state": "ENABLED",
                    "priority": 1,
                    "computeEnvironmentOrder": [],
                }
            ]
        },
        {"jobQueues": [QUEUE]},
    )
    for definition in plan.definitions:
        stubber.add_response(
            "describe_job_definitions",
            {"jobDefinitions": []},
            {"jobDefinitionName": definition.name, "status": "ACTIVE"},
        )
        stubber.add_response(
            "register_job_definition",
            {
                "jobDefinitionName": definition.name,
                "revision": 1,
                "jobDefinitionArn": f"arn:aws:batch:us-east-1:1:job-definition/{definition.name}:1",
            },
            definition.payload,
        )
    ids = {job.name: f"id-{i}" for i, job in enumerate(plan.jobs)}
    for job in plan.jobs:
        expected: dict[str, Any] = job.to_api(QUEUE, ids)
        stubber.add_response("submit_job", {"jobName": job.name, "jobId": ids[job.name]}, expected)
    with stubber:
        submitted = batch.submit(client, plan, QUEUE)
    stubber.assert_no_pending_responses()
    assert [s["jobId"] for s in submitted] == list(ids.values())
    assert sum(1 for _ in plan.jobs) == 7


def test_the_aqcast_graph_for_two_days() -> None:
    repo = Repository(REPO_ROOT)
    graph = planning.make_graph(spec.load(repo, "aqcast"), dt.date(2024, 7, 15), 2)
    by_id = {t.id: t for t in graph.tasks}
    assert len(graph.tasks) == 6 * 2 + 1
    assert by_id["cmaq/2024-07-15"].deps == ("wrf/2024-07-15", "merge/2024-07-15")  # clean start
    assert by_id["cmaq/2024-07-16"].deps == ("wrf/2024-07-16", "merge/2024-07-16", "cmaq/2024-07-15")
    restart = next(i for i in by_id["cmaq/2024-07-16"].inputs if i.name == "restart")
    assert restart.sources[0].output == "cgrid"
    assert by_id["compliance"].deps == ("cmaq/2024-07-15", "cmaq/2024-07-16")
    assert by_id["wrf/2024-07-16"].inputs[0].sources[0].path == ".r2o/inputs/coarse/coarse_2024-07-16.nc"


def test_render_through_the_cli() -> None:
    args = [
        "pipeline",
        "render",
        "aqcast",
        "--backend",
        "batch",
        "--start",
        "2024-01-01",
        "--days",
        "365",
        "--registry",
        REGISTRY,
        "--efs-file-system-id",
        "fs-12345678",
        "--queue",
        QUEUE,
    ]
    proc = r2o(*args, "--json", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    rendered = json.loads(proc.stdout)
    assert len(rendered["submit_jobs"]) == 7
    assert [d["jobDefinitionName"] for d in rendered["register_job_definitions"]] == [
        "r2o-aqcast-wrf",
        "r2o-aqcast-emissions-biogenic",
        "r2o-aqcast-emissions-point",
        "r2o-aqcast-emissions-area",
        "r2o-aqcast-emissions-merge",
        "r2o-aqcast-cmaq",
        "r2o-aqcast-aq-compliance",
    ]
    proc = r2o(*args, cwd=REPO_ROOT)
    assert proc.returncode == 0 and "aqcast-cmaq" in proc.stdout and "SEQUENTIAL" in proc.stdout
    missing = r2o(
        "pipeline", "render", "aqcast", "--start", "2024-01-01", "--efs-file-system-id", "fs-1", cwd=REPO_ROOT
    )
    assert missing.returncode == 2 and "no image registry given" in missing.stderr
    bad = r2o("pipeline", "plan", "aqcast", "--start", "2024-13-01", cwd=REPO_ROOT)
    assert bad.returncode == 2 and "is not a date" in bad.stderr and "Traceback" not in bad.stderr
