"""Plan, then build: which images to build, skip or push, and the executor that does it."""

from __future__ import annotations

import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from r2o import base_image, manifest
from r2o.errors import BuildError, UsageError
from r2o.images import rootfs
from r2o.images.engine import Engine, registry_has
from r2o.images.plan import BASE, ImageGraph, ImageNode
from r2o.images.tags import SourceIndex

# Fixed so that two rootfs builds give the same bytes (2024-01-01T00:00:00Z); override with the env var.
DEFAULT_SOURCE_DATE_EPOCH = 1704067200
ROOTFS_FILE = "rootfs.tar"

BUILD = "build"
PUSH = "push"
SKIP = "skip"


@dataclass(frozen=True)
class BuildStep:
    node: ImageNode
    action: str  # BUILD, PUSH (exists locally, missing in the registry) or SKIP
    reason: str
    push: bool = False  # after building, push to the registry

    def describe(self, registry: str | None) -> str:
        what = {BUILD: "build", PUSH: "push", SKIP: "skip"}[self.action]
        extra = f" and push to {registry}" if self.push and self.action == BUILD else ""
        return f"{what:5} {self.node.tag}{extra}  ({self.reason})"


@dataclass(frozen=True)
class BuildPlan:
    steps: tuple[BuildStep, ...]
    registry: str | None

    @property
    def work(self) -> list[BuildStep]:
        return [s for s in self.steps if s.action != SKIP]

    def describe(self) -> str:
        return "\n".join(s.describe(self.registry) for s in self.steps) or "nothing to build"


def plan_builds(
    graph: ImageGraph,
    names: Iterable[str],
    *,
    exists_local: Callable[[str], bool],
    exists_remote: Callable[[ImageNode], bool] | None = None,
    push: bool = False,
    registry: str | None = None,
) -> BuildPlan:
    """Steps for ``names`` and their ancestors, parents first; existing tags are skipped."""
    if push and not registry:
        raise UsageError("--push needs --registry HOST[:PORT]", hint="e.g. --registry 127.0.0.1:5000")
    steps = []
    for node in graph.order(names):
        if push:
            assert exists_remote is not None
            if exists_remote(node):
                steps.append(BuildStep(node, SKIP, f"{node.tag} is in {registry}"))
            elif exists_local(node.tag):
                steps.append(BuildStep(node, PUSH, "built locally, missing in the registry", push=True))
            else:
                steps.append(BuildStep(node, BUILD, "tag not built yet", push=True))
        elif exists_local(node.tag):
            steps.append(BuildStep(node, SKIP, "tag exists locally"))
        else:
            steps.append(BuildStep(node, BUILD, "tag not built yet"))
    return BuildPlan(tuple(steps), registry)


def plan_for(
    graph: ImageGraph, engine: Engine, names: Iterable[str], *, push: bool, registry: str | None
) -> BuildPlan:
    def remote(node: ImageNode) -> bool:
        assert registry is not None
        return registry_has(registry, node.repository, node.tag_only)

    return plan_builds(
        graph,
        names,
        exists_local=engine.has_local,
        exists_remote=remote if push else None,
        push=push,
        registry=registry,
    )


@dataclass(frozen=True)
class BuildEvent:
    """Progress reported while executing a plan."""

    step: BuildStep
    kind: str  # "start", "line", "done"
    text: str = ""
    seconds: float = 0.0


def execute(
    plan: BuildPlan,
    graph: ImageGraph,
    engine: Engine,
    *,
    report: Callable[[BuildEvent], None],
    cache_dir: Path,
) -> list[BuildStep]:
    """Run every BUILD and PUSH step in order; return the steps that did work."""
    done = []
    for step in plan.work:
        start = time.monotonic()
        report(BuildEvent(step, "start"))
        node = step.node

        def on_line(line: str, step: BuildStep = step) -> None:
            report(BuildEvent(step, "line", line))

        if step.action == BUILD:
            _build_one(node, graph, engine, plan.registry, cache_dir, on_line)
        if step.push:
            assert plan.registry is not None
            remote = node.ref(plan.registry)
            engine.tag(node.tag, remote)
            engine.push(remote, on_line)
        report(BuildEvent(step, "done", seconds=time.monotonic() - start))
        done.append(step)
    return done


