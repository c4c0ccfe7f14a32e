"""What CodeBuild must build for a commit, packed into a few builds (``r2o ci plan``).

Plan, then execute: :func:`plan_commit` decides, as frozen data, which images a commit needs and
which CodeBuild builds carry them; ``r2o ci start-batch`` starts exactly those builds. The steps:

1. every image's content tag, from the tree (:class:`~r2o.images.plan.ImageGraph`);
2. which of those tags the registry already holds (``present``: a HEAD request per manifest, see
   :mod:`r2o.ci.registry`). Those images are skipped: nothing is started for them. A registry that
   cannot answer fails the plan (nothing starts; building everything instead would start up to
   ``max_builds`` builds whose pushes fail the same way, or rebuild a whole registry's worth of
   images after a credentials slip);
3. :func:`pack`: the images to build, in the graph's order, into at most ``max_builds`` builds so
   that an image's base images are built before it, earlier in the same build or in a build its
   build depends on (``depend-on``).

Packing. An image to build that another image to build needs (a base image) is *inner*; the others
are *leaves* (components, and base images nothing else waits for). Inner images joined by "builds
FROM" form groups; each group is one build, in graph order, because base images are few, each
needs the one before it, and a build per base image would add a build's overhead to the critical
path for nothing. Leaves are grouped by the inner builds they wait for, and each such class of
leaves is split over builds by longest-processing-time-first onto the least loaded build (the
classic LPT rule, within 4/3 of the best makespan). A class gets another build only while that
leaves each of its builds at least ``BUILD_OVERHEAD_MINUTES`` of work, so splitting never costs
more in provisioning than it saves, and the budget of builds goes to the heaviest classes first. A
class that waits for a single inner build nobody else waits for, and needs one build only, runs in
that inner build after its base images (one build fewer, same critical path).

Estimates (minutes; what the plan prints, and what packing balances). An image costs its manifest's
``build.minutes``, else the minutes its last build took in this checkout (:mod:`r2o.ci.history`),
else ``DEFAULT_MINUTES`` for its kind. A build costs ``BUILD_OVERHEAD_MINUTES`` (provisioning, the
source download, installing r2o, the registry login) plus ``PULL_MINUTES`` per base image it pulls
plus its images. CodeBuild bills a build by the minute: each build is counted in whole minutes,
at least one. The planner is a build too, and it waits for the batch it starts. Today's alternative,
one batch node per image (``r2o render codebuild --style graph``), is estimated the same way: every
image a build, an up-to-date one costing the overhead and its check; its wall time is bounded by
CodeBuild's concurrent-build quota (``CONCURRENT_BUILDS``, 60 by default), and more than five times
that many builds queued at once fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r2o.changes import ChangeSet
from r2o.errors import EngineError, InputError
from r2o.images.plan import BASE, COMPONENT, ImageGraph, ImageNode
from r2o.render.codebuild import DEFAULT_MAX_BUILDS, BatchBuild, identifier
from r2o.repo import Repository

MAX_BUILDS_LIMIT = 100  # CodeBuild batch builds: the project's MaximumBuildsAllowed cannot exceed 100
BUILD_OVERHEAD_MINUTES = 2.0
PULL_MINUTES = 0.5
UP_TO_DATE_MINUTES = 0.2  # a node of the one-build-per-image graph that finds its tag: the HEAD and exit
PLAN_MINUTES = 0.5  # the planner's own work after its overhead: tags and registry questions
DEFAULT_MINUTES = {BASE: 8.0, COMPONENT: 3.0}
CONCURRENT_BUILDS = 60  # CodeBuild's default concurrent-build quota for most compute types
QUEUE_FACTOR = 5  # builds queued beyond five times the concurrency quota fail

MANIFEST, HISTORY, DEFAULT = "manifest", "history", "default"

Present = Callable[[Sequence[ImageNode]], Mapping[str, bool]]


# --- packing (pure) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One image to build, for packing: what it needs built first (among the images to build)."""

    name: str
    needs: tuple[str, ...] = ()
    minutes: float = 1.0


@dataclass(frozen=True)
class Bin:
    """One planned build, as packing sees it: images in build order, and the bins it waits for."""

    images: tuple[str, ...]
    depend_on: tuple[int, ...] = ()  # indices of earlier bins


