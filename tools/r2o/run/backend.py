"""Where components run: natively on the host, or in their content-tagged images.

The one factory every command that runs a component goes through (`r2o run`, `r2o test`,
`r2o golden record`, `r2o new`, `r2o ci node` and the pipeline executor). It returns the executor
and, for each component asked for, the image to run it in and that image's digest (provenance).
A missing image is built first (``build_missing``) or is a NotFoundError naming what to build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from r2o import workspace
from r2o.errors import NotFoundError
from r2o.images import build as builder
from r2o.images.engine import Engine
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from r2o.run.docker import DockerExecutor
from r2o.run.native import NativeExecutor
from r2o.run.runner import Executor

DOCKER = "docker"
NATIVE = "native"


@dataclass(frozen=True)
class Backend:
    """How components run: one executor, and each component's image reference and digest."""

    name: str  # DOCKER or NATIVE
    executor: Executor
    images: Mapping[str, str] = field(default_factory=dict)  # component -> content-tagged reference
    digests: Mapping[str, str] = field(default_factory=dict)  # component -> image id, "native" natively
    engine: Engine | None = None  # the engine this backend connected itself, closed by close()

    @property
    def native(self) -> bool:
        return self.name == NATIVE

    def image(self, component: str) -> str | None:
        """The image ``component`` runs in; None natively."""
        return None if self.native else self.images[component]

    def close(self) -> None:
        """Close the engine connection this backend opened (a long-lived service runs many)."""
        if self.engine is not None:
            self.engine.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare(
    repo: Repository,
    components: Sequence[str],
    *,
    native: bool,
    build_missing: bool,
    graph: ImageGraph | None = None,
    engine: Engine | None = None,
    report: Callable[[builder.BuildEvent], None] | None = None,
) -> Backend:
    """The backend that runs ``components``. Natively, image references are known only when a
    ``graph`` is given (a pipeline keys its cache on them); in Docker, every image must exist or
    be built (``build_missing``) first. ``graph`` replaces the repository's image graph (``r2o
    new`` builds a component that is not in the repository yet)."""
    names = list(dict.fromkeys(components))
    if native:
        images = {c: graph.ref(c) for c in names} if graph is not None else {}
        return Backend(NATIVE, NativeExecutor(repo.root), images, {c: NATIVE for c in names})
    if engine is not None:
        return _prepare_docker(repo, names, engine, graph, build_missing, report, owned=False)
    engine = Engine.connect()
    try:
        return _prepare_docker(repo, names, engine, graph, build_missing, report, owned=True)
    except BaseException:
        engine.close()
        raise


def _prepare_docker(
    repo: Repository,
    names: list[str],
    engine: Engine,
    graph: ImageGraph | None,
    build_missing: bool,
    report: Callable[[builder.BuildEvent], None] | None,
    *,
    owned: bool,
) -> Backend:
    graph = graph or ImageGraph.from_repo(repo)
    images = {c: graph.ref(c) for c in names}
    missing = [c for c in names if not engine.has_local(images[c])]
    if missing and build_missing:
        plan = builder.plan_for(graph, engine, missing, push=False, registry=None)
        builder.execute(
            plan,
            graph,
            engine,
            report=report or (lambda event: None),
            cache_dir=repo.root / ".r2o" / "cache",
        )
    elif missing:
        if len(missing) == 1:
            raise NotFoundError(
                f"image {images[missing[0]]} for {missing[0]} is not built",
                hint=f"run: r2o build {missing[0]}",
            )
        raise NotFoundError(
            f"images not built for: {', '.join(missing)}",
            hint=f"run: r2o build {' '.join(missing)}  (or r2o build --all)",
        )
    digests = {}
    for c in names:
        found = engine.image(images[c])
        digests[c] = str(found.id) if found is not None else ""
    executor = DockerExecutor(engine, workspace.session(repo.root))
    return Backend(DOCKER, executor, images, digests, engine=engine if owned else None)
