"""Which components and images a range of commits affects: git -> change set.

Two layers. :func:`classify` is pure: it maps a list of changed paths onto a :class:`Layout` (which
components and base images exist, what each builds FROM, what it includes) and returns a frozen
:class:`ChangeSet`. :func:`detect` is the thin git layer that finds the paths: files changed between
``merge-base(base, head)`` and ``head`` (plus the work tree with ``uncommitted``).

The mapping:

- ``components/<name>/...`` (any file: code, Dockerfile, README, golden cases): ``<name>`` changed
  directly; when the folder no longer exists at head, ``<name>`` was deleted (a rename is a deletion
  plus a new component).
- ``base-images/<name>/...``: that base image changed; every base image and component that builds
  FROM it, directly or through other base images, is affected.
- any path a component ``include``s (``libs/<lib>/...`` usually): that component is affected.
- ``pipelines/...``: that pipeline changed.
- ``tools/``, ``ci/``, ``tests/``, ``benchmarks/``, ``pyproject.toml``, ``Makefile``, ``buildspec.yml``:
  tooling changed. Tooling selects no image: image tags are content addresses of the image's own
  files, so a tooling change cannot make an image stale.
- anything else (README.md, docs): reported as other.

When git cannot answer the question (a shallow clone without the merge base, an unknown base
revision), the change set says why and treats every component and base image as changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from r2o import git
from r2o.case_refs import golden_sources
from r2o.errors import GitError, UsageError
from r2o.repo import BASE_IMAGES, COMPONENTS, LIBS, PIPELINES, Repository

TOOLING_DIRS = ("tools", "ci", "tests", "benchmarks", ".ci")
TOOLING_FILES = ("pyproject.toml", "Makefile", "buildspec.yml", "CONTRIBUTING.md")
ADDED, MODIFIED, DELETED = "A", "M", "D"


# --- the repository's shape, as plain data -----------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What exists at head: component -> base image, base image -> parent, component -> includes.

    ``stage_images`` are a component's other build images (``build.images``: multi-stage builds).
    """

    component_bases: Mapping[str, str]
    image_parents: Mapping[str, str | None]
    includes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stage_images: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    golden_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # other cases' expected/

    @classmethod
    def of(cls, repo: Repository) -> Layout:
        """The layout of ``repo``; every manifest must be valid (a broken folder is an error, not skipped)."""
        loaded = repo.require_valid()
        return cls(
            component_bases={n: c.base for n, c in loaded.components.items()},
            image_parents={n: i.parent for n, i in loaded.images.items()},
            includes={n: c.build.include for n, c in loaded.components.items()},
            stage_images={
                n: tuple(c.build.images.values()) for n, c in loaded.components.items() if c.build.images
            },
            golden_sources={
                n: refs for n, c in loaded.components.items() if (refs := golden_sources(c.folder))
            },
        )


@dataclass(frozen=True)
class FileChange:
    status: str  # ADDED, MODIFIED or DELETED (renames arrive as a deletion plus an addition)
    path: str  # repository-relative POSIX path


# --- the result ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeSet:
    base: str  # the revision asked for
    head: str  # the revision compared ("WORKTREE" with uncommitted changes)
    merge_base: str | None  # None when history is missing
    files: tuple[FileChange, ...]
    components_changed: tuple[str, ...]  # a file under components/<name>/ changed
    components_affected: Mapping[str, tuple[str, ...]]  # name -> why (base image chain, includes)
    base_images_changed: tuple[str, ...]
    base_images_affected: Mapping[str, tuple[str, ...]]  # base images whose parent chain changed
    libs_changed: tuple[str, ...]
    pipelines_changed: tuple[str, ...]
    components_deleted: tuple[str, ...]
    base_images_deleted: tuple[str, ...]
    tooling_changed: tuple[str, ...]
    other_changed: tuple[str, ...]
    history_missing: str = ""  # why git could not answer; then everything counts as changed

    @property
    def everything(self) -> bool:
        return bool(self.history_missing)

    @property
    def components(self) -> list[str]:
        """Components to build and test: changed directly or affected, sorted."""
        return sorted({*self.components_changed, *self.components_affected})

    @property
    def base_images(self) -> list[str]:
        return sorted({*self.base_images_changed, *self.base_images_affected})

    @property
    def images(self) -> list[str]:
        """Every image to build: base images first, then components."""
        return [*self.base_images, *self.components]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "merge_base": self.merge_base,
            "history_missing": self.history_missing or None,
            "everything": self.everything,
            "components": self.components,
            "components_changed": list(self.components_changed),
            "components_affected": {k: list(v) for k, v in sorted(self.components_affected.items())},
            "base_images_changed": list(self.base_images_changed),
            "base_images_affected": {k: list(v) for k, v in sorted(self.base_images_affected.items())},
            "libs_changed": list(self.libs_changed),
            "pipelines_changed": list(self.pipelines_changed),
            "components_deleted": list(self.components_deleted),
            "base_images_deleted": list(self.base_images_deleted),
            "tooling_changed": list(self.tooling_changed),
            "other_changed": list(self.other_changed),
            "files": [{"status": f.status, "path": f.path} for f in self.files],
        }