def build_args(node: ImageNode, graph: ImageGraph, registry: str | None) -> dict[str, str]:
    args = dict(node.build_args)
    if node.parent is not None:
        parent = graph.node(node.parent)
        # A parent pushed in this plan is local too; use the local tag so no pull is needed.
        args["BASE_IMAGE"] = parent.tag
    return args


def _build_one(
    node: ImageNode,
    graph: ImageGraph,
    engine: Engine,
    registry: str | None,
    cache_dir: Path,
    on_line: Callable[[str], None],
) -> None:
    for dep in sorted({d for d in (node.parent, *node.build_images.values()) if d is not None}):
        _ensure_local(graph.node(dep), engine, registry, on_line)
    extra: dict[str, Path] = {}
    if node.kind == BASE and node.parent is None:
        extra[ROOTFS_FILE] = _rootfs_for(node, graph, cache_dir, on_line)
    with tempfile.TemporaryFile() as context:
        _write_context(context, node, graph.root, extra)
        context.seek(0)
        engine.build(
            context=context,
            dockerfile=node.dockerfile,
            tag=node.tag,
            buildargs=build_args(node, graph, registry),
            labels={
                "org.r2o.name": node.name,
                "org.r2o.kind": node.kind,
                "org.r2o.version": node.version,
                "org.r2o.content-tag": node.tag,
            },
            on_line=on_line,
        )
    if node.kind != BASE:
        _check_entrypoint(node, graph, engine)


def _ensure_local(
    dep: ImageNode, engine: Engine, registry: str | None, on_line: Callable[[str], None]
) -> None:
    """Make an image this build stands on local. The plan skips a base image the registry already has,
    so on a fresh engine (a CodeBuild run) it is pulled here; nothing ever comes from Docker Hub."""
    if engine.has_local(dep.tag):
        return
    if registry is None:
        raise BuildError(
            f"{dep.tag} is needed for this build but is not in the engine", hint=f"run: r2o build {dep.name}"
        )
    remote = dep.ref(registry)
    on_line(f"pulling {remote} (in the registry, not in this engine)")
    engine.pull(remote)
    engine.tag(remote, dep.tag)


def _rootfs_for(node: ImageNode, graph: ImageGraph, cache_dir: Path, on_line: Callable[[str], None]) -> Path:
    img = base_image.load(node.folder)
    assert img.rootfs is not None
    out = cache_dir / f"rootfs-{node.tag_only}.tar"
    if not out.exists():
        on_line(f"building the {img.rootfs.suite} rootfs with mmdebstrap (about a minute) ...")
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH))
        recipe = rootfs.RootfsRecipe(
            suite=img.rootfs.suite,
            variant=img.rootfs.variant,
            include=img.rootfs.include,
            exclude_paths=img.rootfs.exclude_paths,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        rootfs.build_rootfs(recipe, out, source_date_epoch=epoch)
    return out


def _write_context(fh: IO[bytes], node: ImageNode, root: Path, extra: dict[str, Path]) -> None:
    """The build context: the image's folder at the root, each include under its repo path."""
    index = SourceIndex(root)
    folder = node.folder.resolve().relative_to(root).as_posix()
    with tarfile.open(fileobj=fh, mode="w") as tar:
        for rel in index.under([folder]):
            tar.add(root / rel, arcname=rel[len(folder) + 1 :], recursive=False)
        for inc in node.include:
            for rel in index.under([inc]):
                tar.add(root / rel, arcname=rel, recursive=False)
        for arcname, path in extra.items():
            tar.add(path, arcname=arcname, recursive=False)
        if not index.under([folder]):
            raise BuildError(f"{folder} has no files to build")


def _check_entrypoint(node: ImageNode, graph: ImageGraph, engine: Engine) -> None:
    """The manifest's ``entrypoint`` must match the image's, or Batch would run something else."""
    comp = manifest.load(node.folder)
    image = engine.image(node.tag)
    if image is None:
        raise BuildError(f"{node.tag} was built but cannot be found")
    actual = tuple(image.attrs.get("Config", {}).get("Entrypoint") or ())
    if actual != comp.entrypoint:
        engine.remove(node.tag)
        raise BuildError(
            f"{node.name}: the image's ENTRYPOINT {list(actual)} differs from component.yaml's entrypoint "
            f"{list(comp.entrypoint)}; AWS Batch would pass the command to the image's ENTRYPOINT",
            hint="make them equal: declare entrypoint: [...] in component.yaml, "
            "or write ENTRYPOINT [] in the Dockerfile",
        )
