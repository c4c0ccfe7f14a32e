"""The CodeBuild buildspecs: the committed planner (buildspec.yml) and the batch a commit starts.

``buildspec.yml`` is rendered through the jinja2 template ``codebuild/buildspec.yml.j2``. Its
default style, the planner, names no image: one build runs ``r2o ci plan`` and starts the builds
it planned. :func:`render_batch` renders those builds as a build-graph buildspec
(``codebuild/batch.yml.j2``), the override given to StartBuildBatch. The older styles, one batch
node per base image and per component (``graph``) or one build per image at once (``matrix``),
are rendered from :func:`targets`. Nothing here talks to git, Docker or AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from r2o.errors import InputError
from r2o.render.templating import render as render_template

PLANNER = "planner"
GRAPH = "graph"
MATRIX = "matrix"
STYLES = (PLANNER, GRAPH, MATRIX)
TEMPLATE = "codebuild/buildspec.yml.j2"
BATCH_TEMPLATE = "codebuild/batch.yml.j2"
REPORTS_DIR = ".r2o/reports"
DEFAULT_MAX_BUILDS = 20  # builds one commit may start (the planner's --max-builds, env R2O_MAX_BUILDS)
# Planned builds build images with Docker: privileged, on a medium instance (the planner itself
# needs no more than the project's default, small, compute type).
BATCH_COMPUTE_TYPE = "BUILD_GENERAL1_MEDIUM"
# How long a build of the project may run (the CodeBuild project's TimeoutInMinutes, and its batch
# timeout): the planner waits for the whole batch it starts, so it needs the longest. A planned
# build is given twice its estimate, within PLANNED_BUILD_MINUTES (r2o.ci.batch).
PROJECT_TIMEOUT_MINUTES = 480
PLANNED_BUILD_MINUTES = (60, PROJECT_TIMEOUT_MINUTES)
BASE_IMAGE = "base-image"
COMPONENT = "component"
MAX_IDENTIFIER = 127  # CodeBuild: letters, digits and underscores, fewer than 128 characters
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Target:
    """One batch node: the image it builds, and the nodes that must finish first."""

    name: str
    kind: str  # BASE_IMAGE or COMPONENT
    identifier: str
    parent: str | None  # the image it builds FROM
    depend_on: tuple[str, ...]  # identifiers


@dataclass(frozen=True)
class BatchBuild:
    """One build of a planned batch: the images it builds in order, the builds it waits for."""

    identifier: str
    images: tuple[str, ...]
    depend_on: tuple[str, ...] = ()
    minutes: float = 0.0  # estimated duration, shown in the buildspec's comments


def identifier(name: str) -> str:
    """``emissions-point`` -> ``emissions_point`` (CodeBuild identifiers allow letters, digits, ``_``)."""
    ident = _NOT_ALLOWED.sub("_", name)
    if not ident[:1].isalpha():
        ident = "n_" + ident
    return ident


def targets(
    image_parents: Mapping[str, str | None],
    component_bases: Mapping[str, str],
    stage_images: Mapping[str, Sequence[str]] | None = None,
) -> list[Target]:
    """Every base image (parents first) and every component, each with its node identifier.

    A component's node waits for its base image's node and for those of its other build images
    (``stage_images``, from ``build.images``).

    Raises InputError when two names sanitise to the same identifier or one is too long, since
    CodeBuild would reject the buildspec (or worse, merge two nodes).
    """
    depth: dict[str, int] = {}

    def level(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in depth:
            return depth[name]
        parent = image_parents.get(name)
        if parent is None or parent not in image_parents or parent in seen:
            depth[name] = 0
        else:
            depth[name] = level(parent, (*seen, name)) + 1
        return depth[name]

    ordered = sorted(image_parents, key=lambda n: (level(n), n))
    ids: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in [*ordered, *sorted(component_bases)]:
        ident = identifier(name)
        if len(ident) > MAX_IDENTIFIER:
            raise InputError(
                f"'{name}' gives a CodeBuild identifier of {len(ident)} characters "
                f"(CodeBuild allows at most {MAX_IDENTIFIER})",
                hint="shorten the name",
            )
        if ident in owner:
            raise InputError(
                f"'{owner[ident]}' and '{name}' both become the CodeBuild identifier '{ident}' "
                "(only letters, digits and underscores are allowed; others become '_')",
                hint="rename one of them so the two differ in more than punctuation",
            )
        owner[ident] = name
        ids[name] = ident
    out = []
    for name in ordered:
        parent = image_parents[name]
        parent_id: tuple[str, ...] = (ids[parent],) if parent is not None and parent in ids else ()
        out.append(Target(name, BASE_IMAGE, ids[name], parent, parent_id))
    for name in sorted(component_bases):
        base = component_bases[name]
        needs = [base, *(stage_images or {}).get(name, ())]
        deps = tuple(dict.fromkeys(ids[n] for n in needs if n in ids))
        out.append(Target(name, COMPONENT, ids[name], base, deps))
    return out


def render(plan: Sequence[Target] = (), *, style: str = PLANNER, max_builds: int = DEFAULT_MAX_BUILDS) -> str:
    """buildspec.yml: the planner (``plan`` is not used), or a static graph or matrix of ``plan``."""
    if style not in STYLES:
        raise InputError(f"unknown buildspec style '{style}'", hint=f"choose one of {', '.join(STYLES)}")
    return render_template(
        TEMPLATE, targets=list(plan), style=style, reports_dir=REPORTS_DIR, max_builds=max_builds
    )


def render_batch(builds: Sequence[BatchBuild], *, commit: str) -> str:
    """The build-graph buildspec of a planned batch (StartBuildBatch's buildspec override)."""
    if not builds:
        raise ValueError("a batch needs at least one build; start none when nothing is planned")
    return render_template(
        BATCH_TEMPLATE,
        builds=list(builds),
        image_count=sum(len(b.images) for b in builds),
        commit=commit,
        compute_type=BATCH_COMPUTE_TYPE,
        reports_dir=REPORTS_DIR,
    )
