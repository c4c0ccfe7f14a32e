"""`r2o validate` as a service: check everything later commands will use, report all of it at once.

- component manifests and base images (schema, meaning, cross references; ``Repository.loaded``);
- pipelines (``r2o.pipeline.spec``);
- every golden ``case.yaml`` of every valid component, loaded as ``r2o test`` loads it, and its
  ``from:`` references (the component, case and output must exist);
- every Dockerfile of a valid component or base image, through the lint rules of
  ``r2o.dockerfile_lint`` (errors fail, warnings are reported);
- names that would become the same CloudFormation logical id (``x-2`` and ``x2``).

The result is data (``Report``); the CLI prints it once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from r2o import strict_yaml
from r2o.dockerfile_lint import BASE_IMAGE_ARG, ERROR, Finding, LintContext, lint_file
from r2o.errors import ManifestError, NotFoundError, Problem, did_you_mean
from r2o.golden.cases import CASE_FILE, FromOutput, case_folders, load_case
from r2o.manifest import Component
from r2o.names import logical_id
from r2o.repo import BASE_IMAGES, COMPONENTS, Repository


@dataclass(frozen=True)
class Report:
    components: list[str] = field(default_factory=list)
    base_images: list[str] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)  # "component/case" of the cases that loaded
    dockerfiles: list[str] = field(default_factory=list)  # repository-relative paths linted
    problems: list[Problem] = field(default_factory=list)  # everything that fails validation
    findings: list[Finding] = field(default_factory=list)  # every lint finding, errors and warnings

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != ERROR]


def resolve_target(repo: Repository, arg: Path) -> Path:
    """A PATH as given (relative to the current directory), else a component, base image or pipeline
    name, as a repository-relative path; what is none of these is an error, never a silent "ok"."""
    from r2o.pipeline import spec

    if arg.exists():
        return repo.rel(arg.resolve())
    name = str(arg)
    named = [repo.root / COMPONENTS / name, repo.root / BASE_IMAGES / name]
    named += [f for f in spec.pipeline_files(repo) if f.stem == name]
    for candidate in named:
        if candidate.exists():
            return repo.rel(candidate)
    raise NotFoundError(
        f"{name}: no such path, component, base image or pipeline",
        hint="components: " + ", ".join(sorted(repo.loaded.components)),
    )


def validate(repo: Repository, wanted: list[Path] | None = None) -> Report:
    """Check the repository (or only what lies under the repository-relative paths ``wanted``)."""
    from r2o.pipeline import spec

    loaded = repo.loaded
    pipelines, pipeline_problems = spec.problems_in_repo(repo)
    problems: list[Problem] = [*loaded.problems, *pipeline_problems]
    problems += _id_collisions(repo)
    case_folders_found: list[tuple[str, Path]] = []
    for name in sorted(loaded.components):
        found, case_problems = _cases(repo, loaded.components[name])
        case_folders_found += found
        problems += case_problems
    findings: list[Finding] = []
    dockerfiles: list[str] = []
    for path, context in _dockerfiles(repo):
        dockerfiles.append(str(repo.rel(path)))
        for finding in lint_file(path, context):
            findings.append(_relative(repo, finding))
    problems += [f.problem() for f in findings if f.severity == ERROR]
    components, images = sorted(loaded.components), sorted(loaded.images)
    if wanted:

        def asked(path: Path | str) -> bool:
            rel = repo.rel(repo.root / path)
            return any(rel == w or w in rel.parents for w in wanted)

        problems = [p for p in problems if asked(p.file)]
        findings = [f for f in findings if asked(f.file)]
        components = [n for n in components if asked(loaded.components[n].folder)]
        images = [n for n in images if asked(loaded.images[n].folder)]
        case_folders_found = [(c, f) for c, f in case_folders_found if asked(f)]
        dockerfiles = [d for d in dockerfiles if asked(d)]
        files = {f.stem: f for f in spec.pipeline_files(repo)}
        pipelines = [n for n in pipelines if asked(files[n])]
    cases = [case_id for case_id, _ in case_folders_found]
    return Report(components, images, pipelines, cases, dockerfiles, problems, findings)


def _relative(repo: Repository, finding: Finding) -> Finding:
    return Finding(
        repo.rel(finding.file),
        finding.line,
        finding.rule,
        finding.name,
        finding.severity,
        finding.message,
        finding.help,
    )


def _dockerfiles(repo: Repository) -> list[tuple[Path, LintContext]]:
    """Each valid component's and base image's Dockerfile with what r2o passes it."""
    loaded = repo.loaded
    out: list[tuple[Path, LintContext]] = []
    for name in sorted(loaded.images):
        img = loaded.images[name]
        args = frozenset({BASE_IMAGE_ARG}) if img.parent is not None else frozenset()
        out.append((img.folder / img.dockerfile, LintContext(image_args=args)))
    for name in sorted(loaded.components):
        comp = loaded.components[name]
        args = frozenset({BASE_IMAGE_ARG, *comp.build.images})
        out.append((comp.folder / comp.build.dockerfile, LintContext(image_args=args)))
    # A missing Dockerfile is already a problem of its manifest (Repository's cross checks).
    return [(path, ctx) for path, ctx in out if path.is_file()]


def _cases(repo: Repository, component: Component) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """The golden cases of ``component`` that load (id, folder), and the problems of those that do not."""
    found: list[tuple[str, Path]] = []
    problems: list[Problem] = []
    for folder in case_folders(component):
        try:
            case = load_case(component, folder)
        except ManifestError as exc:
            problems += [
                Problem(repo.rel(Path(p.file)), p.field, p.message, p.line, p.hint) for p in exc.problems
            ]
            continue
        refs = {k: v for k, v in case.inputs.items() if isinstance(v, FromOutput)}
        ref_problems = _from_problems(repo, folder / CASE_FILE, refs) if refs else []
        problems += ref_problems
        if not ref_problems:
            found.append((case.id, repo.rel(folder)))
    return found, problems


def _from_problems(repo: Repository, path: Path, refs: dict[str, FromOutput]) -> list[Problem]:
    """``from:`` inputs name a valid component, one of its golden cases and one of its outputs."""
    doc = strict_yaml.load(path)  # loaded once already by load_case: it parses
    rel = repo.rel(path)
    loaded = repo.loaded
    out: list[Problem] = []
    for key, ref in refs.items():
        at: tuple[str | int, ...] = ("inputs", key, "from")
        producer = loaded.components.get(ref.component)
        if producer is None:
            hint = did_you_mean(ref.component, loaded.components) or "components: " + ", ".join(
                sorted(loaded.components)
            )
            exists = (repo.root / COMPONENTS / ref.component).is_dir()
            message = (
                f"component '{ref.component}' has an invalid manifest"
                if exists
                else f"no component named '{ref.component}'"
            )
            out.append(
                Problem(rel, f"inputs.{key}.from.component", message, doc.line((*at, "component")), hint)
            )
            continue
        case_names = [f.name for f in case_folders(producer)]
        if ref.case not in case_names:
            out.append(
                Problem(
                    rel,
                    f"inputs.{key}.from.case",
                    f"{ref.component} has no golden case '{ref.case}'",
                    doc.line((*at, "case")),
                    did_you_mean(ref.case, case_names)
                    or f"cases of {ref.component}: {', '.join(case_names) or 'none'}",
                )
            )
        outputs = [o.name for o in producer.outputs]
        if ref.output not in outputs:
            out.append(
                Problem(
                    rel,
                    f"inputs.{key}.from.output",
                    f"{ref.component} has no output '{ref.output}'",
                    doc.line((*at, "output")),
                    did_you_mean(ref.output, outputs) or f"outputs of {ref.component}: {', '.join(outputs)}",
                )
            )
    return out


def _id_collisions(repo: Repository) -> list[Problem]:
    """Components and base images whose names give the same CloudFormation logical id."""
    loaded = repo.loaded
    by_id: dict[str, list[tuple[str, Path]]] = defaultdict(list)
    for name, comp in loaded.components.items():
        by_id[logical_id(name)].append((name, comp.manifest_path))
    for name, img in loaded.images.items():
        by_id[logical_id(name)].append((name, img.manifest_path))
    out: list[Problem] = []
    for lid, owners in sorted(by_id.items()):
        if len(owners) < 2:
            continue
        listed = " and ".join(f"'{n}'" for n, _ in sorted(owners))
        for _, path in sorted(owners):
            doc = strict_yaml.load(path)
            out.append(
                Problem(
                    repo.rel(path),
                    "name",
                    f"{listed} both become the CloudFormation id '{lid}' (hyphens are dropped)",
                    doc.line(("name",)),
                    "rename one of them",
                )
            )
    return out
