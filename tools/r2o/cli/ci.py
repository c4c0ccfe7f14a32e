"""`r2o ci node|run-buildspec|check`: what CodeBuild runs, and running the buildspec locally."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from r2o import changes
from r2o.ci import buildspec, local, node
from r2o.cli.context import State, err, out, pass_state, registry_option
from r2o.errors import R2OError
from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph

FAILED = 1


@click.group("ci")
def command() -> None:
    """CodeBuild: one batch node's work, the buildspec check, and a local buildspec runner."""


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
    repo = state.repo
    graph = ImageGraph.from_repo(repo)
    engines: list[Engine] = []

    def engine() -> Engine:
        if not engines:
            engines.append(Engine.connect())
        return engines[0]

    plan = node.plan_for(graph, engine, target, registry)
    if plan.up_to_date or dry_run:
        for line in plan.describe():
            out.print(line, markup=False)
        return 0
    if base is not None:
        _change_note(state, plan.target.name, base, head)
    result = node.run_node(
        plan,
        repo,
        graph,
        engine(),
        say=lambda line: out.print(line, markup=False),
        junit_file=junit_file,
        verbose=verbose,
    )
    return 0 if result.ok else FAILED


def _change_note(state: State, name: str, base: str, head: str | None) -> None:
    """One line saying whether the commit range touches ``name`` (informational: the tag decides)."""
    try:
        found = changes.detect(state.repo, base=base, head=head)
    except R2OError as exc:
        err.print(f"note: no change report: {str(exc).splitlines()[0]}", markup=False)
        return
    if found.everything:
        out.print(
            f"note: history is missing ({found.history_missing}); every image counts as changed", markup=False
        )
    elif name in found.components_changed or name in found.base_images_changed:
        out.print(f"changed since {base}: {name}'s own files", markup=False)
    elif name in found.components_affected or name in found.base_images_affected:
        why = {**found.components_affected, **found.base_images_affected}[name]
        out.print(f"changed since {base}: {'; '.join(why)}", markup=False)
    else:
        out.print(f"not changed since {base}, but its tag is missing from the registry", markup=False)


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
    """Run the buildspec here as CodeBuild would: phases in order, the batch graph in dependency
    order (independent builds in parallel), against the local Docker engine and REGISTRY."""
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