# --- pure logic ---------------------------------------------------------------------------------------


def _top(path: str) -> tuple[str, str | None]:
    """("components", "wrf") for components/wrf/x.py; (top, None) for a file directly under top."""
    parts = PurePosixPath(path).parts
    return parts[0], (parts[1] if len(parts) > 2 else None)


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.strip("/")
    return path == prefix or path.startswith(prefix + "/")


def _image_chain(layout: Layout, image: str) -> list[str]:
    """``image`` and its ancestors (child first); a loop or a missing parent ends the walk."""
    chain: list[str] = []
    cur: str | None = image
    while cur is not None and cur in layout.image_parents and cur not in chain:
        chain.append(cur)
        cur = layout.image_parents[cur]
    return chain


def classify(
    files: Sequence[FileChange], layout: Layout, *, base: str, head: str, merge_base: str | None
) -> ChangeSet:
    """Map changed files onto components, base images, libs, pipelines and tooling."""
    comp_changed: set[str] = set()
    comp_deleted: set[str] = set()
    img_changed: set[str] = set()
    img_deleted: set[str] = set()
    libs: set[str] = set()
    pipelines: set[str] = set()
    tooling: set[str] = set()
    other: set[str] = set()
    comp_why: dict[str, set[str]] = {}

    include_index: list[tuple[str, str]] = [
        (inc.strip("/"), comp) for comp, incs in layout.includes.items() for inc in incs
    ]
    for change in files:
        path = change.path
        top, name = _top(path)
        if top == COMPONENTS and name is not None:
            (comp_changed if name in layout.component_bases else comp_deleted).add(name)
        elif top == BASE_IMAGES and name is not None:
            (img_changed if name in layout.image_parents else img_deleted).add(name)
        elif top == LIBS and name is not None:
            libs.add(name)
        elif top == PIPELINES:
            pipelines.add(PurePosixPath(path).stem if name is None else name)
        elif top in TOOLING_DIRS or path in TOOLING_FILES:
            tooling.add(path)
        else:
            other.add(path)  # README.md, docs, or a loose file such as components/README.md
        for inc, comp in include_index:
            if _under(path, inc):
                comp_why.setdefault(comp, set()).add(f"includes {inc}")
        for comp, sources in layout.golden_sources.items():
            for source in sources:
                if _under(path, source):
                    producer = source.split("/")[1]
                    comp_why.setdefault(comp, set()).add(f"golden input from {producer} changed")

    # Base images affected through their parent chain; components through their base image's chain.
    img_why: dict[str, set[str]] = {}
    for img in layout.image_parents:
        for ancestor in _image_chain(layout, img)[1:]:
            if ancestor in img_changed:
                img_why.setdefault(img, set()).add(f"base image {ancestor} changed")
    for comp, base_name in layout.component_bases.items():
        for image in (base_name, *layout.stage_images.get(comp, ())):
            for ancestor in _image_chain(layout, image):
                if ancestor in img_changed:
                    comp_why.setdefault(comp, set()).add(f"base image {ancestor} changed")
    for comp in comp_changed:
        comp_why.pop(comp, None)
    for img in img_changed:
        img_why.pop(img, None)

    return ChangeSet(
        base=base,
        head=head,
        merge_base=merge_base,
        files=tuple(sorted(files, key=lambda f: f.path)),
        components_changed=tuple(sorted(comp_changed)),
        components_affected={k: tuple(sorted(v)) for k, v in sorted(comp_why.items())},
        base_images_changed=tuple(sorted(img_changed)),
        base_images_affected={k: tuple(sorted(v)) for k, v in sorted(img_why.items())},
        libs_changed=tuple(sorted(libs)),
        pipelines_changed=tuple(sorted(pipelines)),
        components_deleted=tuple(sorted(comp_deleted)),
        base_images_deleted=tuple(sorted(img_deleted)),
        tooling_changed=tuple(sorted(tooling)),
        other_changed=tuple(sorted(other)),
    )


def everything(layout: Layout, *, base: str, head: str, reason: str) -> ChangeSet:
    """The change set when history is missing: every component and base image counts as changed."""
    return ChangeSet(
        base=base,
        head=head,
        merge_base=None,
        files=(),
        components_changed=tuple(sorted(layout.component_bases)),
        components_affected={},
        base_images_changed=tuple(sorted(layout.image_parents)),
        base_images_affected={},
        libs_changed=(),
        pipelines_changed=(),
        components_deleted=(),
        base_images_deleted=(),
        tooling_changed=(),
        other_changed=(),
        history_missing=reason,
    )


# --- the thin git layer -------------------------------------------------------------------------------

WORKTREE = "WORKTREE"
DEFAULT_BASE = "HEAD~1"