def pack(items: Sequence[Item], max_builds: int, *, overhead: float = BUILD_OVERHEAD_MINUTES) -> list[Bin]:
    """Pack ``items`` (in dependency order: each after what it needs) into at most ``max_builds`` bins."""
    if max_builds < 1:
        raise ValueError("max_builds must be at least 1")
    if not items:
        return []
    position = {item.name: i for i, item in enumerate(items)}
    for item in items:
        for need in item.needs:
            if need not in position or position[need] >= position[item.name]:
                raise ValueError(f"{item.name} needs {need}, which is not an earlier item")
    if max_builds == 1:
        return [Bin(tuple(item.name for item in items))]
    minutes = {item.name: item.minutes for item in items}
    needed = {need for item in items for need in item.needs}
    inner = [item for item in items if item.name in needed]
    leaves = [item for item in items if item.name not in needed]

    # Inner images: one group per connected set (union-find over "needs" between inner images).
    parent = {item.name: item.name for item in inner}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for item in inner:
        for need in item.needs:
            parent[find(item.name)] = find(need)
    group_of_root: dict[str, int] = {}
    groups: list[list[str]] = []
    for item in inner:
        root = find(item.name)
        if root not in group_of_root:
            group_of_root[root] = len(groups)
            groups.append([])
        groups[group_of_root[root]].append(item.name)
    group = {name: group_of_root[find(name)] for name in parent}
    if len(groups) >= max_builds:  # keep at least one build for the leaves
        groups = [[item.name for item in inner]]
        group = dict.fromkeys(group, 0)

    # Leaves, by the groups they wait for; a class gets builds while each keeps `overhead` of work.
    classes: dict[frozenset[int], list[Item]] = {}
    for leaf in leaves:
        classes.setdefault(frozenset(group[n] for n in leaf.needs), []).append(leaf)
    budget = max_builds - len(groups)
    if len(classes) > budget:
        merged = frozenset(g for key in classes for g in key)
        classes = {merged: [leaf for members in classes.values() for leaf in members]}
    work = {key: sum(leaf.minutes for leaf in members) for key, members in classes.items()}
    count = dict.fromkeys(classes, 1)
    spare = budget - len(classes)
    while spare > 0:
        candidates = [
            key
            for key, members in classes.items()
            if count[key] < len(members) and work[key] / (count[key] + 1) >= overhead
        ]
        if not candidates:
            break
        key = max(candidates, key=lambda k: (work[k] / count[k], -list(classes).index(k)))
        count[key] += 1
        spare -= 1

    bins: list[Bin] = [Bin(tuple(names)) for names in groups]
    waiting_on = {g: [key for key in classes if g in key] for g in range(len(groups))}
    for key, members in classes.items():
        loads = [0.0] * count[key]
        shares: list[list[str]] = [[] for _ in range(count[key])]
        for leaf in sorted(members, key=lambda m: (-m.minutes, position[m.name])):
            target = min(range(len(loads)), key=lambda i: (loads[i], i))
            loads[target] += minutes[leaf.name]
            shares[target].append(leaf.name)
        ordered = [tuple(sorted(share, key=position.__getitem__)) for share in shares]
        deps = tuple(sorted(key))
        if count[key] == 1 and len(deps) == 1 and waiting_on[deps[0]] == [key]:
            g = deps[0]
            bins[g] = Bin(bins[g].images + ordered[0], bins[g].depend_on)
            continue
        bins.extend(Bin(share, deps) for share in ordered)
    return bins


# --- estimates ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    builds: int
    billed_minutes: int  # each build in whole minutes, at least one
    wall_minutes: float  # the critical path (and, for many builds, the concurrency quota)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "builds": self.builds,
            "billed_minutes": self.billed_minutes,
            "wall_minutes": round(self.wall_minutes, 1),
        }
        if self.note:
            out["note"] = self.note
        return out


def billed(minutes: float) -> int:
    return max(1, math.ceil(minutes - 1e-9))


def _critical_path(durations: Sequence[float], depend_on: Sequence[Sequence[int]]) -> float:
    finish: list[float] = []
    for i, minutes in enumerate(durations):
        finish.append(max((finish[d] for d in depend_on[i]), default=0.0) + minutes)
    return max(finish, default=0.0)


