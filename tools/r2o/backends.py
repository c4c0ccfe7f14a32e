"""Choosing where a component runs: natively, or in its content-tagged image (built when missing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from r2o import workspace
from r2o.errors import NotFoundError
from r2o.images import build as builder
from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from r2o.run.docker import DockerExecutor
from r2o.run.native import NativeExecutor
from r2o.run.runner import Executor


@dataclass(frozen=True)
class Backend:
    executor: Executor
    image: str | None  # None for native runs


def prepare(
    repo: Repository,
    component: str,
    *,
    native: bool,
    build_missing: bool,
    report: Callable[[builder.BuildEvent], None] | None = None,
    engine: Engine | None = None,
) -> Backend:
    """An executor for ``component``; in Docker, its image is built first when ``build_missing``."""
    if native:
        return Backend(NativeExecutor(repo.root), None)
    engine = engine or Engine.connect()
    graph = ImageGraph.from_repo(repo)
    image = graph.ref(component)
    if not engine.has_local(image):
        if not build_missing:
            raise NotFoundError(
                f"image {image} for {component} is not built", hint=f"run: r2o build {component}"
            )
        plan = builder.plan_for(graph, engine, [component], push=False, registry=None)
        builder.execute(
            plan, graph, engine, report=report or (lambda event: None), cache_dir=repo.root / ".r2o" / "cache"
        )
    return Backend(DockerExecutor(engine, workspace.session(repo.root)), image)
