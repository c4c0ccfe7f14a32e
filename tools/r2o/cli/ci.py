"""`r2o ci plan|start-batch|build-images|node|run-buildspec|check`: what CodeBuild runs, and running
the buildspec locally."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from r2o import fs, git
from r2o.ci import buildspec
from r2o.cli.context import State, err, out, pass_state, print_json, registry_option
from r2o.errors import R2OError, UsageError
from r2o.images.plan import ImageGraph
from r2o.render.codebuild import DEFAULT_MAX_BUILDS

if TYPE_CHECKING:
    from r2o.changes import ChangeSet
    from r2o.images.engine import Engine

# The planner runs on every commit: what only the builds need (Docker, the golden runner, the local
# runner) is imported by the commands that use it, so `r2o ci plan` starts quickly.
FAILED = 1
CODEBUILD, LOCAL = "codebuild", "local"


@click.group("ci")
def command() -> None:
    """CodeBuild: the planner and the builds it starts, one image's work, the buildspec check, and a
    local buildspec runner."""


def _say(line: str) -> None:
    out.print(line, markup=False)


def _lazy_engine() -> Callable[[], Engine]:
    """An engine connected on first use: an up-to-date image never needs Docker."""
    from r2o.images.engine import Engine

    engines: list[Engine] = []

    def engine() -> Engine:
        if not engines:
            engines.append(Engine.connect())
        return engines[0]

    return engine


def _need_registry(registry: str | None, command_name: str) -> str:
    if not registry:
        raise UsageError(
            f"r2o ci {command_name} needs the registry that holds the images",
            hint="pass --registry HOST[:PORT] or set R2O_REGISTRY",
        )
    return registry


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fs.atomic_write(path, text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"cannot write {path}: {reason}", hint="choose a writable path") from exc


@command.command("plan")
@registry_option("Registry whose content tags decide what to build")
@click.option(
    "--base",
    default=None,
    metavar="REV",
    help="Base revision, worded into the reason each image is built (the registry decides whether).",
)
@click.option("--head", default=None, metavar="REV", help="Head revision for those reasons (default HEAD).")
@click.option(
    "--max-builds",
    type=click.IntRange(1, 100),
    envvar="R2O_MAX_BUILDS",
    default=DEFAULT_MAX_BUILDS,
    show_default=True,
    help="Builds one commit may start (env R2O_MAX_BUILDS).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the plan as JSON here (what r2o ci start-batch reads).",
)
@click.option(
    "--buildspec",
    "buildspec_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the batch buildspec the plan would start (not written when nothing is to build).",
)
@pass_state
def plan_command(
    state: State,
    registry: str | None,
    base: str | None,
    head: str | None,
    max_builds: int,
    as_json: bool,
    out_file: Path | None,
    buildspec_out: Path | None,
) -> int:
    """Plan the CodeBuild builds this commit needs and start nothing: the images whose content tag
    REGISTRY lacks, packed into at most --max-builds builds, base images first.

    A registry that cannot answer fails the plan (exit 5): nothing is planned or started."""
    from r2o.ci import history, plan
    from r2o.ci import registry as probe
    from r2o.render import codebuild

    where = _need_registry(registry, "plan")
    repo = state.repo
    repo.require_valid()  # a broken folder fails the plan, it is never skipped
    graph = ImageGraph.from_repo(repo)
    commit = os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION") or git.head_commit(repo.root)

    def explain() -> ChangeSet | None:
        from r2o.ci import node

        found = node.detect_changes(repo, base, head)
        if isinstance(found, R2OError):
            err.print(f"note: the reasons cannot name changes: {str(found).splitlines()[0]}", markup=False)
            return None
        return found

    result = plan.plan_commit(
        graph,
        registry=where,
        commit=commit,
        present=lambda nodes: probe.holds(where, nodes),
        max_builds=max_builds,
        declared=plan.declared_minutes(repo),
        history=history.load(history.path_in(repo.root)),
        explain=explain if base is not None else None,
        base=base,
    )
    data = result.to_json()
    if out_file is not None:
        _write(out_file, json.dumps(data, indent=1) + "\n")
    if buildspec_out is not None and not result.empty:
        _write(buildspec_out, codebuild.render_batch(result.builds, commit=result.commit))
    if as_json:
        print_json(data)
    else:
        for line in plan.describe(result):
            _say(line)
    return 0


@command.command("start-batch")
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--runner",
    type=click.Choice([CODEBUILD, LOCAL]),
    envvar="R2O_BATCH_RUNNER",
    default=CODEBUILD,
    show_default=True,
    help="codebuild: StartBuildBatch, then wait; local: run the builds here (env R2O_BATCH_RUNNER; "
    "r2o ci run-buildspec sets local).",
)
@click.option(
    "--project",
    envvar="R2O_CODEBUILD_PROJECT",
    default=None,
    help="CodeBuild project (default: the project of the running build, from CODEBUILD_BUILD_ID).",
)
@click.option(
    "--poll",
    type=click.FloatRange(1, 600),
    default=30.0,
    show_default=True,
    help="Seconds between status checks.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    envvar="R2O_BATCH_JOBS",
    default=None,
    help="Local runner: builds at once (default: the core count).",
)
@click.option("--endpoint-url", default=None, help="Send the CodeBuild calls here (a stand-in).")
@click.option("--region", default=None, help="AWS region (default: boto3's usual lookup).")
@click.option("--dry-run", is_flag=True, help="Print the checked StartBuildBatch request; start nothing.")
@pass_state
def start_batch_command(
    state: State,
    plan_file: Path,
    runner: str,
    project: str | None,
    poll: float,
    jobs: int | None,
    endpoint_url: str | None,
    region: str | None,
    dry_run: bool,
) -> int:
    """Start the builds of PLAN_FILE (from r2o ci plan --out) as one CodeBuild batch build, wait for
    it, and fail when any build fails. A plan with nothing to build starts nothing."""
    from r2o.ci import batch
    from r2o.ci.plan import PlanFile

    plan = PlanFile.load(plan_file)
    if not plan.builds:
        _say(f"nothing to build: every image is in {plan.registry}; no batch build started")
        return 0
    text = batch.override(plan)
    if runner == LOCAL:
        return _run_batch_here(state, text, plan.registry, jobs)
    batch.need_commit(plan)
    request = batch.start_request(
        plan,
        project=project or batch.project_from_env(os.environ),
        buildspec_text=text,
        variables=batch.passed_variables(),
        token_seed=os.environ.get("CODEBUILD_BUILD_ID", ""),
    )
    batch.check_request(request)
    if dry_run:
        print_json(request)
        return 0
    images = sum(len(b.images) for b in plan.builds)
    _say(
        f"starting {len(plan.builds)} builds ({images} images) in CodeBuild project {request['projectName']}"
    )
    result = batch.run_on_codebuild(
        batch.codebuild_client(endpoint_url, region), request, say=_say, poll_seconds=poll
    )
    failed = [ident for ident, status in result.builds if status != batch.SUCCEEDED]
    if result.ok:
        _say(f"batch build {result.batch_id} succeeded")
        return 0
    err.print(
        f"r2o: batch build {result.batch_id} ended {result.status}"
        + (f"; not succeeded: {', '.join(failed)}" if failed else "")
        + " (their logs are in the CodeBuild console and CloudWatch Logs)",
        markup=False,
    )
    return FAILED


def _run_batch_here(state: State, text: str, registry: str, jobs: int | None) -> int:
    from r2o.ci import batch, local

    lock = threading.Lock()

    def on_line(ident: str, line: str) -> None:
        with lock:
            out.print(f"[{ident}] {line}", markup=False)

    result = batch.run_locally(
        text, state.repo.root, project={"R2O_REGISTRY": registry}, jobs=jobs, on_line=on_line
    )
    for build in result.builds:
        note = f" ({build.reason})" if build.reason else ""
        _say(f"batch: {build.status:11} {build.identifier}  {build.seconds:.1f} s{note}")
    done = sum(b.status == local.SUCCEEDED for b in result.builds)
    verdict = "succeeded" if result.succeeded else "FAILED"
    _say(f"batch {verdict}: {done} of {len(result.builds)} builds succeeded")
    return 0 if result.succeeded else FAILED


@command.command("build-images")
@click.argument("names", nargs=-1, required=True)
@registry_option("Registry to check and push to")
@click.option("--base", envvar="R2O_BASE", default=None, metavar="REV", help="Base revision (env R2O_BASE).")
@click.option("--head", envvar="R2O_HEAD", default=None, metavar="REV", help="Head revision (env R2O_HEAD).")
@click.option(
    "--junit-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each component's golden verdicts as JUnit XML here (NAME.xml).",
)
@click.option("--verbose", "-v", is_flag=True, help="Print every build and push log line.")
@pass_state
def build_images_command(
    state: State,
    names: tuple[str, ...],
    registry: str | None,
    base: str | None,
    head: str | None,
    junit_dir: Path | None,
    verbose: bool,
) -> int:
    """Bring NAMES up to date in the registry, in order (one planned build's share): each image
    whose tag is missing is built, tested and pushed; images built FROM a failed one are skipped."""
    from r2o.ci import node

    repo = state.repo
    graph = ImageGraph.from_repo(repo)
    outcomes = node.build_images(
        repo,
        graph,
        names,
        registry=registry,
        engine=_lazy_engine(),
        say=_say,
        found=node.detect_changes(repo, base, head),
        junit_dir=junit_dir,
        verbose=verbose,
    )
    _say("")
    for outcome in outcomes:
        _say(f"{outcome.status:12} {outcome.name}  {outcome.seconds:.1f} s")
    bad = [o for o in outcomes if not o.ok]
    if not bad:
        return 0
    err.print(f"r2o: {len(bad)} of {len(outcomes)} images not brought up to date", markup=False)
    errors = [o.error for o in bad if o.error is not None]
    return errors[0].exit_code if errors else FAILED


@command.command("node")
@click.argument("target")
@registry_option("Registry to check and push to")
@click.option(
    "--base",
    envvar="R2O_BASE",
    default=None,
    metavar="REV",
    help="Base revision for the change report in the log (env R2O_BASE).",
)
@click.option("--head", envvar="R2O_HEAD", default=None, metavar="REV", help="Head revision (env R2O_HEAD).")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the golden verdicts as JUnit XML here.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and do nothing.")
@click.option("--verbose", "-v", is_flag=True, help="Print every build and push log line.")
@pass_state
def node_command(
    state: State,
    target: str,
    registry: str | None,
    base: str | None,
    head: str | None,
    junit_file: Path | None,
    dry_run: bool,
    verbose: bool,
) -> int:
    """Bring TARGET's image up to date in the registry: nothing if its content tag is there,
    else build it, run its golden cases and push it (only when they pass)."""
    from r2o.ci import node

    repo = state.repo
    graph = ImageGraph.from_repo(repo)
    engine = _lazy_engine()
    plan = node.plan_for(graph, engine, target, registry)
    if plan.up_to_date or dry_run:
        for line in plan.describe():
            _say(line)
        return 0
    found = node.detect_changes(repo, base, head)
    if found is not None:
        note = node.change_note(found, plan.target.name)
        (err if note.startswith("note:") else out).print(note, markup=False)
    result = node.run_node(plan, repo, graph, engine(), say=_say, junit_file=junit_file, verbose=verbose)
    return 0 if result.ok else FAILED


@command.command("run-buildspec")
@click.option(
    "--file",
    "spec_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The buildspec (default: {buildspec.FILE} at the repository root).",
)
@click.option("--base", default=None, metavar="REV", help="Base revision, given to the builds as R2O_BASE.")
@registry_option("Registry the builds push to, given as R2O_REGISTRY")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=None,
    help="Builds at once (default: the core count).",
)
@click.option(
    "--env",
    "-e",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="Another project variable for every build (repeatable).",
)
@pass_state
def run_buildspec_command(
    state: State,
    spec_file: Path | None,
    base: str | None,
    registry: str | None,
    jobs: int | None,
    variables: tuple[str, ...],
) -> int:
    """Run the buildspec here as CodeBuild would: phases in order, a batch graph in dependency
    order (independent builds in parallel), against the local Docker engine and REGISTRY. The batch
    a planner starts (r2o ci start-batch) runs here too, with the same rules."""
    from r2o.ci import local

    repo = state.repo
    spec = buildspec.load(spec_file or repo.root / buildspec.FILE)
    project: dict[str, str] = {}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not of the form NAME=VALUE", param_hint="--env")
        project[name] = value
    if registry:
        project["R2O_REGISTRY"] = registry
    if base:
        project["R2O_BASE"] = base
    # The second stage: `r2o ci start-batch` in a build runs the planned batch here, not on AWS.
    project.setdefault("R2O_BATCH_RUNNER", LOCAL)
    if jobs is not None:
        project.setdefault("R2O_BATCH_JOBS", str(jobs))
    lock = threading.Lock()
    width = max((len(n.identifier) for n in spec.nodes), default=5)

    def on_line(ident: str, line: str) -> None:
        with lock:
            out.print(f"[{ident:<{width}}] {line}", markup=False)

    result = local.run_buildspec(spec, repo.root, project=project, jobs=jobs, on_line=on_line)
    err.print("", markup=False)
    for build in result.builds:
        note = f" ({build.reason})" if build.reason else ""
        ignored = " [ignore-failure]" if build.ignore_failure and build.status == local.FAILED else ""
        err.print(f"{build.status:11} {build.identifier}  {build.seconds:.1f} s{note}{ignored}", markup=False)
    verdict = "succeeded" if result.succeeded else "FAILED"
    err.print(
        f"r2o: buildspec {verdict}: {sum(b.status == local.SUCCEEDED for b in result.builds)} of "
        f"{len(result.builds)} builds succeeded",
        markup=False,
    )
    return 0 if result.succeeded else FAILED


@command.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@pass_state
def check_command(state: State, file: Path | None) -> int:
    """Check a buildspec's structure (default: the repository's buildspec.yml)."""
    path = file if file is not None else state.repo.root / buildspec.FILE
    spec = buildspec.load(path)
    kind = f", {len(spec.nodes)} builds in a {spec.batch_kind}" if spec.batch_kind else ""
    out.print(f"ok: {path} is a valid buildspec ({len(spec.phases)} phases{kind})", markup=False)
    return 0
