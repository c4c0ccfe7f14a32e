"""The Batch rendering of aqcast: array jobs, dependencies, and the exact AWS calls (botocore Stubber)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from r2o.errors import UsageError
from r2o.images.plan import ImageGraph
from r2o.pipeline import batch, spec
from r2o.pipeline import plan as planning
from r2o.render.batch import BatchOptions, DataVolume
from r2o.repo import Repository
from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import r2o

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
QUEUE = "r2o-queue"


def _plan(days: int, *, lookahead: int | None = None) -> batch.BatchPlan:
    """AQcast over ``days`` reported days (it simulates one more: its look-ahead day), or with
    ``lookahead`` days instead."""
    repo = Repository(REPO_ROOT)
    pipeline = spec.load(repo, "aqcast")
    if lookahead is not None:
        pipeline = dataclasses.replace(pipeline, lookahead_days=lookahead)
    graph = planning.make_graph(pipeline, dt.date(2024, 1, 1), days)
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
    assert by_name["aqcast-wrf"]["arrayProperties"] == {"size": 366}  # 365 days and the look-ahead day
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
    assert sizes == [10_000, 10_000, 5_001]
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
    assert len(graph.tasks) == 6 * 3 + 1  # two reported days and the look-ahead day, then compliance
    assert graph.end == dt.date(2024, 7, 16) and graph.dates[-1] == "2024-07-17"
    assert by_id["cmaq/2024-07-15"].deps == ("wrf/2024-07-15", "merge/2024-07-15")  # clean start
    assert by_id["cmaq/2024-07-16"].deps == ("wrf/2024-07-16", "merge/2024-07-16", "cmaq/2024-07-15")
    restart = next(i for i in by_id["cmaq/2024-07-16"].inputs if i.name == "restart")
    assert restart.sources[0].output == "cgrid"
    assert by_id["compliance"].deps == ("cmaq/2024-07-15", "cmaq/2024-07-16", "cmaq/2024-07-17")
    assert by_id["compliance"].parameters["lookahead_days"] == "1"  # ${lookahead}
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


# --- the jobs group the task graph's tasks; their waits come from the tasks' deps -------------------

SHIFTED = """apiVersion: r2o/v1
kind: Pipeline
name: shifted
description: acc reads gen's value of its own day and of the day before.
steps:
  gen: {component: gen, foreach: day, parameters: {date: "${day}"}}
  acc:
    component: acc
    foreach: day
    inputs: {value: {step: gen, output: value}, prev: {step: gen, output: value, day: previous}}