# --- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedImage:
    name: str
    kind: str
    tag: str
    build: str  # the identifier of the planned build that carries it
    minutes: float
    minutes_from: str  # MANIFEST, HISTORY or DEFAULT
    reason: str


@dataclass(frozen=True)
class CommitPlan:
    """The builds a commit needs, and everything a reader needs to trust them."""

    registry: str
    commit: str
    base: str | None
    max_builds: int
    builds: tuple[BatchBuild, ...]
    images: tuple[PlannedImage, ...]  # the images to build, in graph order
    skipped: tuple[str, ...]  # images whose content tag the registry holds
    planner: Estimate
    planned: Estimate  # the planner and the planned builds
    one_build_per_image: Estimate  # the static graph: one build per base image and component

    @property
    def empty(self) -> bool:
        return not self.builds

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "commit": self.commit,
            "base": self.base,
            "max_builds": self.max_builds,
            "builds": [
                {
                    "identifier": b.identifier,
                    "images": list(b.images),
                    "depend-on": list(b.depend_on),
                    "minutes": round(b.minutes, 1),
                }
                for b in self.builds
            ],
            "skipped": len(self.skipped),
            "images": [
                {
                    "name": i.name,
                    "kind": i.kind,
                    "tag": i.tag,
                    "build": i.build,
                    "minutes": round(i.minutes, 2),
                    "minutes_from": i.minutes_from,
                    "reason": i.reason,
                }
                for i in self.images
            ],
            "estimate": {
                "planner": self.planner.to_json(),
                "planned": self.planned.to_json(),
                "one_build_per_image": self.one_build_per_image.to_json(),
            },
        }


def declared_minutes(repo: Repository) -> dict[str, float]:
    """``build.minutes`` of every manifest that declares it."""
    loaded = repo.loaded
    out = {n: c.build.minutes for n, c in loaded.components.items() if c.build.minutes is not None}
    out.update({n: i.build_minutes for n, i in loaded.images.items() if i.build_minutes is not None})
    return out


def costs(
    nodes: Sequence[ImageNode], declared: Mapping[str, float], history: Mapping[str, float]
) -> dict[str, tuple[float, str]]:
    """Image name -> (minutes, where the figure comes from)."""
    out: dict[str, tuple[float, str]] = {}
    for node in nodes:
        if node.name in declared:
            out[node.name] = (declared[node.name], MANIFEST)
        elif node.name in history:
            out[node.name] = (history[node.name], HISTORY)
        else:
            out[node.name] = (DEFAULT_MINUTES[node.kind], DEFAULT)
    return out


def reasons(names: Sequence[str], found: ChangeSet | None) -> dict[str, str]:
    """Why each image to build is built, in words (the content tag decides; this explains it)."""
    out: dict[str, str] = {}
    for name in names:
        if found is None:
            out[name] = "its content tag is not in the registry"
        elif found.everything:
            out[name] = f"history is missing ({found.history_missing}): counted as changed"
        elif name in found.components_changed or name in found.base_images_changed:
            out[name] = f"its own files changed since {found.base}"
        elif name in found.components_affected or name in found.base_images_affected:
            why = {**found.components_affected, **found.base_images_affected}[name]
            out[name] = "; ".join(why)
        else:
            out[name] = (
                f"not changed since {found.base}, but its content tag is not in the registry "
                "(a new registry, an earlier failed build, or an expired tag)"
            )
    return out


def _build_ids(bins: Sequence[Bin]) -> list[str]:
    width = max(2, len(str(len(bins))))
    out = []
    for i, b in enumerate(bins, 1):
        out.append(f"b{i:0{width}d}_{identifier(b.images[0])}"[:127])
    return out


