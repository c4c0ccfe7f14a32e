"""`r2o new`: render a working component folder from the templates in r2o/templates/new/.

The folder is rendered into a hidden staging folder under components/, validated, built and run
(its golden case's expected outputs are recorded through the real build and run), and only then
renamed to components/NAME. On any failure the staging folder is removed: nothing half-written
is left behind.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from r2o import fs, manifest, names, workspace
from r2o.errors import InputError, ManifestError, UsageError
from r2o.golden import runner
from r2o.images.build import BuildEvent
from r2o.images.plan import ImageGraph
from r2o.render.templating import render
from r2o.repo import COMPONENTS, Repository
from r2o.run.backend import Backend, prepare

TEMPLATES = ("python", "fortran")
DEFAULT_BASE = {"python": "python-sci", "fortran": "fortran"}


MAX_DESCRIPTION = 500  # component.schema.json: description maxLength
DEFAULT_OWNER = "science-team"
# Unicode categories that break "one line of text": controls (tab, CR, LF, NEL, NUL, ...),
# surrogates (not encodable as UTF-8) and the line and paragraph separators.
_NOT_ONE_LINE = frozenset({"Cc", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class NewComponent:
    """What `r2o new` will create, as data."""

    name: str
    template: str
    base: str
    description: str
    owners: tuple[str, ...] = (DEFAULT_OWNER,)
    vcpus: int = 1

    def check(self) -> None:
        """What can be checked without the repository: name, template, vCPUs, description, owners."""
        problem = names.problem(self.name)
        if problem:
            raise UsageError(f"not a valid component name: {problem}", hint=names.hint(self.name))
        if self.template not in TEMPLATES:
            raise UsageError(
                f"unknown template '{self.template}'", hint=f"choose one of {', '.join(TEMPLATES)}"
            )
        if self.vcpus < 1:
            raise UsageError("--vcpus must be at least 1")
        _check_line("--description", self.description, MAX_DESCRIPTION)
        if not self.owners:
            raise UsageError("give at least one --owner", hint=f"e.g. --owner {DEFAULT_OWNER}")
        for owner in self.owners:
            _check_line("--owner", owner, MAX_DESCRIPTION)
        repeated = sorted({o for o in self.owners if self.owners.count(o) > 1})
        if repeated:
            raise UsageError(f"--owner {repeated[0]!r} is given twice", hint="name each owner once")

    def context(self) -> dict[str, object]:
        return {
            "name": self.name,
            "template": self.template,
            "base": self.base,
            "description": self.description,
            "owners": list(self.owners),
            "vcpus": self.vcpus,
            "module": "algorithm",
            "example_field": example_field(),
            "example_profile": example_profile(),
        }


def _check_line(option: str, text: str, limit: int) -> None:
    """``text`` is one non-empty line of at most ``limit`` characters (a UsageError otherwise)."""
    if not text.strip():
        raise UsageError(f"{option} must not be empty")
    bad = next((c for c in text if unicodedata.category(c) in _NOT_ONE_LINE), None)
    if bad is not None:
        raise UsageError(
            f"{option} must be one line of text; it holds the character U+{ord(bad):04X}",
            hint="write it on one line, without tabs or control characters",
        )
    if len(text) > limit:
        raise UsageError(f"{option} is {len(text)} characters long; the limit is {limit}")


def example_field(ny: int = 8, nx: int = 10) -> list[list[str]]:
    """A deterministic 2-D bump with a ridge, rounded so the CSV is exact."""
    rows = []
    for j in range(ny):
        row = []
        for i in range(nx):
            value = 10 * math.exp(-((i - 4.5) ** 2 + (j - 3.5) ** 2) / 6) + 0.5 * (i % 3)
            row.append(f"{value:.3f}")
        rows.append(row)
    return rows


def example_profile(nx: int = 64) -> list[str]:
    """A Gaussian pulse on 64 cells."""
    return [f"{math.exp(-((i - 16) ** 2) / 18):.6f}" for i in range(nx)]


def check_request(repo: Repository, request: NewComponent) -> None:
    request.check()
    target = repo.root / COMPONENTS / request.name
    if target.exists():
        raise InputError(
            f"{repo.rel(target)} already exists", hint="choose another name, or edit that folder"
        )
    images = repo.loaded.images
    if request.base not in images:
        raise UsageError(
            f"no base image named '{request.base}'", hint=f"base images: {', '.join(sorted(images))}"
        )


def template_files(template: str) -> list[str]:
    """Relative paths of a template's .j2 files (templates/new/TEMPLATE/...)."""
    root = resources.files("r2o").joinpath("templates", "new", template)
    out: list[str] = []

    def walk(node: object, prefix: str) -> None:
        for child in node.iterdir():  # type: ignore[attr-defined]
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif child.name.endswith(".j2"):
                out.append(rel)

    walk(root, "")
    return sorted(out)


def render_into(folder: Path, request: NewComponent) -> list[Path]:
    """Write the template's files for ``request`` into ``folder`` (no Docker, no repository)."""
    request.check()
    context = request.context()
    written = []
    for rel in template_files(request.template):
        target_rel = rel[: -len(".j2")]
        if target_rel == "algorithm.py":
            target_rel = f"{context['module']}.py"
        text = render(f"new/{request.template}/{rel}", **context)
        path = folder / target_rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


BackendFor = Callable[[ImageGraph, str], Backend]
"""The backend that runs a component of an image graph, its image built first."""


def create(
    repo: Repository,
    request: NewComponent,
    *,
    report: Callable[[BuildEvent], None] | None = None,
    backend_for: BackendFor | None = None,
) -> Path:
    """Render, validate, build, record the golden case, then move the folder into place; finally
    build the folder's own content tag (its recorded expected/ files are part of it), so the next
    `r2o test` or `r2o run` starts at once."""
    if backend_for is None:

        def backend_for(graph: ImageGraph, name: str) -> Backend:
            return prepare(repo, [name], native=False, build_missing=True, graph=graph, report=report)

    check_request(repo, request)
    components = repo.root / COMPONENTS
    session = workspace.session(repo.root)
    staging_root = components / f".new-{request.name}.partial-{session.id}"
    session.note_external(staging_root)  # removed by the next r2o if this one is killed
    os.mkdir(staging_root, 0o700)
    try:
        folder = staging_root / request.name
        render_into(folder, request)
        try:
            component = manifest.load(folder)
        except ManifestError as exc:  # a template bug, not the user's: say so
            raise InputError(f"the {request.template} template rendered an invalid manifest:\n{exc}") from exc
        loaded = repo.loaded
        graph = ImageGraph(repo.root, loaded.images, {component.name: component})
        backend = backend_for(graph, component.name)
        executor, image = backend.executor, backend.image(component.name)
        runner.record(repo, component, executor, image)
        verdicts = runner.check_component(repo, component, executor, image)
        failed = [v for v in verdicts if not v.ok]
        if failed:
            raise InputError(f"the new component's golden case does not pass: {failed[0].message}")
        target = components / request.name
        folder.rename(target)
    finally:
        fs.remove_tree(staging_root)
    backend_for(ImageGraph.from_repo(Repository(repo.root)), request.name)
    return target
