"""pipelines/<name>.yaml: schema, semantic checks against the component manifests, frozen dataclasses.

A pipeline names steps; each step runs one component, optionally once per day of the run's date
range (``foreach: day``), with parameters (``${day}``, ``${start}``, ``${end}`` are substituted)
and inputs bound to a pipeline input or to an output of another step::

    inputs: {coarse: {path: .r2o/inputs/coarse/coarse_${day}.nc, format: netcdf}}
    steps:
      wrf:  {component: wrf, foreach: day, parameters: {date: "${day}"}, inputs: {coarse: {pipeline: coarse}}}
      cmaq: {component: cmaq, foreach: day,
             inputs: {restart: {step: cmaq, output: cgrid, day: previous}}}   # the day-to-day chain
      compliance: {component: aq-compliance,
                   inputs: {conc: {step: cmaq, output: conc, collect: all}}}   # fan-in: a directory

Binding rules (checked here, each problem located by file, field and line):
- a per-day step feeds a per-day step day by day (``day: same``), or the day before
  (``day: previous``: the input must be optional, since the first day has none);
- a per-day step feeds a once-only step only through ``collect: all`` into a directory input;
- a once-only step feeds anything as is (a per-day consumer sees the same file every day);
- the producer's output format equals the consumer input's format (``any`` matches all);
- every required input is bound; no cycles (``day: previous`` edges point back in time and are
  not part of a cycle).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r2o import names, schema, strict_yaml
from r2o.errors import ManifestError, NotFoundError, Problem, UsageError, did_you_mean
from r2o.manifest import Component, DataSpec
from r2o.repo import PIPELINES, Repository
from r2o.strict_yaml import YamlDocument

PIPELINE_SUFFIX = ".yaml"
FOREACH_DAY = "day"
SAME = "same"
PREVIOUS = "previous"
VARIABLES = ("day", "start", "end", "lookahead")
_VAR = re.compile(r"\$\{([A-Za-z_]+)\}")


@dataclass(frozen=True)
class PipelineInput:
    name: str
    path: str  # may hold ${day}
    format: str
    kind: str = "file"
    description: str = ""
    prepare: tuple[str, ...] = ()  # a command that makes a missing file (${day}, ${path})

    @property
    def per_day(self) -> bool:
        return "${day}" in self.path


@dataclass(frozen=True)
class Binding:
    """Where one input of a step comes from."""

    pipeline: str | None = None  # a pipeline input, or
    step: str | None = None  # a step's ...
    output: str | None = None  # ... output
    day: str = SAME
    collect: bool = False


@dataclass(frozen=True)
class Step:
    name: str
    component: Component
    foreach: str | None
    parameters: Mapping[str, Any] = field(default_factory=dict)  # raw values, may hold ${day}
    inputs: Mapping[str, Binding] = field(default_factory=dict)

    @property
    def per_day(self) -> bool:
        return self.foreach == FOREACH_DAY


@dataclass(frozen=True)
class Pipeline:
    name: str
    description: str
    file: Path
    inputs: Mapping[str, PipelineInput]
    steps: Mapping[str, Step]  # in dependency order (producers first)
    # days simulated after the last reported one (AQcast: the next morning's hours complete the
    # evening's 8-hour ozone windows); a step sees the count as ${lookahead}
    lookahead_days: int = 0


def pipeline_files(repo: Repository) -> list[Path]:
    folder = repo.root / PIPELINES
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def path_of(repo: Repository, name: str) -> Path:
    """The file of pipeline ``name``; a NotFoundError with a hint when there is none."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        candidate = Path(name)
        if not candidate.is_absolute():
            candidate = Path.cwd() / candidate
        if candidate.is_file():
            return candidate
    target = repo.root / PIPELINES / f"{name}{PIPELINE_SUFFIX}"
    if target.is_file():
        return target
    known = [p.stem for p in pipeline_files(repo)]
    raise NotFoundError(
        f"no pipeline named '{name}' (looked for {repo.rel(target)})",
        hint=did_you_mean(name, known) or f"pipelines: {', '.join(known) or 'none yet'}",
    )


def load(repo: Repository, name: str) -> Pipeline:
    path = path_of(repo, name)
    try:
        doc = strict_yaml.load(path)
        return from_document(repo, doc)
    except ManifestError as exc:
        raise ManifestError(
            [Problem(repo.rel(Path(p.file)), p.field, p.message, p.line, p.hint) for p in exc.problems],
            hint="fix the pipeline, then run: r2o validate",
        ) from None


def problems_in_repo(repo: Repository) -> tuple[list[str], list[Problem]]:
    """Names of the valid pipelines, and every problem of the others (for `r2o validate`)."""
    names: list[str] = []
    problems: list[Problem] = []
    for path in pipeline_files(repo):
        try:
            from_document(repo, strict_yaml.load(path))
        except ManifestError as exc:
            problems.extend(
                Problem(repo.rel(Path(p.file)), p.field, p.message, p.line, p.hint) for p in exc.problems
            )
        else:
            names.append(path.stem)
    return names, problems