def plan_commit(
    graph: ImageGraph,
    *,
    registry: str,
    commit: str,
    present: Present,
    max_builds: int = DEFAULT_MAX_BUILDS,
    declared: Mapping[str, float] | None = None,
    history: Mapping[str, float] | None = None,
    explain: Callable[[], ChangeSet | None] | None = None,
    base: str | None = None,
) -> CommitPlan:
    """Decide the builds of a commit; ``present`` answers which images the registry holds.

    ``explain`` gives the change set the reasons are worded from; it is asked only when something
    is to be built. A registry that cannot answer raises EngineError: nothing is planned.
    """
    if not 1 <= max_builds <= MAX_BUILDS_LIMIT:
        raise InputError(
            f"--max-builds {max_builds} is outside 1-{MAX_BUILDS_LIMIT}",
            hint=f"CodeBuild allows at most {MAX_BUILDS_LIMIT} builds in a batch; the default is "
            f"{DEFAULT_MAX_BUILDS}",
        )
    order = graph.order(graph.nodes)
    try:
        held = present(order)
    except EngineError as exc:
        raise EngineError(
            f"r2o ci plan cannot tell which images the registry {registry} holds, so it plans and "
            f"starts nothing (building every image instead would start up to {max_builds} builds "
            f"whose pushes fail the same way): {exc.message}",
            hint=exc.hint or f"check that {registry} answers and accepts this build's credentials",
        ) from exc
    todo = [node for node in order if not held[node.name]]
    skipped = tuple(node.name for node in order if held[node.name])
    todo_names = {node.name for node in todo}
    cost = costs(order, declared or {}, history or {})
    ancestors = {node.name: graph.ancestors(node.name) for node in order}
    position = {node.name: i for i, node in enumerate(order)}
    items = [
        Item(
            node.name,
            tuple(sorted(ancestors[node.name] & todo_names, key=position.__getitem__)),
            cost[node.name][0],
        )
        for node in todo
    ]
    bins = pack(items, max_builds)
    ids = _build_ids(bins)
    builds: list[BatchBuild] = []
    for b, ident in zip(bins, ids, strict=True):
        inside = set(b.images)
        pulled = {a for name in b.images for a in ancestors[name]} - inside
        minutes = BUILD_OVERHEAD_MINUTES + PULL_MINUTES * len(pulled) + sum(cost[n][0] for n in b.images)
        builds.append(BatchBuild(ident, b.images, tuple(ids[d] for d in b.depend_on), minutes))
    build_of = {name: b.identifier for b in builds for name in b.images}
    changes = explain() if explain is not None and todo else None
    why = reasons([node.name for node in todo], changes)
    images = tuple(
        PlannedImage(n.name, n.kind, n.tag, build_of[n.name], cost[n.name][0], cost[n.name][1], why[n.name])
        for n in todo
    )
    batch_wall = _critical_path([b.minutes for b in builds], [b.depend_on for b in bins])
    planner_minutes = BUILD_OVERHEAD_MINUTES + PLAN_MINUTES
    planner = Estimate(1, billed(planner_minutes + batch_wall), planner_minutes)
    planned = Estimate(
        1 + len(builds),
        planner.billed_minutes + sum(billed(b.minutes) for b in builds),
        planner_minutes + batch_wall,
    )
    return CommitPlan(
        registry=registry,
        commit=commit,
        base=base if base is not None else (changes.base if changes is not None else None),
        max_builds=max_builds,
        builds=tuple(builds),
        images=images,
        skipped=skipped,
        planner=planner,
        planned=planned,
        one_build_per_image=_per_image(order, ancestors, todo_names, cost),
    )


def _per_image(
    order: Sequence[ImageNode],
    ancestors: Mapping[str, set[str]],
    todo: set[str],
    cost: Mapping[str, tuple[float, str]],
) -> Estimate:
    """The static graph: a build per image, each pulling its base images, waiting for their builds."""
    index = {node.name: i for i, node in enumerate(order)}
    durations = []
    waits: list[list[int]] = []
    for node in order:
        work = cost[node.name][0] if node.name in todo else UP_TO_DATE_MINUTES
        durations.append(BUILD_OVERHEAD_MINUTES + PULL_MINUTES * len(ancestors[node.name]) + work)
        waits.append([index[d] for d in (node.parent, *node.build_images.values()) if d is not None])
    total = sum(billed(m) for m in durations)
    wall = max(_critical_path(durations, waits), sum(durations) / CONCURRENT_BUILDS)
    note = ""
    if len(order) > QUEUE_FACTOR * CONCURRENT_BUILDS:
        note = (
            f"{len(order)} builds at once exceed CodeBuild's default queue ({QUEUE_FACTOR} x "
            f"{CONCURRENT_BUILDS} concurrent builds): the excess fail to start"
        )
    return Estimate(len(order), total, wall, note)