def _name_status(raw: bytes) -> list[FileChange]:
    """Parse ``git diff --name-status --no-renames -z`` output."""
    fields = [f for f in raw.decode("utf-8", "surrogateescape").split("\0")]
    out: list[FileChange] = []
    i = 0
    while i + 1 < len(fields):
        status, path = fields[i], fields[i + 1]
        if not status:
            break
        code = status[0]
        out.append(FileChange(DELETED if code == DELETED else ADDED if code == ADDED else MODIFIED, path))
        i += 2
    return out


def changed_files(root: Path, merge_base: str, head: str | None) -> list[FileChange]:
    """Files changed from ``merge_base`` to ``head`` (to the work tree, untracked files too, when None)."""
    target = [head] if head is not None else []
    proc = git.run(root, "diff", "--name-status", "--no-renames", "-z", merge_base, *target, "--")
    if proc.returncode != 0:
        raise GitError(f"git diff {merge_base} {head or ''} failed: {proc.stderr.decode().strip()}")
    files = _name_status(proc.stdout)
    if head is None:
        untracked = git.run(root, "ls-files", "-z", "--others", "--exclude-standard")
        seen = {f.path for f in files}
        for name in untracked.stdout.decode("utf-8", "surrogateescape").split("\0"):
            if name and name not in seen:
                files.append(FileChange(ADDED, name))
    return files


def is_shallow(root: Path) -> bool:
    proc = git.run(root, "rev-parse", "--is-shallow-repository")
    return proc.stdout.decode().strip() == "true"


def detect(
    repo: Repository, *, base: str | None = None, head: str | None = None, uncommitted: bool = False
) -> ChangeSet:
    """The change set of ``merge-base(base, head)..head`` (plus the work tree with ``uncommitted``)."""
    root = repo.root
    base = base or DEFAULT_BASE
    head_rev = head or "HEAD"
    inside = git.run(root, "rev-parse", "--show-toplevel")
    if inside.returncode != 0:
        raise GitError(
            f"{root} is not a git checkout, so r2o cannot tell what changed",
            hint="run inside a git clone, or build by name: r2o build NAME",
        )
    head_sha = git.rev(root, head_rev)
    if head_sha is None:
        raise GitError(f"unknown head revision '{head_rev}'", hint="pass --head with a commit, branch or tag")
    if uncommitted and head is not None and head_sha != git.rev(root, "HEAD"):
        raise UsageError(
            "--uncommitted compares with the work tree: it cannot be combined with --head",
            hint="drop --head, or drop --uncommitted",
        )
    layout = Layout.of(repo)
    shown_head = WORKTREE if uncommitted else head_rev
    shallow = is_shallow(root)
    base_sha = git.rev(root, base)
    if base_sha is None:
        why = f"base revision '{base}' is unknown"
        if shallow:
            why += " (this is a shallow clone: fetch more history, e.g. git fetch --unshallow)"
        return everything(layout, base=base, head=shown_head, reason=why)
    proc = git.run(root, "merge-base", base_sha, head_sha)
    if proc.returncode != 0:
        why = f"'{base}' and '{head_rev}' have no common ancestor in this clone"
        if shallow:
            why += " (a shallow clone: fetch more history, e.g. git fetch --unshallow)"
        return everything(layout, base=base, head=shown_head, reason=why)
    merge_base = proc.stdout.decode().strip()
    files = changed_files(root, merge_base, None if uncommitted else head_sha)
    return classify(files, layout, base=base, head=shown_head, merge_base=merge_base)


def summary_lines(changes: ChangeSet) -> list[str]:
    """A readable report, one fact per line."""
    lines: list[str] = []
    if changes.everything:
        lines.append(f"history is missing: {changes.history_missing}")
        lines.append("treating every component and base image as changed")
    else:
        start = changes.merge_base[:12] if changes.merge_base else "?"
        n = len(changes.files)
        if changes.head == WORKTREE:
            lines.append(
                f"changes from {start} (merge-base of {changes.base} and HEAD) to the work tree, "
                f"uncommitted and untracked files included: {n} file{'s' * (n != 1)}"
            )
        else:
            lines.append(
                f"changes from {start} (merge-base of {changes.base} and {changes.head}) "
                f"to {changes.head}: {n} file{'s' * (n != 1)}"
            )

    def block(title: str, names: Iterable[str], limit: int = 0) -> None:
        names = list(names)
        if limit and len(names) > limit:
            names = [*names[:limit], f"... and {len(names) - limit} more (--json lists them all)"]
        if names:
            lines.append(f"{title}: {', '.join(names)}")

    block("base images changed", changes.base_images_changed)
    for name, why in changes.base_images_affected.items():
        lines.append(f"base image affected: {name} ({'; '.join(why)})")
    block("components changed", changes.components_changed)
    for name, why in changes.components_affected.items():
        lines.append(f"component affected: {name} ({'; '.join(why)})")
    block("libs changed", changes.libs_changed)
    block("pipelines changed", changes.pipelines_changed)
    block("components deleted", changes.components_deleted)
    block("base images deleted", changes.base_images_deleted)
    block("tooling changed", changes.tooling_changed, limit=10)
    block("other files changed", changes.other_changed, limit=10)
    if not changes.images and not changes.everything:
        lines.append("no image is affected")
    return lines
