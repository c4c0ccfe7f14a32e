"""What one CodeBuild build does with its images: ``r2o ci node TARGET`` and ``r2o ci build-images``.

For each image the decision is the content tag alone: when the registry already holds the tag the
image is up to date and nothing else happens. Otherwise its base-image chain is made available
locally (present, pulled from the same registry, or built and pushed), the image is built, a
component's golden cases run in the built image (JUnit written for CodeBuild's reports), and the
image is pushed only when every case passes.

``r2o ci build-images`` does this for the images ``r2o ci plan`` assigned to one planned build, in
order (base images first). An image that fails does not stop the others, except the images built
FROM it, which are skipped; the build fails at the end. The minutes each real build took are kept
for the planner's next estimate (:mod:`r2o.ci.history`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from r2o import changes
from r2o.ci import history
from r2o.errors import R2OError, UsageError
from r2o.golden import junit, runner
from r2o.images import build as builder
from r2o.images.engine import Engine, registry_has
from r2o.images.plan import BASE, ImageGraph, ImageNode
from r2o.repo import Repository
from r2o.run.backend import prepare

UP_TO_DATE = "up to date"
PUSHED = "pushed"
TESTS_FAILED = "tests failed"

Say = Callable[[str], None]


@dataclass(frozen=True)
class NodePlan:
    """What a node will do, decided before anything is built."""

    target: ImageNode
    registry: str
    up_to_date: bool  # the registry holds the target's tag: nothing to do
    pulls: tuple[ImageNode, ...] = ()  # ancestors in the registry but not in the local engine
    ancestors: tuple[builder.BuildStep, ...] = ()  # ancestors to build and/or push first
    build_target: bool = True  # False when the tag is already built locally (pushed after testing)

    @property
    def runs_tests(self) -> bool:
        return self.target.kind != BASE

    def describe(self) -> list[str]:
        t = self.target
        if self.up_to_date:
            return [f"{UP_TO_DATE}: {t.tag} is in {self.registry}"]
        lines = [f"pull  {n.ref(self.registry)} (needed by {t.name})" for n in self.pulls]
        lines += [s.describe(self.registry) for s in self.ancestors]
        lines.append(f"build {t.tag}" if self.build_target else f"reuse {t.tag} (built locally)")
        if self.runs_tests:
            lines.append(f"test  {t.name} (golden cases in the image)")
        lines.append(f"push  {t.ref(self.registry)}" + (" if every case passes" if self.runs_tests else ""))
        return lines


def plan_node(
    graph: ImageGraph,
    name: str,
    *,
    registry: str | None,
    exists_local: Callable[[str], bool],
    exists_remote: Callable[[ImageNode], bool],
) -> NodePlan:
    if not registry:
        raise UsageError(
            "r2o ci node needs a registry to check and push to",
            hint="pass --registry HOST[:PORT] or set R2O_REGISTRY",
        )
    target = graph.node(name)
    if exists_remote(target):
        return NodePlan(target, registry, up_to_date=True)
    pulls: list[ImageNode] = []
    steps: list[builder.BuildStep] = []
    build_target = not exists_local(target.tag)
    for node in graph.order([target.name]):
        if node.name == target.name:
            continue
        if exists_remote(node):
            # Needed locally only to build the target FROM it.
            if build_target and not exists_local(node.tag):
                pulls.append(node)
        elif exists_local(node.tag):
            steps.append(
                builder.BuildStep(node, builder.PUSH, "built locally, not in the registry", push=True)
            )
        else:
            steps.append(builder.BuildStep(node, builder.BUILD, "missing in the registry", push=True))
    return NodePlan(target, registry, False, tuple(pulls), tuple(steps), build_target=build_target)


@dataclass(frozen=True)
class NodeResult:
    plan: NodePlan
    status: str  # UP_TO_DATE, PUSHED or TESTS_FAILED
    verdicts: tuple[runner.CaseVerdict, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != TESTS_FAILED


def run_node(
    plan: NodePlan,
    repo: Repository,
    graph: ImageGraph,
    engine: Engine,
    *,
    say: Say,
    junit_file: Path | None = None,
    verbose: bool = False,
) -> NodeResult:
    """Carry out ``plan``; ``say`` receives one progress line at a time."""
    if plan.up_to_date:
        say(plan.describe()[0])
        return NodeResult(plan, UP_TO_DATE)
    registry = plan.registry
    target = plan.target
    cache_dir = repo.root / ".r2o" / "cache"

    def report(event: builder.BuildEvent) -> None:
        if event.kind == "start":
            say(f"{event.step.action} {event.step.node.tag} ...")
        elif event.kind == "line":
            if verbose or event.text.startswith(("Step ", "building the")):
                say(f"    {event.text}")
        else:
            say(f"done  {event.step.node.tag} in {event.seconds:.1f} s")

    for node in plan.pulls:
        remote = node.ref(registry)
        say(f"pull  {remote}")
        engine.pull(remote)
        engine.tag(remote, node.tag)
    if plan.ancestors:
        builder.execute(
            builder.BuildPlan(plan.ancestors, registry), graph, engine, report=report, cache_dir=cache_dir
        )
    if plan.build_target:
        step = builder.BuildStep(target, builder.BUILD, "tag missing in the registry")
        builder.execute(
            builder.BuildPlan((step,), registry), graph, engine, report=report, cache_dir=cache_dir
        )
    else:
        say(f"reuse {target.tag} (already built locally)")
    verdicts: list[runner.CaseVerdict] = []
    if plan.runs_tests:
        component = repo.component(target.name)
        backend = prepare(repo, [target.name], native=False, build_missing=False, engine=engine)

        def show(verdict: runner.CaseVerdict) -> None:
            say(f"{verdict.status.upper():5} {verdict.case.id}  ({verdict.seconds:.1f} s)")
            if not verdict.ok:
                for line in (verdict.message or "").splitlines():
                    say(f"    {line}")
                for o in verdict.outputs:
                    if not o.equal:
                        say(f"    output {o.output}:")
                        for line in o.report.splitlines():
                            say(f"      {line}")

        verdicts = runner.check_component(
            repo, component, backend.executor, backend.image(target.name), on_verdict=show
        )
        if junit_file is not None:
            junit.write(junit_file, verdicts)
        if not all(v.ok for v in verdicts):
            failed = sum(1 for v in verdicts if not v.ok)
            say(f"{failed} of {len(verdicts)} golden cases failed: {target.tag} is NOT pushed")
            return NodeResult(plan, TESTS_FAILED, tuple(verdicts))
        if verdicts:
            say(f"{len(verdicts)} golden case{'s' * (len(verdicts) != 1)} passed")
        else:
            say(f"{target.name} has no golden cases (add some: r2o golden record {target.name})")
    remote = target.ref(registry)
    say(f"push  {remote}")
    engine.tag(target.tag, remote)
    engine.push(remote, lambda line: say(f"    {line}") if verbose else None)
    say(f"pushed {remote}")
    return NodeResult(plan, PUSHED, tuple(verdicts))


def plan_for(graph: ImageGraph, engine: Callable[[], Engine], name: str, registry: str | None) -> NodePlan:
    """The plan of ``name``; ``engine`` connects on first use, so an up-to-date node never needs Docker."""

    def remote(node: ImageNode) -> bool:
        assert registry is not None
        return registry_has(registry, node.repository, node.tag_only)

    return plan_node(
        graph, name, registry=registry, exists_local=lambda tag: engine().has_local(tag), exists_remote=remote
    )


def change_note(found: changes.ChangeSet | R2OError, name: str) -> str:
    """One line saying whether the commit range touches ``name`` (informational: the tag decides)."""
    if isinstance(found, R2OError):
        return f"note: no change report: {str(found).splitlines()[0]}"
    if found.everything:
        return f"note: history is missing ({found.history_missing}); every image counts as changed"
    if name in found.components_changed or name in found.base_images_changed:
        return f"changed since {found.base}: {name}'s own files"
    if name in found.components_affected or name in found.base_images_affected:
        why = {**found.components_affected, **found.base_images_affected}[name]
        return f"changed since {found.base}: {'; '.join(why)}"
    return f"not changed since {found.base}, but its tag is missing from the registry"


def detect_changes(
    repo: Repository, base: str | None, head: str | None
) -> changes.ChangeSet | R2OError | None:
    """The change set for the notes (None without a base; the error when git cannot answer)."""
    if base is None:
        return None
    try:
        return changes.detect(repo, base=base, head=head)
    except R2OError as exc:
        return exc


FAILED_BASE = "not built"  # status of an image skipped because an image it builds FROM failed


@dataclass(frozen=True)
class ImageOutcome:
    name: str
    status: str  # UP_TO_DATE, PUSHED, TESTS_FAILED, FAILED_BASE, or "failed" (an error)
    seconds: float = 0.0
    error: R2OError | None = None

    @property
    def ok(self) -> bool:
        return self.status in (UP_TO_DATE, PUSHED)


def build_images(
    repo: Repository,
    graph: ImageGraph,
    names: Sequence[str],
    *,
    registry: str | None,
    engine: Callable[[], Engine],
    say: Say,
    found: changes.ChangeSet | R2OError | None = None,
    junit_dir: Path | None = None,
    verbose: bool = False,
) -> list[ImageOutcome]:
    """Bring each of ``names`` up to date in the registry, in order (see the module docstring)."""
    for name in names:
        graph.node(name)  # an unknown name fails before anything is built
    if not registry:
        raise UsageError(
            "r2o ci build-images needs a registry to check and push to",
            hint="pass --registry HOST[:PORT] or set R2O_REGISTRY",
        )
    outcomes: list[ImageOutcome] = []
    failed: set[str] = set()
    measured: dict[str, tuple[str, float]] = {}
    for i, name in enumerate(names, 1):
        say(f"== {name} ({i} of {len(names)}) ==")
        broken = sorted(graph.ancestors(name) & failed)
        if broken:
            say(f"{FAILED_BASE}: {name} builds FROM {', '.join(broken)}, which failed in this build")
            outcomes.append(ImageOutcome(name, FAILED_BASE))
            failed.add(name)
            continue
        start = time.monotonic()
        try:
            plan = plan_for(graph, engine, name, registry)
            if not plan.up_to_date and found is not None:
                say(change_note(found, name))
            junit_file = junit_dir / f"{name}.xml" if junit_dir is not None else None
            result = run_node(plan, repo, graph, engine(), say=say, junit_file=junit_file, verbose=verbose)
        except R2OError as exc:
            for line in str(exc).splitlines():
                say(f"error: {line}")
            outcomes.append(ImageOutcome(name, "failed", time.monotonic() - start, exc))
            failed.add(name)
            continue
        seconds = time.monotonic() - start
        outcomes.append(ImageOutcome(name, result.status, seconds))
        if not result.ok:
            failed.add(name)
        elif result.status == PUSHED and plan.build_target:
            measured[name] = (plan.target.tag, seconds / 60)
    history.record(history.path_in(repo.root), measured)
    return outcomes
