"""image.yaml: a base image that components build FROM, rooted in a Debian rootfs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from r2o import names, schema, strict_yaml
from r2o.errors import ManifestError, Problem
from r2o.strict_yaml import YamlDocument

IMAGE_FILE = "image.yaml"


@dataclass(frozen=True)
class Rootfs:
    suite: str
    variant: str = "minbase"
    include: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaseImage:
    name: str
    version: str
    description: str
    folder: Path
    dockerfile: str = "Dockerfile"
    rootfs: Rootfs | None = None
    parent: str | None = None
    packages: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_minutes: float | None = None  # build.minutes: CodeBuild minutes to build and push (r2o ci plan)

    @property
    def manifest_path(self) -> Path:
        return self.folder / IMAGE_FILE


def problems_in(doc: YamlDocument) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return [Problem(doc.file, "", "expected a mapping at the top level", doc.line(()))]
    problems = schema.validate(doc, "image")
    if problems:
        return [_explain_one_of(p) for p in problems]
    out: list[Problem] = []
    name = doc.data["name"]
    problem = names.problem(name)
    if problem:
        out.append(Problem(doc.file, "name", problem, doc.line(("name",)), names.hint(name)))
    version_problem = names.version_problem(doc.data["version"])
    if version_problem:
        out.append(
            Problem(
                doc.file,
                "version",
                version_problem,
                doc.line(("version",)),
                "drop the +... part, or use a pre-release suffix such as 1.0.0-rc1",
            )
        )
    folder = doc.file.parent.name
    if name != folder:
        out.append(
            Problem(
                doc.file,
                "name",
                f"'{name}' differs from the folder name '{folder}'",
                doc.line(("name",)),
                f"set name: {folder}",
            )
        )
    return out


def _explain_one_of(p: Problem) -> Problem:
    if p.field == "" and ("valid under any of" in p.message or "valid under each of" in p.message):
        return Problem(
            p.file, "", "give exactly one of 'rootfs' (a root image) or 'parent' (a derived image)", p.line
        )
    return p


def load(folder: Path) -> BaseImage:
    doc = strict_yaml.load(folder / IMAGE_FILE)
    problems = problems_in(doc)
    if problems:
        raise ManifestError(problems)
    d = doc.data
    rootfs = d.get("rootfs")
    return BaseImage(
        name=d["name"],
        version=d["version"],
        description=d["description"],
        folder=folder,
        dockerfile=d.get("dockerfile", "Dockerfile"),
        rootfs=Rootfs(
            suite=rootfs["suite"],
            variant=rootfs.get("variant", "minbase"),
            include=tuple(rootfs.get("include", ())),
            exclude_paths=tuple(rootfs.get("exclude_paths", ())),
        )
        if rootfs
        else None,
        parent=d.get("parent"),
        packages=tuple(d.get("packages", ())),
        build_args=dict(d.get("build_args", {})),
        build_minutes=float(d["build"]["minutes"]) if "minutes" in d.get("build", {}) else None,
    )
