"""Start a commit's planned builds as one CodeBuild batch build and wait for it (``r2o ci start-batch``).

Why StartBuildBatch with a buildspec override. The planner is a build of the project that runs
``buildspec.yml``; it calls StartBuildBatch on that same project with ``buildspecOverride``: an
inline build-graph buildspec naming exactly the planned builds (:func:`r2o.render.codebuild.render_batch`),
``sourceVersion`` the commit it planned, and R2O_BASE/R2O_HEAD as environment overrides. The
alternatives, and why not:

- one StartBuild per planned build, ordered by the planner itself: r2o would re-implement
  ``depend-on``, failure propagation and the batch view CodeBuild already has, and the project's
  batch restrictions (how many builds, which compute types) would not bound what a build can start;
- the committed static build-graph (``r2o render codebuild --style graph``): one build per image
  on every commit, the cost this module removes;
- a build-matrix or build-fanout: no ordering between builds (base images first), and a matrix
  is written in the committed file, so it cannot follow the commit;
- CodePipeline or Step Functions around CodeBuild: more infrastructure to deploy and pay for, for
  an order a batch build-graph expresses.

A batch build runs under the project's batch service role (BuildBatchConfig.ServiceRole), which
alone may StartBuild, StopBuild and RetryBuild, and within the project's batch restrictions, so a
planner can start no more builds, and no larger compute types, than the project allows. The
planner's own role needs StartBuildBatch, BatchGetBuildBatches (to wait) and StopBuildBatch (to
stop the batch when the planner itself is stopped), on this project only.

The request is checked before it is sent: botocore's ParamValidator against CodeBuild's own service
model (what boto3 would refuse), the model's enums and length limits, and the override buildspec
through the same structural check as ``r2o render codebuild --check`` (:mod:`r2o.ci.buildspec`).
Locally (``r2o ci run-buildspec``) the same override buildspec runs through the local runner.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, cast

from r2o.aws.session import AwsTarget, aws_errors
from r2o.ci import buildspec, local
from r2o.ci.plan import PlanFile
from r2o.errors import AwsError, InputError, ManifestError, Problem, UsageError
from r2o.render import codebuild

SUCCEEDED = "SUCCEEDED"
IN_PROGRESS = "IN_PROGRESS"
PASSED_VARIABLES = ("R2O_BASE", "R2O_HEAD")  # what the planner's pre_build worked out, for the builds
POLL_SECONDS = 30.0
OVERRIDE_NAME = "buildspecOverride"

Say = Callable[[str], None]


class CodeBuildApi(Protocol):
    """The three CodeBuild calls the planner makes (a boto3 client, or a stand-in in tests)."""

    def start_build_batch(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def batch_get_build_batches(self, *, ids: list[str]) -> Mapping[str, Any]: ...

    def stop_build_batch(self, *, id: str) -> Mapping[str, Any]: ...


def codebuild_client(endpoint_url: str | None = None, region: str | None = None) -> CodeBuildApi:
    import boto3
    from botocore.config import Config

    target = AwsTarget.from_env(endpoint_url, region)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": target.max_attempts},
        connect_timeout=10,
        read_timeout=60,
    )
    with aws_errors("creating the CodeBuild client"):
        session = boto3.session.Session(region_name=target.region or None)
        client = session.client("codebuild", endpoint_url=target.endpoint_url, config=config)
    return cast(CodeBuildApi, client)


# --- the request -------------------------------------------------------------------------------------


def project_from_env(env: Mapping[str, str]) -> str:
    """The project running this build: CODEBUILD_BUILD_ID is ``<project>:<uuid>``."""
    build_id = env.get("CODEBUILD_BUILD_ID", "")
    project = build_id.split(":", 1)[0] if ":" in build_id else ""
    if not project:
        raise UsageError(
            "no CodeBuild project to start the batch in: CODEBUILD_BUILD_ID is not set",
            hint="run this inside a CodeBuild build, or pass --project NAME "
            "(or --runner local to run the planned builds here)",
        )
    return project


def override(plan: PlanFile) -> str:
    """The build-graph buildspec of ``plan``'s builds (StartBuildBatch's buildspec override)."""
    return codebuild.render_batch(plan.builds, commit=plan.commit)


def start_request(
    plan: PlanFile,
    *,
    project: str,
    buildspec_text: str,
    variables: Mapping[str, str],
    token_seed: str = "",
) -> dict[str, Any]:
    """The StartBuildBatch parameters that start ``plan``'s builds for its commit."""
    token = hashlib.sha256(f"{token_seed}\0{plan.commit}\0{buildspec_text}".encode()).hexdigest()[:32]
    request: dict[str, Any] = {
        "projectName": project,
        "sourceVersion": plan.commit,
        OVERRIDE_NAME: buildspec_text,
        "buildTimeoutInMinutesOverride": build_timeout(plan),
        # Starting twice (a retried call) within five minutes gives the same batch.
        "idempotencyToken": token,
    }
    passed = [
        {"name": k, "value": variables[k], "type": "PLAINTEXT"} for k in PASSED_VARIABLES if k in variables
    ]
    if passed:
        request["environmentVariablesOverride"] = passed
    return request


def build_timeout(plan: PlanFile) -> int:
    """Minutes each planned build may run: twice the longest estimate, within the project's bounds."""
    low, high = codebuild.PLANNED_BUILD_MINUTES
    longest = max((b.minutes for b in plan.builds), default=0.0)
    return int(min(high, max(low, math.ceil(2 * longest))))


