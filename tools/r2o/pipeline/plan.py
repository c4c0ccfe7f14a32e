"""A pipeline over a date range, as a task graph: plain frozen dataclasses, built without running anything.

One task per (step, day) for ``foreach: day`` steps, one task for the others. A task's inputs name
where each file comes from (a pipeline file, or an output of another task); its ``deps`` are the
tasks it waits for. Tasks are listed in a valid execution order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from r2o import strict_yaml
from r2o.errors import ManifestError, Problem, R2OError, UsageError
from r2o.manifest import Component, Parameter
from r2o.pipeline.spec import PREVIOUS, Pipeline, Step
from r2o.strict_yaml import YamlDocument, format_path

# A century, leap days included (256,200 AQcast tasks, planned in about 15 s): a longer period is
# several runs. Batch ranges past 10,000 days (its array limit) are split into chunks.
MAX_DAYS = 36_600
# A symbolic day and the day before it (see step_template); the Batch launcher substitutes them.
DAY = "@DAY@"
PREVIOUS_DAY = "@PREV@"


@dataclass(frozen=True)
class Source:
    """One file feeding an input: a pipeline file, or an output of a task."""

    path: str | None = None  # a pipeline input, ${day} resolved
    task: str | None = None
    output: str | None = None
    day: str | None = None  # the producing day (names the file in a collected directory)


@dataclass(frozen=True)
class TaskInput:
    name: str
    sources: tuple[Source, ...]
    collect: bool = False  # a directory holding every source, else one file

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "collect": self.collect,
            "sources": [{k: v for k, v in vars(s).items() if v is not None} for s in self.sources],
        }


@dataclass(frozen=True)
class Task:
    id: str  # "step" or "step/YYYY-MM-DD"
    step: str
    component: str
    day: str | None
    parameters: Mapping[str, str]  # as strings, ready for make_plan
    inputs: tuple[TaskInput, ...]
    deps: tuple[str, ...]
    vcpus: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "component": self.component,
            "day": self.day,
            "parameters": dict(self.parameters),
            "inputs": [i.as_dict() for i in self.inputs],
            "deps": list(self.deps),
            "vcpus": self.vcpus,
        }


@dataclass(frozen=True)
class TaskGraph:
    pipeline: Pipeline
    start: dt.date
    days: int
    tasks: tuple[Task, ...] = field(default=())

    @cached_property
    def dates(self) -> list[str]:
        """Every simulated day: the reported ones, then the pipeline's look-ahead days."""
        total = self.days + self.pipeline.lookahead_days
        return [(self.start + dt.timedelta(days=i)).isoformat() for i in range(total)]

    @property
    def end(self) -> dt.date:
        """The last reported day."""
        return self.start + dt.timedelta(days=self.days - 1)

    @property
    def run_name(self) -> str:
        return f"{self.start.isoformat()}+{self.days}d"

    @cached_property
    def _by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def task(self, task_id: str) -> Task:
        return self._by_id[task_id]

    def dependents(self, task_id: str) -> set[str]:
        """Every task that (transitively) waits for ``task_id``."""
        out: set[str] = set()
        frontier = {task_id}
        while frontier:
            nxt = {t.id for t in self.tasks if set(t.deps) & frontier} - out
            out |= nxt
            frontier = nxt
        return out

    def critical_path(self, seconds: Mapping[str, float]) -> float:
        """The longest chain of task durations (the lower bound of any schedule's wall time)."""
        finish: dict[str, float] = {}
        for t in self.tasks:
            finish[t.id] = max((finish[d] for d in t.deps), default=0.0) + seconds.get(t.id, 0.0)
        return max(finish.values(), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline.name,
            "start": self.start.isoformat(),
            "days": self.days,
            "tasks": [t.as_dict() for t in self.tasks],
        }


def task_id(step: Step, day: str | None) -> str:
    return f"{step.name}/{day}" if step.per_day and day is not None else step.name


def substitute(text: str, variables: Mapping[str, str]) -> str:
    for key, value in variables.items():
        text = text.replace("${" + key + "}", value)
    return text


def make_graph(pipeline: Pipeline, start: dt.date, days: int) -> TaskGraph:
    """The task graph of ``pipeline`` over ``days`` days from ``start``; every task's parameters are
    checked against its component (a ManifestError naming the task, parameter and pipeline file)."""
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(
            f"--days {days} is outside 1-{MAX_DAYS}",
            hint=f"a run covers at most {MAX_DAYS} days (a century); split a longer period into several runs",
        )
    if (dt.date.max - start).days < days - 1 + pipeline.lookahead_days:
        raise UsageError(
            f"--start {start.isoformat()} --days {days}"
            + (f" (and {pipeline.lookahead_days} look-ahead day(s))" if pipeline.lookahead_days else "")
            + f" ends after {dt.date.max.isoformat()}, the last date r2o can represent",
            hint="choose an earlier --start or fewer --days",
        )
    graph = TaskGraph(pipeline, start, days)
    dates = graph.dates
    tasks: list[Task] = []
    for step in pipeline.steps.values():
        if step.per_day:
            tasks.extend(
                _task(pipeline, step, dates, day, dates[i - 1] if i else None) for i, day in enumerate(dates)
            )
        else:
            tasks.append(_task(pipeline, step, dates, None, None))
    check_parameters(pipeline, tasks)
    return TaskGraph(pipeline, start, days, _topological(tasks))


