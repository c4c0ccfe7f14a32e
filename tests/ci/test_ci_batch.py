"""`r2o ci start-batch`: the planned builds as one CodeBuild batch build, checked before it is sent.

The request is validated here by botocore itself (its ParamValidator against CodeBuild's service
model, and a real boto3 client talking to a stand-in CodeBuild), and the override buildspec by the
structural check ``r2o render codebuild --check`` applies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from r2o.ci import batch, buildspec
from r2o.ci.plan import PlanFile
from r2o.render.codebuild import BatchBuild
from tests.changes.conftest import write, write_monorepo
from tests.ci.fakes import FakeCodeBuild, FakeRegistry, fake_codebuild, fake_registry
from tests.conftest import make_git_repo
from tests.test_cli import R2O, assert_clean_error, r2o

COMMIT = "0123456789abcdef0123456789abcdef01234567"
BUILDS = (
    BatchBuild("b01_root", ("root", "mid", "side"), (), 26.0),
    BatchBuild("b02_alpha", ("alpha",), ("b01_root",), 5.5),
    BatchBuild("b03_beta", ("beta", "gamma"), ("b01_root",), 8.5),
)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,127}$")  # CodeBuild's build-graph identifiers


def plan_file(
    tmp_path: Path,
    builds: tuple[BatchBuild, ...] = BUILDS,
    commit: str = COMMIT,
    registry: str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
) -> Path:
    data = {
        "registry": registry,
        "commit": commit,
        "builds": [
            {"identifier": b.identifier, "images": list(b.images), "depend-on": list(b.depend_on)}
            for b in builds
        ],
        "skipped": 0,
    }
    return write(tmp_path / "plan.json", json.dumps(data))


def request(tmp_path: Path) -> dict[str, Any]:
    plan = PlanFile.load(plan_file(tmp_path))
    return batch.start_request(
        plan,
        project="r2o-build",
        buildspec_text=batch.override(plan),
        variables={"R2O_BASE": "HEAD~1", "R2O_HEAD": COMMIT},
        token_seed="r2o-build:1234",
    )


def botocore_errors(params: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("codebuild")
    report = ParamValidator().validate(params, model.operation_model("StartBuildBatch").input_shape)
    return report.generate_report() if report.has_errors() else ""


def test_the_request_passes_botocores_validation(tmp_path: Path) -> None:
    params = request(tmp_path)
    assert botocore_errors(params) == ""
    assert batch.request_problems(params) == []
    assert params["projectName"] == "r2o-build" and params["sourceVersion"] == COMMIT
    assert params["environmentVariablesOverride"] == [
        {"name": "R2O_BASE", "value": "HEAD~1", "type": "PLAINTEXT"},
        {"name": "R2O_HEAD", "value": COMMIT, "type": "PLAINTEXT"},
    ]
    # The same plan started twice (a retried call) carries the same idempotency token.
    assert request(tmp_path)["idempotencyToken"] == params["idempotencyToken"]


@pytest.mark.parametrize(
    ("minutes", "timeout"),
    [((), 60), ((3.0, 10.0), 60), ((45.0, 160.4, 2.0), 321), ((900.0,), 480)],
)
def test_each_planned_build_may_run_twice_its_estimate(
    tmp_path: Path, minutes: tuple[float, ...], timeout: int
) -> None:
    builds = tuple(BatchBuild(f"b{i}", ("alpha",), (), m) for i, m in enumerate(minutes))
    data = json.loads(plan_file(tmp_path, builds=builds).read_text())
    for raw, m in zip(data["builds"], minutes, strict=True):
        raw["minutes"] = m
    plan = PlanFile.load(write(tmp_path / "timed.json", json.dumps(data)))
    assert batch.build_timeout(plan) == timeout


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ({"projectName": ""}, "projectName"),
        ({"buildTimeoutInMinutesOverride": "120"}, "buildTimeoutInMinutesOverride"),
        ({"environmentVariablesOverride": [{"name": "X"}]}, "value"),
        ({"buildTimeoutInMinutesOverride": 5000}, "above the maximum"),
        ({"buildspecOverride": "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n"}, "build-graph"),
        ({"buildspecOverride": "version: 0.2\nbatch: {build-graph: [{identifier: a-b}]}\n"}, "identifier"),
    ],
)
def test_a_broken_request_is_refused_before_it_is_sent(
    tmp_path: Path, change: dict[str, Any], found: str
) -> None:
    params = {**request(tmp_path), **change}
    problems = batch.request_problems(params)
    assert problems and found in " ".join(f"{p.field} {p.message}" for p in problems), problems


def test_the_override_passes_the_buildspec_check(tmp_path: Path) -> None:
    text = request(tmp_path)["buildspecOverride"]
    spec = buildspec.check_text(text, tmp_path / "override.yml")  # what `r2o render codebuild --check` runs
    assert spec.batch_kind == "build-graph"
    assert [(n.identifier, n.depend_on) for n in spec.nodes] == [(b.identifier, b.depend_on) for b in BUILDS]
    assert [n.variables["R2O_IMAGES"].split() for n in spec.nodes] == [list(b.images) for b in BUILDS]
    assert all(IDENTIFIER.match(n.identifier) for n in spec.nodes)
    assert [p.name for p in spec.phases] == ["install", "pre_build", "build"]
    build = spec.phase("build")
    assert build is not None and any(c.startswith("r2o ci build-images $R2O_IMAGES") for c in build.commands)
    assert spec.reports["r2o-golden"]["file-format"] == "JUNITXML"
    assert COMMIT in text


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("not json", "not a plan file r2o can read"),
        ("[]", "expected a JSON object"),
        ('{"commit": "abc", "registry": "r"}', "'builds' is missing"),
        (
            '{"commit": "abc", "registry": "r", "builds": [{"identifier": "b", "images": []}]}',
            "builds[0].images",
        ),
    ],
)
def test_a_bad_plan_file_is_a_clean_error(tmp_path: Path, content: str, needle: str) -> None:
    path = write(tmp_path / "plan.json", content)
    proc = r2o("ci", "start-batch", str(path), "--dry-run", cwd=make_git_repo(write_monorepo(tmp_path / "m")))
    assert_clean_error(proc, 3, "plan.json", needle)


def test_a_missing_plan_file(tmp_path: Path) -> None:
    mono = make_git_repo(write_monorepo(tmp_path / "m"))
    assert_clean_error(r2o("ci", "start-batch", "nowhere.json", cwd=mono), 3, "no such plan file")


# --- against a stand-in CodeBuild, through the real entry point --------------------------------------------


def start_batch(
    mono: Path, plan: Path, codebuild: FakeCodeBuild, *extra: str, build_id: str = "r2o-build:77"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "R2O_BASE": "HEAD~1",
        "CODEBUILD_BUILD_ID": build_id,
    }
    env.pop("R2O_BATCH_RUNNER", None)
    args = [*R2O, "ci", "start-batch", str(plan), "--endpoint-url", codebuild.url, "--poll", "1", *extra]
    return subprocess.run(args, cwd=mono, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    return make_git_repo(write_monorepo(tmp_path / "mono"))


def test_a_succeeding_batch_succeeds(mono: Path, tmp_path: Path) -> None:
    with fake_codebuild(FakeCodeBuild(groups={b.identifier: "SUCCEEDED" for b in BUILDS})) as cb:
        proc = start_batch(mono, plan_file(tmp_path), cb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    actions = [a for a, _ in cb.calls]
    assert actions == ["StartBuildBatch", "BatchGetBuildBatches", "BatchGetBuildBatches"]
    sent = cb.calls[0][1]
    assert sent["projectName"] == "r2o-build" and sent["sourceVersion"] == COMMIT
    assert botocore_errors(sent) == ""
    spec = buildspec.check_text(sent["buildspecOverride"], tmp_path / "sent.yml")
    assert [n.identifier for n in spec.nodes] == [b.identifier for b in BUILDS]
    assert "batch build r2o-build:batch-1 succeeded" in proc.stdout


def test_a_failed_planned_build_fails_the_commit(mono: Path, tmp_path: Path) -> None:
    groups = {"b01_root": "SUCCEEDED", "b02_alpha": "FAILED", "b03_beta": "SUCCEEDED"}
    with fake_codebuild(FakeCodeBuild(final="FAILED", groups=groups)) as cb:
        proc = start_batch(mono, plan_file(tmp_path), cb)
    assert_clean_error(proc, 1, "batch build r2o-build:batch-1 ended FAILED", "not succeeded: b02_alpha")
    assert "b02_alpha: FAILED" in proc.stdout


def test_an_empty_plan_starts_nothing(mono: Path, tmp_path: Path) -> None:
    with fake_codebuild(FakeCodeBuild()) as cb:
        proc = start_batch(mono, plan_file(tmp_path, builds=()), cb)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to build" in proc.stdout and cb.calls == []


def test_dry_run_prints_the_checked_request(mono: Path, tmp_path: Path) -> None:
    with fake_codebuild(FakeCodeBuild()) as cb:
        proc = start_batch(mono, plan_file(tmp_path), cb, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert cb.calls == []
    printed = json.loads(proc.stdout)
    assert botocore_errors(printed) == "" and printed["projectName"] == "r2o-build"


def test_outside_codebuild_there_is_no_project(mono: Path, tmp_path: Path) -> None:
    with fake_codebuild(FakeCodeBuild()) as cb:
        proc = start_batch(mono, plan_file(tmp_path), cb, build_id="")
    assert_clean_error(proc, 2, "CODEBUILD_BUILD_ID is not set", "--project")
    assert cb.calls == []


def test_a_plan_without_a_commit_is_not_started(mono: Path, tmp_path: Path) -> None:
    with fake_codebuild(FakeCodeBuild()) as cb:
        proc = start_batch(mono, plan_file(tmp_path, commit="unknown"), cb)
    assert_clean_error(proc, 3, "the plan names no commit")
    assert cb.calls == []


def test_codebuild_refusing_the_call_is_an_aws_error(mono: Path, tmp_path: Path) -> None:
    # Nothing listens there: the client's connection fails, r2o says so and exits 12.
    with fake_codebuild(FakeCodeBuild()) as cb:
        url = cb.url
    gone = FakeCodeBuild(url=url)
    env_plan = plan_file(tmp_path)
    proc = start_batch(mono, env_plan, gone)
    assert_clean_error(proc, 12, "starting the batch build")


# --- both stages here, without Docker --------------------------------------------------------------------


def local_mono(tmp_path: Path) -> Path:
    root = write_monorepo(tmp_path / "mono")
    write(root / "ci" / "engine.sh", "exit 0\n")  # the fixture needs no engine: nothing is built
    assert r2o("render", "codebuild", cwd=root).returncode == 0
    return make_git_repo(root)


def test_run_buildspec_runs_the_planner_and_starts_nothing_when_all_is_built(tmp_path: Path) -> None:
    from r2o.images.plan import ImageGraph
    from r2o.repo import Repository

    root = local_mono(tmp_path)
    graph = ImageGraph.from_repo(Repository(root))
    held = {(n.repository, n.tag_only) for n in graph.nodes.values()}
    with fake_registry(FakeRegistry(held)) as reg:
        proc = r2o("ci", "run-buildspec", "--registry", reg.address, "--base", "HEAD", cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "[build] nothing to build: all 6 images are in the registry" in proc.stdout
    assert "[build] nothing to build: every image is in" in proc.stdout
    assert re.search(r"^succeeded\s+build\b", proc.stderr, re.MULTILINE), proc.stderr
    assert "1 of 1 builds succeeded" in proc.stderr


def test_run_buildspec_fails_when_the_planner_cannot_ask_the_registry(tmp_path: Path) -> None:
    root = local_mono(tmp_path)
    with fake_registry(FakeRegistry(status=503)) as reg:
        proc = r2o("ci", "run-buildspec", "--registry", reg.address, cwd=root)
    assert proc.returncode == 1
    assert "answered 503" in proc.stdout and "plans and starts nothing" in proc.stdout
    assert re.search(r"^failed\s+build\b", proc.stderr, re.MULTILINE), proc.stderr
    assert not (root / ".r2o" / "plan.json").exists()


def test_the_local_second_stage_fails_when_a_planned_build_fails(tmp_path: Path) -> None:
    # A planned build whose command fails (an image the tree does not have, refused before any
    # engine is needed): the batch fails, and so does start-batch, so the planner's build fails.
    root = local_mono(tmp_path)
    builds = (BatchBuild("b01_alpha", ("alpha",)), BatchBuild("b02_nosuch", ("nosuch",), ("b01_alpha",)))
    with fake_registry(FakeRegistry(status=200)) as reg:  # alpha is "up to date": nothing built
        plan = plan_file(tmp_path, builds=builds, registry=reg.address)
        env = {**os.environ, "R2O_REGISTRY": reg.address, "R2O_BASE": "HEAD", "R2O_HEAD": "HEAD"}
        proc = subprocess.run(
            [*R2O, "ci", "start-batch", str(plan), "--runner", "local", "--jobs", "2"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr
    assert re.search(r"^batch: succeeded\s+b01_alpha", proc.stdout, re.MULTILINE), proc.stdout[-3000:]
    assert re.search(r"^batch: failed\s+b02_nosuch", proc.stdout, re.MULTILINE), proc.stdout[-3000:]
    assert "batch FAILED: 1 of 2 builds succeeded" in proc.stdout


class Interrupted:
    """A CodeBuild API whose wait is interrupted (Ctrl-C, or CodeBuild stopping the planner)."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def start_build_batch(self, **kwargs: Any) -> dict[str, Any]:
        return {"buildBatch": {"id": "p:b-9"}}

    def batch_get_build_batches(self, *, ids: list[str]) -> dict[str, Any]:
        raise KeyboardInterrupt

    def stop_build_batch(self, *, id: str) -> dict[str, Any]:
        self.stopped.append(id)
        return {}


def test_a_stopped_planner_stops_its_batch(tmp_path: Path) -> None:
    api = Interrupted()
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        batch.run_on_codebuild(api, request(tmp_path), say=lines.append, sleep=lambda s: None)
    assert api.stopped == ["p:b-9"]
    assert "stopped batch build p:b-9" in lines


def test_build_images_refuses_an_unknown_image_before_building(mono: Path) -> None:
    proc = r2o("ci", "build-images", "alpha", "nosuch", "--registry", "127.0.0.1:9", cwd=mono)
    assert_clean_error(proc, 4, "nosuch")


def test_build_images_needs_a_registry(mono: Path) -> None:
    env_free = {k: v for k, v in os.environ.items() if k != "R2O_REGISTRY"}
    proc = subprocess.run(
        [*R2O, "ci", "build-images", "alpha"],
        cwd=mono,
        env=env_free,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_clean_error(proc, 2, "needs a registry", "--registry")