"""


def _fixture_plan(
    repo: Path, name: str, days: int, graph: planning.TaskGraph | None = None
) -> batch.BatchPlan:
    graph = graph or planning.make_graph(spec.load(Repository(repo), name), dt.date(2024, 1, 1), days)
    refs = {s.component.name: f"{REGISTRY}/{s.component.name}:1" for s in graph.pipeline.steps.values()}
    return batch.make_plan(graph, refs, BatchOptions(registry=REGISTRY, data=DataVolume(host_path="/lake")))


def test_a_one_day_aqcast_is_two_day_arrays() -> None:
    calls = _plan(1).submit_calls(QUEUE)  # the reported day and its look-ahead day
    assert {c["arrayProperties"]["size"] for c in calls if "arrayProperties" in c} == {2}


def test_one_day_is_plain_jobs() -> None:
    calls = _plan(1, lookahead=0).submit_calls(QUEUE)
    assert len(calls) == 7 and not [c for c in calls if "arrayProperties" in c]
    assert {d.get("type") for c in calls for d in c.get("dependsOn", [])} == {None}
    by_name = {c["jobName"]: c for c in calls}
    assert by_name["aqcast-cmaq"]["dependsOn"] == [
        {"jobId": "${job:aqcast-wrf}"},
        {"jobId": "${job:aqcast-merge}"},
    ]
    assert batch.validate_submit_calls(calls) == []


def test_another_steps_previous_day_is_a_plain_wait_across_chunks(pipe_repo: Path) -> None:
    """Child i of acc waits for children i and i - 1 of gen: not N_TO_N, so a plain wait for the whole
    gen job; the first child of acc's second chunk also waits for the last child of gen's first."""
    (pipe_repo / "pipelines" / "shifted.yaml").write_text(SHIFTED)
    plan = _fixture_plan(pipe_repo, "shifted", 10_002)
    assert [(j.name, j.size, j.depends_on, j.sequential) for j in plan.jobs] == [
        ("shifted-gen-0", 10_000, (), False),
        ("shifted-gen-1", 2, (), False),
        ("shifted-acc-0", 10_000, (("shifted-gen-0", None),), False),
        ("shifted-acc-1", 2, (("shifted-gen-1", None), ("shifted-gen-0", None)), False),
    ]
    assert batch.validate_submit_calls(plan.submit_calls(QUEUE)) == []


def test_a_wait_batch_cannot_express_is_refused(pipe_repo: Path) -> None:
    graph = planning.make_graph(spec.load(Repository(pipe_repo), "chain"), dt.date(2024, 1, 1), 3)
    tasks = tuple(
        dataclasses.replace(t, deps=(*t.deps, "acc/2024-01-01")) if t.id == "acc/2024-01-03" else t
        for t in graph.tasks
    )
    with pytest.raises(UsageError) as caught:
        _fixture_plan(pipe_repo, "chain", 3, dataclasses.replace(graph, tasks=tasks))
    assert "task acc/2024-01-03 waits for acc/2024-01-01 of the same array job" in caught.value.message
    assert "chain.yaml" in caught.value.message and "r2o pipeline run chain" in caught.value.hint


def test_more_than_twenty_waits_are_refused(pipe_repo: Path) -> None:
    step = '  g{}: {{component: gen, foreach: day, parameters: {{date: "${{day}}"}}}}\n'
    steps = "".join(step.format(i) for i in range(21))
    (pipe_repo / "pipelines" / "wide.yaml").write_text(
        "apiVersion: r2o/v1\nkind: Pipeline\nname: wide\ndescription: 21 producers.\nsteps:\n"
        + steps
        + "  report: {component: gather, inputs: {days: {step: g0, output: value, collect: all}}}\n"
    )
    graph = planning.make_graph(spec.load(Repository(pipe_repo), "wide"), dt.date(2024, 1, 1), 2)
    everything = tuple(t.id for t in graph.tasks if t.step != "report")
    tasks = tuple(dataclasses.replace(t, deps=everything) if t.step == "report" else t for t in graph.tasks)
    assert len(_fixture_plan(pipe_repo, "wide", 2).jobs) == 22  # the real graph waits for g0 only
    with pytest.raises(UsageError) as caught:
        _fixture_plan(pipe_repo, "wide", 2, dataclasses.replace(graph, tasks=tasks))
    assert caught.value.message == "job wide-report would need 21 dependencies; AWS Batch allows 20"


def _tampered(task: planning.Task) -> planning.Task:
    if task.id == "gen/2024-01-02":  # a date that is not the task's day
        return dataclasses.replace(task, parameters={**task.parameters, "date": "2024-12-31"})
    if task.id == "acc/2024-01-03":  # the value of another day
        value = planning.TaskInput("value", (planning.Source(task="gen/2024-01-01", output="value"),))
        return dataclasses.replace(task, inputs=(value, *task.inputs[1:]))
    return task


@pytest.mark.parametrize(
    "expected",
    [
        "task gen/2024-01-02 is not the task: parameter date '2024-01-02' instead of '2024-12-31'",
        "task acc/2024-01-03 is not the task: input value from /data/lake/@RUN@/gen/2024-01-03/value.txt",
    ],
)
def test_a_command_that_would_not_run_a_childs_task_is_caught(pipe_repo: Path, expected: str) -> None:
    """The one command of an array job is checked against each child's task (the graph is tampered
    with here; r2o's own graphs always pass)."""
    graph = planning.make_graph(spec.load(Repository(pipe_repo), "chain"), dt.date(2024, 1, 1), 3)
    step = expected.split()[1].split("/")[0]
    tasks = tuple(_tampered(t) if t.step == step else t for t in graph.tasks)
    with pytest.raises(AssertionError) as caught:
        _fixture_plan(pipe_repo, "chain", 3, dataclasses.replace(graph, tasks=tasks))
    assert expected in str(caught.value)