def from_document(repo: Repository, doc: YamlDocument) -> Pipeline:
    if not isinstance(doc.data, dict):
        raise ManifestError.single(doc.file, "", "expected a mapping of pipeline fields at the top level")
    problems = schema.validate(doc, "pipeline")
    if problems:
        raise ManifestError(problems)
    checker = _Checker(repo, doc)
    pipeline = checker.build()
    if checker.problems:
        raise ManifestError(checker.problems)
    return pipeline


class _Checker:
    """Builds the dataclasses while collecting every semantic problem."""

    def __init__(self, repo: Repository, doc: YamlDocument) -> None:
        self.repo = repo
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, at: tuple[str | int, ...], message: str, hint: str = "") -> None:
        self.problems.append(
            Problem(self.doc.file, strict_yaml.format_path(at), message, self.doc.line(at), hint)
        )

    def build(self) -> Pipeline:
        d = self.doc.data
        problem = names.problem(d["name"])
        if problem:
            self.add(("name",), problem, names.hint(d["name"]))
        if d["name"] != self.doc.file.stem:
            self.add(
                ("name",),
                f"'{d['name']}' differs from the file name '{self.doc.file.stem}'",
                f"set name: {self.doc.file.stem}, or rename the file",
            )
        inputs = {
            n: PipelineInput(
                n,
                s["path"],
                s["format"],
                s.get("kind", "file"),
                s.get("description", ""),
                tuple(s.get("prepare", ())),
            )
            for n, s in d.get("inputs", {}).items()
        }
        for n, pin in inputs.items():
            for var in _VAR.findall(pin.path):
                if var not in VARIABLES:
                    self.add(
                        ("inputs", n, "path"),
                        f"unknown variable ${{{var}}}",
                        f"variables: {', '.join('${' + v + '}' for v in VARIABLES)}",
                    )
        components: dict[str, Component] = {}
        for sname, s in d["steps"].items():
            try:
                components[sname] = self.repo.component(s["component"])
            except ManifestError:
                self.add(
                    ("steps", sname, "component"),
                    f"component '{s['component']}' has an invalid manifest",
                    "run: r2o validate",
                )
            except NotFoundError as exc:
                self.add(("steps", sname, "component"), str(exc.message), exc.hint)
        steps: dict[str, Step] = {}
        for sname, s in d["steps"].items():
            comp = components.get(sname)
            bindings = {
                k: Binding(
                    b.get("pipeline"),
                    b.get("step"),
                    b.get("output"),
                    b.get("day", SAME),
                    b.get("collect") == "all",
                )
                for k, b in s.get("inputs", {}).items()
            }
            if comp is None:
                continue
            steps[sname] = Step(sname, comp, s.get("foreach"), dict(s.get("parameters", {})), bindings)
        for step in steps.values():
            self._check_parameters(step)
            self._check_inputs(step, steps, inputs, set(d["steps"]))
        order = self._order(steps)
        return Pipeline(
            d["name"],
            d["description"],
            self.doc.file,
            inputs,
            {n: steps[n] for n in order},
            d.get("lookahead_days", 0),
        )

    def _check_parameters(self, step: Step) -> None:
        comp = step.component
        for key, value in step.parameters.items():
            at = ("steps", step.name, "parameters", key)
            try:
                comp.parameter(key)
            except UsageError as exc:
                self.add(at, exc.message, exc.hint)
                continue
            if isinstance(value, str) and _VAR.search(value):
                for var in _VAR.findall(value):
                    if var not in VARIABLES:
                        self.add(
                            at,
                            f"unknown variable ${{{var}}}",
                            f"variables: {', '.join('${' + v + '}' for v in VARIABLES)}",
                        )
                    elif var == "day" and not step.per_day:
                        self.add(at, "${day} is only defined in a step with foreach: day")
                continue
            problem = comp.parameters[key].check(value)
            if problem:
                self.add(at, problem)
        for name, param in comp.parameters.items():
            if name not in step.parameters and param.default is None:
                self.add(
                    ("steps", step.name, "parameters"), f"{comp.name} needs parameter '{name}' ({param.type})"
                )

    def _check_inputs(
        self, step: Step, steps: Mapping[str, Step], inputs: Mapping[str, PipelineInput], declared: set[str]
    ) -> None:
        comp = step.component
        for key, b in step.inputs.items():
            at: tuple[str | int, ...] = ("steps", step.name, "inputs", key)
            try:
                spec = comp.input(key)
            except Exception:
                names = [i.name for i in comp.inputs]
                self.add(
                    at,
                    f"{comp.name} has no input '{key}'",
                    did_you_mean(key, names) or f"{comp.name} takes: {', '.join(names) or 'no inputs'}",
                )
                continue
            if (b.pipeline is None) == (b.step is None):
                self.add(at, "bind an input to exactly one of 'pipeline: NAME' or 'step: NAME, output: NAME'")
                continue
            if b.pipeline is not None:
                if b.output is not None or b.collect or b.day != SAME:
                    self.add(at, "'output', 'day' and 'collect' apply to step outputs, not pipeline inputs")
                pin = inputs.get(b.pipeline)
                if pin is None:
                    self.add(
                        (*at, "pipeline"),
                        f"no pipeline input named '{b.pipeline}'",
                        did_you_mean(b.pipeline, inputs) or f"pipeline inputs: {', '.join(inputs) or 'none'}",
                    )
                    continue
                if pin.per_day and not step.per_day:
                    self.add(
                        (*at, "pipeline"),
                        f"pipeline input '{pin.name}' is one file per day (${{day}}) "
                        "but this step is not foreach: day",
                    )
                self._check_format(at, spec, pin.format, pin.kind, f"pipeline input '{pin.name}'")
                continue
            assert b.step is not None
            if b.output is None:
                self.add(at, "a step binding needs 'output: NAME'")
                continue
            producer = steps.get(b.step)
            if producer is None:
                if b.step not in declared:
                    self.add(
                        (*at, "step"),
                        f"no step named '{b.step}'",
                        did_you_mean(b.step, declared) or f"steps: {', '.join(sorted(declared))}",
                    )
                continue
            out_names = [o.name for o in producer.component.outputs]
            if b.output not in out_names:
                self.add(
                    (*at, "output"),
                    f"step '{b.step}' ({producer.component.name}) has no output '{b.output}'",
                    did_you_mean(b.output, out_names) or f"outputs: {', '.join(out_names)}",
                )
                continue
            out = producer.component.output(b.output)
            if b.collect:
                if not producer.per_day:
                    self.add(
                        (*at, "collect"),
                        f"collect: all gathers the days of a per-day step; '{b.step}' is not foreach: day",
                    )
                if step.per_day:
                    self.add((*at, "collect"), "collect: all is a fan-in: use it in a step without foreach")
                if spec.kind != "directory":
                    self.add(
                        (*at, "collect"),
                        f"collect: all makes a directory but input '{key}' of {comp.name} is a {spec.kind}",
                        "feed it into a kind: directory input",
                    )
                if out.format != spec.format and "any" not in (out.format, spec.format):
                    self.add(
                        at,
                        f"format mismatch: {b.step}.{b.output} is {out.format} but input '{key}' of "
                        f"{comp.name} expects {spec.format}",
                    )
                if b.day != SAME:
                    self.add((*at, "day"), "day: previous cannot be combined with collect: all")
                continue
            if producer.per_day and not step.per_day:
                self.add(
                    at,
                    f"step '{b.step}' runs once per day but '{step.name}' runs once",
                    "gather the days with collect: all into a directory input",
                )
                continue
            if b.day == PREVIOUS:
                if not (producer.per_day and step.per_day):
                    self.add((*at, "day"), "day: previous links two foreach: day steps")
                if spec.required:
                    self.add(
                        (*at, "day"),
                        f"input '{key}' of {comp.name} is required, but the first day has no previous day",
                        "declare the input required: false in component.yaml",
                    )
            self._check_format(at, spec, out.format, "file", f"{b.step}.{b.output}")
        for spec in comp.inputs:
            if spec.required and spec.name not in step.inputs:
                self.add(
                    ("steps", step.name, "inputs"),
                    f"required input '{spec.name}' of {comp.name} is not bound",
                    f"add {spec.name}: {{step: ..., output: ...}} or {{pipeline: ...}}",
                )

    def _check_format(
        self, at: tuple[str | int, ...], spec: DataSpec, fmt: str, kind: str, what: str
    ) -> None:
        if fmt != spec.format and "any" not in (fmt, spec.format):
            self.add(at, f"format mismatch: {what} is {fmt} but input '{spec.name}' expects {spec.format}")
        if kind != spec.kind:
            self.add(at, f"{what} is a {kind} but input '{spec.name}' expects a {spec.kind}")

    def _order(self, steps: Mapping[str, Step]) -> list[str]:
        """Producers before consumers (file order among equals); a cycle is a problem."""
        deps: dict[str, set[str]] = {}
        for n, s in steps.items():
            deps[n] = {
                b.step
                for b in s.inputs.values()
                if b.step is not None and b.step in steps and not (b.day == PREVIOUS and b.step == n)
            }
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, trail: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                loop = [*trail[trail.index(n) :], n]
                self.add(
                    ("steps", n),
                    f"steps form a cycle: {' -> '.join(loop)}",
                    "break it, or use day: previous for a day-to-day chain",
                )
                return
            state[n] = 1
            for dep in sorted(deps[n], key=list(steps).index):
                visit(dep, [*trail, n])
            state[n] = 2
            order.append(n)

        for n in steps:
            visit(n, [])
        return order
