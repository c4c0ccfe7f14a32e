"""A pipeline over a date range, as a task graph: plain frozen dataclasses, built without running anything.

One task per (step, day) for ``foreach: day`` steps, one task for the others. A task's inputs name
where each file comes from (a pipeline file, or an output of another task); its ``deps`` are the
tasks it waits for. Tasks are listed in a valid execution order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from r2o.errors import UsageError
from r2o.manifest import Parameter
from r2o.pipeline.spec import PREVIOUS, Pipeline, Step

# A century, leap days included (256,200 AQcast tasks, planned in about 15 s): a longer period is
# several runs. Batch ranges past 10,000 days (its array limit) are split into chunks.
MAX_DAYS = 36_600


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

    @property
    def dates(self) -> list[str]:
        return [(self.start + dt.timedelta(days=i)).isoformat() for i in range(self.days)]

    @property
    def end(self) -> dt.date:
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
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(
            f"--days {days} is outside 1-{MAX_DAYS}",
            hint=f"a run covers at most {MAX_DAYS} days (a century); split a longer period into several runs",
        )
    if (dt.date.max - start).days < days - 1:
        raise UsageError(
            f"--start {start.isoformat()} --days {days} ends after {dt.date.max.isoformat()}, "
            "the last date r2o can represent",
            hint="choose an earlier --start or fewer --days",
        )
    graph = TaskGraph(pipeline, start, days)
    dates = graph.dates
    base_vars = {"start": dates[0], "end": dates[-1]}
    tasks: list[Task] = []
    for step in pipeline.steps.values():
        for i, day in enumerate(dates if step.per_day else [None]):
            variables = {**base_vars, **({"day": day} if day is not None else {})}
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
                    if i == 0:
                        continue  # the first day has no previous day: the optional input stays unbound
                    src_day = dates[i - 1]
                else:
                    src_day = day if producer.per_day else None
                source = Source(task=task_id(producer, src_day), output=b.output, day=src_day)
                inputs.append(TaskInput(name, (source,)))
                assert source.task is not None
                deps.append(source.task)
            tasks.append(
                Task(
                    id=task_id(step, day),
                    step=step.name,
                    component=step.component.name,
                    day=day,
                    parameters=params,
                    inputs=tuple(inputs),
                    deps=tuple(dict.fromkeys(deps)),
                    vcpus=float(step.component.resources.vcpus),
                )
            )
    return TaskGraph(pipeline, start, days, _topological(tasks))


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