@cache
def _operation(name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("codebuild").operation_model(name)


def _limits(value: Any, shape: Any, path: str) -> Iterable[tuple[str, str]]:
    """The model's enums and lengths (botocore's validator checks minimums, not these)."""
    enum = getattr(shape, "enum", None) or []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if shape.type_name == "string" and isinstance(value, str):
        if enum and value not in enum:
            yield path, f"'{value}' is not one of {', '.join(enum)}"
        if high is not None and len(value) > high:
            yield path, f"is {len(value)} characters long; the limit is {high}"
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if high is not None and value > high:
            yield path, f"{value} is above the maximum {high}"
        if low is not None and value < low:
            yield path, f"{value} is below the minimum {low}"
    elif shape.type_name == "structure" and isinstance(value, Mapping):
        for key, member in shape.members.items():
            if key in value:
                yield from _limits(value[key], member, f"{path}.{key}" if path else key)
    elif shape.type_name == "list" and isinstance(value, list):
        if high is not None and len(value) > high:
            yield path, f"has {len(value)} entries; the limit is {high}"
        for i, item in enumerate(value):
            yield from _limits(item, shape.member, f"{path}[{i}]")


def request_problems(request: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with a StartBuildBatch request, before it is sent."""
    from botocore.validate import ParamValidator

    source = "StartBuildBatch request"
    shape = _operation("StartBuildBatch").input_shape
    out: list[Problem] = []
    report = ParamValidator().validate(dict(request), shape)
    if report.has_errors():
        out.extend(
            Problem(source, "", f"botocore: {line.strip()}") for line in report.generate_report().splitlines()
        )
    out.extend(Problem(source, at, message) for at, message in _limits(request, shape, ""))
    text = request.get(OVERRIDE_NAME)
    if isinstance(text, str):
        try:
            spec = buildspec.check_text(text, Path(OVERRIDE_NAME))
        except ManifestError as exc:
            out.extend(exc.problems)
        else:
            if spec.batch_kind != "build-graph":
                out.append(Problem(source, OVERRIDE_NAME, "the override must be a batch build-graph"))
    else:
        out.append(Problem(source, OVERRIDE_NAME, "the planned build-graph buildspec is missing"))
    return out


def check_request(request: Mapping[str, Any]) -> None:
    problems = request_problems(request)
    if problems:
        raise ManifestError(problems, hint="this is a bug in r2o's batch rendering; nothing was started")


# --- running it on CodeBuild ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    status: str  # CodeBuild's buildBatchStatus: SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT
    builds: tuple[tuple[str, str], ...]  # (identifier, build status) of each build group

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED


def _groups(batch: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for group in batch.get("buildGroups") or []:
        ident = str(group.get("identifier", "?"))
        summary = group.get("currentBuildSummary") or {}
        out[ident] = str(summary.get("buildStatus") or "PENDING")
    return out


def run_on_codebuild(
    api: CodeBuildApi,
    request: Mapping[str, Any],
    *,
    say: Say,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Start the batch, report each build's status as it changes, return when the batch ends.

    Stopped while waiting (Ctrl-C, SIGTERM when CodeBuild stops the planner), it stops the batch.
    """
    with aws_errors(f"starting the batch build in CodeBuild project {request.get('projectName')}"):
        started = api.start_build_batch(**request)
    batch_id = str((started.get("buildBatch") or {}).get("id", ""))
    if not batch_id:
        raise AwsError("CodeBuild answered StartBuildBatch without a batch id", hint="retry the build")
    say(f"started batch build {batch_id} for {request.get('sourceVersion')}")
    seen: dict[str, str] = {}
    try:
        while True:
            with aws_errors(f"asking CodeBuild about batch build {batch_id}"):
                answer = api.batch_get_build_batches(ids=[batch_id])
            batches = answer.get("buildBatches") or []
            if not batches:
                raise AwsError(
                    f"CodeBuild does not know batch build {batch_id}",
                    hint="check the planner may call codebuild:BatchGetBuildBatches on its project",
                )
            batch = batches[0]
            groups = _groups(batch)
            for ident, status in groups.items():
                if seen.get(ident) != status:
                    say(f"{ident}: {status}")
            seen = groups
            status = str(batch.get("buildBatchStatus") or IN_PROGRESS)
            if status != IN_PROGRESS:
                return BatchResult(batch_id, status, tuple(groups.items()))
            sleep(poll_seconds)
    except KeyboardInterrupt:  # also r2o's Stopped (SIGTERM, SIGHUP)
        with contextlib.suppress(Exception):
            api.stop_build_batch(id=batch_id)
            say(f"stopped batch build {batch_id}")
        raise


# --- running it here ---------------------------------------------------------------------------------------


def run_locally(
    text: str,
    root: Path,
    *,
    project: Mapping[str, str] | None = None,
    jobs: int | None = None,
    on_line: local.OnLine | None = None,
) -> local.BatchOutcome:
    """The planned batch, run by the local runner as ``r2o ci run-buildspec`` runs a buildspec."""
    spec = buildspec.check_text(text, root / ".r2o" / "batch-buildspec.yml")
    return local.run_buildspec(spec, root, project=project, jobs=jobs, on_line=on_line)


def passed_variables(env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {k: env[k] for k in PASSED_VARIABLES if env.get(k)}


def need_commit(plan: PlanFile) -> None:
    if len(plan.commit) < 7 or not all(c in "0123456789abcdef" for c in plan.commit):
        raise InputError(
            f"{plan.path}: the plan names no commit ('{plan.commit}'), so the batch could build "
            "another revision than the one planned",
            hint="plan inside a git checkout (CodeBuild sets CODEBUILD_RESOLVED_SOURCE_VERSION)",
        )