# --- the plan file (written by `r2o ci plan --out`, read by `r2o ci start-batch`) ----------------------


@dataclass(frozen=True)
class PlanFile:
    """What ``r2o ci start-batch`` needs from a plan: the builds, for which commit and registry."""

    path: Path
    commit: str
    registry: str
    builds: tuple[BatchBuild, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: Path) -> PlanFile:
        import json

        hint = "write it with: r2o ci plan --registry HOST --out FILE"
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise InputError(f"{path}: no such plan file", hint=hint) from exc
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a plan file r2o can read ({exc})", hint=hint) from exc
        problems = []
        if not isinstance(data, dict):
            found = type(data).__name__
            raise InputError(f"{path}: expected a JSON object (a plan), found {found}", hint=hint)
        for key, kind in (("commit", str), ("registry", str), ("builds", list)):
            if not isinstance(data.get(key), kind):
                problems.append(f"'{key}' is missing or not a {kind.__name__}")
        builds = []
        for i, raw in enumerate(data.get("builds") or []):
            at = f"builds[{i}]"
            if not isinstance(raw, dict):
                problems.append(f"{at} is not an object")
                continue
            ident, images, deps = raw.get("identifier"), raw.get("images"), raw.get("depend-on", [])
            if not isinstance(ident, str) or not ident:
                problems.append(f"{at}.identifier is missing")
                continue
            if not isinstance(images, list) or not images or not all(isinstance(n, str) for n in images):
                problems.append(f"{at}.images must be a non-empty list of image names")
                continue
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                problems.append(f"{at}.depend-on must be a list of build identifiers")
                continue
            minutes = raw.get("minutes", 0.0)
            builds.append(
                BatchBuild(
                    ident,
                    tuple(images),
                    tuple(deps),
                    float(minutes) if isinstance(minutes, (int, float)) else 0.0,
                )
            )
        if problems:
            raise InputError(f"{path}: not a valid plan: {'; '.join(problems)}", hint=hint)
        return cls(path, data["commit"], data["registry"], tuple(builds))


def describe(plan: CommitPlan, *, limit: int = 20) -> list[str]:
    """The plan for a reader (the CodeBuild log): builds, reasons, estimates; --json has it all."""
    total = len(plan.images) + len(plan.skipped)
    where = f"registry {plan.registry}" + (f", base {plan.base}" if plan.base else "")
    lines = [f"plan for commit {plan.commit[:12]} ({where})"]
    if plan.empty:
        lines.append(
            f"nothing to build: all {total} images are in the registry; no batch build is started "
            "(this build is the commit's only one)"
        )
    else:
        n = len(plan.builds)
        lines.append(
            f"{len(plan.images)} of {total} images to build in {n} build{'s' * (n != 1)} "
            f"(at most {plan.max_builds}); {len(plan.skipped)} up to date"
        )
        for b in plan.builds:
            shown = ", ".join(b.images[:8]) + (
                f", ... ({len(b.images) - 8} more)" if len(b.images) > 8 else ""
            )
            after = f", after {', '.join(b.depend_on)}" if b.depend_on else ""
            count = f"{len(b.images)} image{'s' * (len(b.images) != 1)}"
            lines.append(f"  {b.identifier}  {count}, about {b.minutes:.0f} min{after}: {shown}")
        lines.append("why:")
        for image in plan.images[:limit]:
            lines.append(f"  {image.name}: {image.reason}")
        if len(plan.images) > limit:
            lines.append(f"  ... and {len(plan.images) - limit} more (--json lists them all)")
    p, s = plan.planned, plan.one_build_per_image
    lines.append("estimate (build-minutes billed, each build in whole minutes; wall-clock minutes):")
    lines.append(
        f"  this plan:           {p.builds} build{'s' * (p.builds != 1)} (the planner + {p.builds - 1}), "
        f"{p.billed_minutes:,} billed, about {p.wall_minutes:.0f} min"
    )
    lines.append(
        f"  one build per image: {s.builds} builds, {s.billed_minutes:,} billed, "
        f"about {s.wall_minutes:.0f} min" + (f" ({s.note})" if s.note else "")
    )
    return lines