def step_template(graph: TaskGraph, step: Step) -> Task:
    """The task of a ``foreach: day`` step for a symbolic day: :data:`DAY` where a task holds its day,
    :data:`PREVIOUS_DAY` where it holds the day before. Built by the code that builds every task, so an
    array job whose children learn their day at run time (AWS Batch) shares the graph's interpretation;
    its parameters are not checked (the real tasks are)."""
    return _task(graph.pipeline, step, graph.dates, DAY, PREVIOUS_DAY)


def _task(pipeline: Pipeline, step: Step, dates: list[str], day: str | None, previous: str | None) -> Task:
    """The task of ``step`` on ``day`` (None: a once-only step); ``previous`` is the day before, None on
    the first day of the range (a ``day: previous`` input is then unbound)."""
    variables = {
        "start": dates[0],
        "end": dates[len(dates) - 1 - pipeline.lookahead_days],
        "lookahead": str(pipeline.lookahead_days),
        **({"day": day} if day is not None else {}),
    }
    params = {
        k: substitute(v, variables) if isinstance(v, str) else Parameter.format(v)
        for k, v in step.parameters.items()
    }
    inputs: list[TaskInput] = []
    deps: list[str] = []
    for name, b in step.inputs.items():
        if b.pipeline is not None:
            pin = pipeline.inputs[b.pipeline]
            inputs.append(TaskInput(name, (Source(path=substitute(pin.path, variables)),)))
            continue
        assert b.step is not None and b.output is not None
        producer = pipeline.steps[b.step]
        if b.collect:
            sources = tuple(Source(task=task_id(producer, d), output=b.output, day=d) for d in dates)
            inputs.append(TaskInput(name, sources, collect=True))
            deps.extend(s.task for s in sources if s.task is not None)
            continue
        src_day: str | None
        if b.day == PREVIOUS:
            if previous is None:
                continue  # the first day has no previous day: the optional input stays unbound
            src_day = previous
        else:
            src_day = day if producer.per_day else None
        source = Source(task=task_id(producer, src_day), output=b.output, day=src_day)
        inputs.append(TaskInput(name, (source,)))
        assert source.task is not None
        deps.append(source.task)
    return Task(
        id=task_id(step, day),
        step=step.name,
        component=step.component.name,
        day=day,
        parameters=params,
        inputs=tuple(inputs),
        deps=tuple(dict.fromkeys(deps)),
        vcpus=float(step.component.resources.vcpus),
    )


def check_parameters(pipeline: Pipeline, tasks: Sequence[Task]) -> None:
    """Parse every task's parameters as its component's run will (``${day}``, ``${start}`` and ``${end}``
    substituted), for every backend, before anything runs. One located problem per step and parameter
    (its first bad task, and how many more), all of them in one ManifestError."""
    varying = {
        step.name: {k for k, v in step.parameters.items() if isinstance(v, str) and "${" in v}
        for step in pipeline.steps.values()
    }
    constant: dict[tuple[str, str], str] = {}  # a value without variables: checked once per step
    bad: dict[tuple[str, str], tuple[Task, str, int]] = {}  # the first bad task, and how many more
    for task in tasks:
        component = pipeline.steps[task.step].component
        for name, text in task.parameters.items():
            key = (task.step, name)
            problem = constant.get(key)
            if problem is None:
                problem = _problem(component, name, text)
                if name not in varying[task.step]:
                    constant[key] = problem
            if problem:
                first = bad.get(key)
                bad[key] = (task, problem, 0) if first is None else (first[0], first[1], first[2] + 1)
    if not bad:
        return
    file = _shown(pipeline.file)
    doc = _document(pipeline.file)
    problems = []
    for (step, name), (task, problem, more) in bad.items():
        at = ("steps", step, "parameters", name)
        also = f" (and {more} more task{'s' if more != 1 else ''} of step {step})" if more else ""
        problems.append(
            Problem(
                file,
                format_path(at),
                f"task {task.id}: {problem}{also}",
                doc.line(at) if doc is not None else None,
                "the value, once ${day}, ${start} and ${end} are substituted, must fit the parameter's "
                f"type and bounds in {pipeline.steps[step].component.name}'s component.yaml",
            )
        )
    raise ManifestError(problems, hint="fix the pipeline, then run: r2o pipeline plan " + pipeline.name)


def _problem(component: Component, name: str, text: str) -> str:
    """ "" when ``text`` parses as ``component``'s parameter ``name``, else what is wrong with it."""
    param = component.parameters.get(name)
    if param is None:
        return f"{component.name} has no parameter '{name}'"
    try:
        param.parse(text)
    except UsageError as exc:
        return exc.message
    return ""


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when under it (as the user named it), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _document(path: Path) -> YamlDocument | None:
    """The pipeline file again, for the line of a field (None when it cannot be read any more)."""
    try:
        return strict_yaml.load(path)
    except (R2OError, OSError):
        return None


def _topological(tasks: list[Task]) -> tuple[Task, ...]:
    """Steps are already in dependency order, but a day-to-day chain needs days in order within a step:
    a stable sort by (longest dependency chain) keeps both, and lists day 1 of every step first."""
    depth: dict[str, int] = {}
    # Producers precede consumers in ``tasks`` (step order, then day order), so one pass suffices.
    for t in tasks:
        depth[t.id] = 1 + max((depth[d] for d in t.deps), default=-1)
    return tuple(sorted(tasks, key=lambda t: depth[t.id]))


def parse_start(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--start {text!r} is not a date (YYYY-MM-DD)") from None
