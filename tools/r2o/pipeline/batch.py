"""A pipeline's task graph as AWS Batch array jobs: pipeline job definitions + a few SubmitJob calls.

Design (pure data; ``submit`` is the only function that calls AWS):

- The array jobs group the tasks of the :class:`~r2o.pipeline.plan.TaskGraph` (the graph the local
  executor runs): the tasks of a ``foreach: day`` step over a chunk of at most 10,000 consecutive
  days (Batch's array limit) are one array job, child ``i`` the chunk's ``i``-th day; a once-only
  step is a plain job. A one-day chunk is a plain job too (arrays have at least 2 children).
- Dependencies come from the tasks' ``deps``: children that wait for the child of the same index of
  another array job of the same size make ``N_TO_N``; a child waiting for the child before it in
  its own job makes ``SEQUENTIAL`` (the day-to-day chain); any other wait is a plain dependency on
  the whole job (a fan-in, a once-only producer, the previous chunk). At most 20 ``dependsOn`` per
  job (checked). AQcast over 365 days: 7 calls.
- Paths: array children share one command, and a component's container paths are fixed
  (/data/input/..., /data/output/...). So each component gets a pipeline job definition derived from
  its rendered one (``r2o.render.batch``): the shared data lake (EFS root or a host path) is mounted
  at /data/lake, and /data/input and /data/output are per-task tmpfs mounts. The SubmitJob's
  ``containerOverrides.command`` runs the :mod:`r2o.pipeline.launcher` script, which learns its day
  from its array index, copies that day's inputs from the lake into /data/input, runs the
  component's command with ``@DAY@`` replaced, then moves /data/output into
  ``/data/lake/<run>/<task id>/`` (``<step>/<day>`` or ``<step>``).
- One command per job, exact for every child: the command is the step's task for a symbolic day
  (:func:`~r2o.pipeline.plan.step_template`), and :func:`make_plan` checks that substituting each
  child's day gives exactly that child's task: its inputs, its output folder and the argv a local
  run of the task would have (its parameters typed as ``r2o run`` types them).
- Lake layout: ``pipelines/<name>/<start>+<days>d/<step>/<day>/<file>``, the local run directory's
  layout; pipeline inputs are read at their (repository-relative) path under the lake.
- S3 data mode (``DataVolume.s3_bucket``): no lake. The job definition keeps the component's
  scratch /data/input and /data/output (``r2o.render.batch``) and the command is
  ``r2o-stage SPEC -- ARGV``: the same inputs, day rule and output folder as the launcher's specs,
  as one JSON object whose keys are S3 keys under the run's prefix (``runs/<run>``): a task's
  outputs at ``<prefix>/<task id>/<path under /data/output>``, pipeline inputs at
  ``<prefix>/inputs/<input name>/<file name>`` (:func:`s3_inputs`, the service's run layout).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from r2o.errors import UsageError
from r2o.images.plan import ImageGraph
from r2o.manifest import OUTPUT_ROOT, Component, Parameter
from r2o.pipeline import launcher, spec
from r2o.pipeline.launcher import LAUNCHER as LAUNCHER  # re-exported: tests and docs name batch.LAUNCHER
from r2o.pipeline.launcher import day_of as day_of
from r2o.pipeline.plan import DAY, PREVIOUS_DAY, Source, Task, TaskGraph, make_graph, step_template
from r2o.pipeline.spec import Pipeline
from r2o.render.batch import (
    DATA_VOLUMES,
    STAGER,
    TAG_DEFINITION_HASH,
    BatchOptions,
    JobDefinition,
    payload_hash,
    render_component,
)

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

    from r2o.aws.session import AwsTarget
    from r2o.repo import Repository

MAX_ARRAY_SIZE = 10_000
MAX_DEPENDS_ON = 20
LAKE = PurePosixPath("/data/lake")
LAKE_VOLUME = "lake"
TASK_DIRS = ("/data/input", "/data/output")
TAG_PIPELINE = "r2o:pipeline"
N_TO_N = "N_TO_N"


@dataclass(frozen=True)
class ArrayJob:
    """One SubmitJob call; ``depends_on`` names earlier jobs by ``name`` (ids exist only after submission)."""

    name: str
    step: str
    definition: str
    first_day: str
    size: int  # children (1 = a plain job)
    command: tuple[str, ...]
    depends_on: tuple[tuple[str, str | None], ...] = ()  # (job name, "N_TO_N" or None)
    sequential: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_api(self, queue: str, ids: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The SubmitJob request; without ``ids``, dependencies show as ``${job:NAME}``."""
        request: dict[str, Any] = {
            "jobName": self.name,
            "jobQueue": queue,
            "jobDefinition": self.definition,
            "containerOverrides": {"command": list(self.command)},
            "tags": dict(self.tags),
            "propagateTags": True,
        }
        depends: list[dict[str, str]] = []
        for name, kind in self.depends_on:
            entry = {"jobId": ids[name] if ids is not None else "${job:" + name + "}"}
            if kind:
                entry["type"] = kind
            depends.append(entry)
        if self.sequential and self.size > 1:
            depends.append({"type": "SEQUENTIAL"})
        if depends:
            request["dependsOn"] = depends
        if self.size > 1:
            request["arrayProperties"] = {"size": self.size}
        return request


@dataclass(frozen=True)
class BatchPlan:
    graph: TaskGraph
    definitions: tuple[JobDefinition, ...]
    jobs: tuple[ArrayJob, ...]
    lake_run: str  # the run's folder in the lake, or its key prefix in S3 data mode
    bucket: str | None = None  # S3 data mode

    @property
    def where(self) -> str:
        """Where the run's outputs land."""
        return f"s3://{self.bucket}/{self.lake_run}" if self.bucket else f"{LAKE}/{self.lake_run}"

    def submit_calls(self, queue: str) -> list[dict[str, Any]]:
        return [job.to_api(queue) for job in self.jobs]

    def as_dict(self, queue: str) -> dict[str, Any]:
        return {
            "pipeline": self.graph.pipeline.name,
            "start": self.graph.start.isoformat(),
            "days": self.graph.days,
            "lake_run": self.lake_run,
            "register_job_definitions": [d.payload for d in self.definitions],
            "submit_jobs": self.submit_calls(queue),
        }


def definition_for(component: Component, image: str, options: BatchOptions, pipeline: str) -> JobDefinition:
    """The component's job definition with the lake at /data/lake and per-task /data/input, /data/output."""
    base = render_component(component, image, options)
    payload = copy.deepcopy(base.payload)
    name = f"{options.name_prefix}{pipeline}-{component.name}"
    payload["jobDefinitionName"] = name
    container = payload["containerProperties"]
    data = options.data
    if data.s3_bucket is not None:  # S3 data mode: the component's scratch volumes, no lake
        payload["tags"][TAG_PIPELINE] = pipeline
        payload["tags"][TAG_DEFINITION_HASH] = payload_hash(payload)
        return JobDefinition(component.name, base.manifest_path, payload)
    if data.host_path is not None:
        lake: dict[str, Any] = {"name": LAKE_VOLUME, "host": {"sourcePath": data.host_path}}
    else:
        efs: dict[str, Any] = {
            "fileSystemId": data.efs_file_system_id,
            "transitEncryption": "ENABLED",
            "authorizationConfig": {"iam": "ENABLED"},
        }
        if data.efs_access_point_id is not None:
            efs["authorizationConfig"]["accessPointId"] = data.efs_access_point_id
        else:
            efs["rootDirectory"] = "/"
        lake = {"name": LAKE_VOLUME, "efsVolumeConfiguration": efs}
    others = [v for v in container["volumes"] if v["name"] not in DATA_VOLUMES]
    mounts = [m for m in container["mountPoints"] if m["sourceVolume"] not in DATA_VOLUMES]
    container["volumes"] = [lake, *others]
    container["mountPoints"] = [
        {"sourceVolume": LAKE_VOLUME, "containerPath": LAKE.as_posix(), "readOnly": False},
        *mounts,
    ]
    if "tmpfs" in container.get("linuxParameters", {}):
        container["linuxParameters"]["tmpfs"] += [
            {"containerPath": p, "size": 4096, "mountOptions": ["rw", "nosuid", "nodev", "mode=1777"]}
            for p in TASK_DIRS
        ]
    else:  # Fargate: task-local scratch volumes stand in for tmpfs
        for p in TASK_DIRS:
            vol = p.rsplit("/", 1)[-1]
            container["volumes"].append({"name": vol})
            container["mountPoints"].append({"sourceVolume": vol, "containerPath": p, "readOnly": False})
    payload["tags"][TAG_PIPELINE] = pipeline
    payload["tags"][TAG_DEFINITION_HASH] = payload_hash(payload)
    return JobDefinition(component.name, base.manifest_path, payload)


@dataclass(frozen=True)
class _Group:
    """The tasks of one job, child ``i`` = ``tasks[i]``."""

    name: str
    step: str
    tasks: tuple[Task, ...]
    per_day: bool


def make_plan(
    graph: TaskGraph, images: Mapping[str, str], options: BatchOptions, run_prefix: str | None = None
) -> BatchPlan:
    """``images``: component name -> image reference in the registry. ``run_prefix``: the run's folder
    (S3 data mode: its key prefix, default ``runs/<pipeline>-<start>+<days>d``; the lake: its folder
    under /data/lake, default ``pipelines/<pipeline>/<start>+<days>d``)."""
    pipeline = graph.pipeline
    s3 = options.data.s3_bucket
    default = (
        f"runs/{pipeline.name}-{graph.run_name}" if s3 else f"pipelines/{pipeline.name}/{graph.run_name}"
    )
    lake_run = (run_prefix or default).strip("/")
    definitions: dict[str, JobDefinition] = {}
    for step in pipeline.steps.values():
        comp = step.component
        if comp.entrypoint:
            raise UsageError(
                f"step {step.name}: {comp.name} declares an entrypoint; the Batch launcher "
                "needs an image without one"
            )
        if comp.name not in definitions:
            definitions[comp.name] = definition_for(comp, images[comp.name], options, pipeline.name)
    groups = _groups(graph)
    where = {task.id: (g, i) for g, group in enumerate(groups) for i, task in enumerate(group.tasks)}
    templates = {s.name: step_template(graph, s) for s in pipeline.steps.values() if s.per_day}
    lake = _Lake(graph, s3=s3 is not None)
    jobs: list[ArrayJob] = []
    for g, group in enumerate(groups):
        depends, sequential = _dependencies(graph, groups, g, where)
        component = pipeline.steps[group.step].component
        template = templates[group.step] if group.per_day else group.tasks[0]
        jobs.append(
            ArrayJob(
                name=group.name,
                step=group.step,
                definition=definitions[component.name].name,
                first_day=group.tasks[0].day or graph.start.isoformat(),
                size=len(group.tasks),
                command=_command(graph, group, template, lake_run, lake, where, options),
                depends_on=depends,
                sequential=sequential,
                tags={TAG_PIPELINE: pipeline.name, "r2o:step": group.step, "r2o:component": component.name},
            )
        )
    return BatchPlan(graph, tuple(definitions.values()), tuple(jobs), lake_run, s3)


def _groups(graph: TaskGraph) -> list[_Group]:
    """The graph's tasks as jobs: per step (in the pipeline's order), chunks of consecutive days."""
    by_step: dict[str, list[Task]] = {name: [] for name in graph.pipeline.steps}
    for task in graph.tasks:
        by_step[task.step].append(task)
    chunked = graph.days > MAX_ARRAY_SIZE
    groups: list[_Group] = []
    for name, tasks in by_step.items():
        base = f"{graph.pipeline.name}-{name}"
        if not graph.pipeline.steps[name].per_day:
            groups.append(_Group(base, name, tuple(tasks), per_day=False))
            continue
        tasks.sort(key=lambda t: t.day or "")
        if [t.day for t in tasks] != graph.dates:
            raise AssertionError(f"step {name} does not have one task per day of the run")
        for c in range(0, len(tasks), MAX_ARRAY_SIZE):
            suffix = f"-{c // MAX_ARRAY_SIZE}" if chunked else ""
            groups.append(_Group(base + suffix, name, tuple(tasks[c : c + MAX_ARRAY_SIZE]), per_day=True))
    return groups


def _dependencies(
    graph: TaskGraph, groups: Sequence[_Group], g: int, where: Mapping[str, tuple[int, int]]
) -> tuple[tuple[tuple[str, str | None], ...], bool]:
    """``dependsOn`` of job ``g`` (in the order its tasks name them), and whether it is SEQUENTIAL."""
    group = groups[g]
    size = len(group.tasks)
    aligned: dict[int, bool] = {}  # producer job -> every wait so far is child i -> its child i
    sequential = False
    for i, task in enumerate(group.tasks):
        for dep in task.deps:
            p, j = where[dep]
            if p == g:
                if j != i - 1:
                    raise UsageError(
                        f"{graph.pipeline.file}: task {task.id} waits for {dep} of the same array job; "
                        "on AWS Batch a child can wait only for the child before it (SEQUENTIAL)",
                        hint=f"run the pipeline locally: r2o pipeline run {graph.pipeline.name}",
                    )
                sequential = True
                continue
            same = size > 1 and len(groups[p].tasks) == size and j == i
            aligned[p] = aligned.get(p, True) and same
    depends = tuple((groups[p].name, N_TO_N if same else None) for p, same in aligned.items())
    if len(depends) > MAX_DEPENDS_ON:
        raise UsageError(
            f"job {group.name} would need {len(depends)} dependencies; AWS Batch allows {MAX_DEPENDS_ON}",
            hint="submit a shorter date range",
        )
    return depends, sequential and size > 1


class _Lake:
    """Where a source lives in the lake: a pipeline file at its path, a task's output in its folder.
    In S3 data mode the same as keys under the run's prefix (``@RUN@``): a task's output at its path
    under /data/output (where r2o-stage uploads it), a pipeline file at its relative path."""

    def __init__(self, graph: TaskGraph, *, s3: bool = False) -> None:
        self.s3 = s3
        self.filenames = {
            (step.name, out.name): _output_file(out.path, out.filename) if s3 else out.filename
            for step in graph.pipeline.steps.values()
            for out in step.component.outputs
        }
        self.run = launcher.RUN if s3 else f"{LAKE}/{launcher.RUN}"

    def path(self, source: Source) -> str:
        if source.path is not None:
            if not self.s3:
                return f"{LAKE}/{source.path.lstrip('/')}"
            rel = PurePosixPath(source.path)
            if rel.is_absolute() or ".." in rel.parts:
                raise UsageError(
                    f"pipeline input {source.path}: in S3 data mode a pipeline input is a path relative "
                    "to the run's prefix (inputs/<input>/<file>)"
                )
            return f"{launcher.RUN}/{rel}"
        assert source.task is not None and source.output is not None
        filename = self.filenames[(source.task.split("/", 1)[0], source.output)]
        return f"{self.run}/{source.task}/{filename}"


def _output_file(path: str, filename: str) -> str:
    """An output's path under /data/output (its key under the task's folder), stdout.txt for stdout."""
    if path == "stdout":
        return filename
    return PurePosixPath(path).relative_to(OUTPUT_ROOT).as_posix()


def s3_inputs(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with its inputs read at ``inputs/<input name>/<file name>`` under the run's prefix
    (S3 data mode; the service's run folder has the same layout)."""
    inputs = {
        name: replace(pin, path=f"inputs/{name}/{PurePosixPath(pin.path).name}")
        for name, pin in pipeline.inputs.items()
    }
    return replace(pipeline, inputs=inputs)


def _command(
    graph: TaskGraph,
    group: _Group,
    template: Task,
    lake_run: str,
    lake: _Lake,
    where: Mapping[str, tuple[int, int]],
    options: BatchOptions,
) -> tuple[str, ...]:
    """The launcher command of ``group`` (whose tasks are ``template`` on their days), checked to give
    each child exactly its task; in S3 data mode the same as r2o-stage's command."""
    comp = graph.pipeline.steps[group.step].component
    # an input some children lack (day: previous, on the first day) is copied only where it exists
    everywhere = {tin.name for tin in template.inputs}
    for task in group.tasks:
        everywhere &= {tin.name for tin in task.inputs}
    specs: list[str] = []
    staged: list[dict[str, Any]] = []
    for tin in template.inputs:
        spec = comp.input(tin.name)
        if tin.collect:
            template_path, count, first = _collected(lake, tin.sources, graph.dates)
            specs += ["all", spec.path, template_path, count, first]
            staged.append(
                {
                    "kind": "all",
                    "name": tin.name,
                    "dest": spec.path,
                    "key": template_path,
                    "count": int(count),
                    "first": first,
                }
            )
            continue
        kind = "in" if spec.required and tin.name in everywhere else "opt"
        specs += [kind, spec.path, lake.path(tin.sources[0])]
        staged.append({"kind": kind, "name": tin.name, "dest": spec.path, "key": lake.path(tin.sources[0])})
    out = f"{lake.run}/{template.id}"
    specs += ["out", out]
    if any(o.is_stdout for o in comp.outputs):
        specs.append("stdout")
    # typed as a run types them; a value holding the symbolic day stays text (the child's day, then)
    typed = {k: v if DAY in v else comp.parameters[k].parse(v) for k, v in template.parameters.items()}
    values = comp.resolve_parameters(typed)
    argv = comp.command_with(values)
    _check_children(comp, group, template, values, out, lake, where)
    first_day = group.tasks[0].day or graph.start.isoformat()
    if options.data.s3_bucket is None:
        return launcher.command(first_day, lake_run, tuple(specs), argv)
    stage = {
        "bucket": options.data.s3_bucket,
        "run": lake_run,
        "task": template.id,
        "first_day": group.tasks[0].day,
        "inputs": staged,
        "outputs": [{"name": o.name, "path": o.path} for o in comp.outputs],
        "storage_mib": comp.resources.storage_mib,
        "provenance": {
            "pipeline": graph.pipeline.name,
            "component": comp.name,
            "version": comp.version,
            "parameters": {k: Parameter.format(v) for k, v in values.items()},
        },
    }
    return (STAGER, json.dumps(stage, sort_keys=True, separators=(",", ":")), "--", *argv)


def _check_children(
    comp: Component,
    group: _Group,
    template: Task,
    values: Mapping[str, Any],
    out: str,
    lake: _Lake,
    where: Mapping[str, tuple[int, int]],
) -> None:
    """The launcher's view of each task of ``group`` (the template on the task's day) is exactly the
    task: the parameters a run of the task has (parsed and formatted as a run does), its output folder
    and its inputs. A value without the symbolic day is the same text in every task, parsed once."""
    varying = [k for k, v in template.parameters.items() if DAY in v]
    constant = [(k, v) for k, v in template.parameters.items() if DAY not in v]
    names = {tin.name for tin in template.inputs}
    inputs = [(tin, lake.path(tin.sources[0]) if not tin.collect else "") for tin in template.inputs]
    folder = f"{lake.run}/"
    prev = _previous(group.tasks[0].day) if group.per_day else ""
    for task in group.tasks:
        day = task.day or ""

        def child(text: str, day: str = day, prev: str = prev) -> str:
            return text.replace(DAY, day).replace(PREVIOUS_DAY, prev) if day else text

        problems = []
        given = task.parameters
        if len(given) != len(template.parameters) or any(given.get(k) != v for k, v in constant):
            problems.append(f"parameters {dict(given)}")
        for k in varying:
            runs = Parameter.format(comp.parameters[k].parse(given[k])) if k in given else None
            if runs != child(values[k]):
                problems.append(f"parameter {k} {child(values[k])!r} instead of {runs!r}")
        if child(out) != folder + task.id:
            problems.append(f"output folder {child(out)}")
        have = {tin.name: tin for tin in task.inputs}
        for tin, path in inputs:
            if tin.collect:
                if have.get(tin.name) != tin:
                    problems.append(f"collected input {tin.name}")
            elif tin.name in have:
                if child(path) != lake.path(have[tin.name].sources[0]):
                    problems.append(f"input {tin.name} from {child(path)}")
            elif tin.sources[0].task is None or child(tin.sources[0].task) in where:
                problems.append(f"input {tin.name} from {child(path)}, which the task does not have")
        if not names.issuperset(have):
            problems.append(f"no input {', '.join(sorted(set(have) - names))}")
        if problems:
            problem = "; ".join(problems)
            raise AssertionError(f"the Batch command of task {task.id} is not the task: {problem}")
        prev = day  # the tasks of an array job are consecutive days


def _previous(day: str | None) -> str:
    """The launcher's day before ``day``."""
    assert day is not None
    if day == "0001-01-01":
        return "0000-12-31"  # no task's day (datetime.date cannot hold it)
    return (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()


def _collected(lake: _Lake, sources: Sequence[Source], dates: Sequence[str]) -> tuple[str, str, str]:
    """``TEMPLATE COUNT FIRST`` of an ``all`` spec: a step's output on every day of the run."""
    first = sources[0]
    assert first.task is not None and first.output is not None
    step = first.task.split("/", 1)[0]
    if list(sources) != [Source(task=f"{step}/{d}", output=first.output, day=d) for d in dates]:
        raise AssertionError(f"a collected input is not {step}'s {first.output} on every day of the run")
    template = lake.path(Source(task=f"{step}/{launcher.COLLECTED_DAY}", output=first.output))
    return template, str(len(dates)), dates[0]


def validate_submit_calls(calls: Sequence[Mapping[str, Any]]) -> list[str]:
    """botocore's parameter validation of each SubmitJob request against the Batch service model."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("batch").operation_model("SubmitJob")
    assert model.input_shape is not None
    problems = []
    for call in calls:
        report = ParamValidator().validate(dict(call), model.input_shape)
        if report.has_errors():
            problems.append(f"{call.get('jobName')}: {report.generate_report()}")
    return problems


def submit(client: BatchClient, plan: BatchPlan, queue: str) -> list[dict[str, str]]:
    """Register (when changed) the pipeline job definitions, then submit every job in order."""
    from r2o.aws.deploy import deploy
    from r2o.aws.jobs import require_queue
    from r2o.aws.session import aws_errors

    require_queue(client, queue)
    deploy(client, list(plan.definitions))
    ids: dict[str, str] = {}
    out = []
    for job in plan.jobs:
        with aws_errors(f"submitting {job.name}"):
            answer = client.submit_job(**job.to_api(queue, ids))
        ids[job.name] = answer["jobId"]
        out.append({"jobName": job.name, "jobId": answer["jobId"], "size": str(job.size)})
    return out


@dataclass(frozen=True)
class Submission:
    plan: BatchPlan
    jobs: tuple[Mapping[str, str], ...]  # jobName, jobId, size (as text) of each SubmitJob, in order


def plan_pipeline(repo: Repository, name: str, start: dt.date, days: int, options: BatchOptions) -> BatchPlan:
    """Pipeline ``name`` over ``days`` days from ``start`` on Batch: its task graph (every task's
    parameters checked), images at their content tags in ``options.registry``, job definitions checked
    with botocore's model."""
    from r2o.aws.validate import check  # botocore's model: loaded only by the commands that send or show

    pipeline = spec.load(repo, name)
    if options.data.s3_bucket is not None:
        pipeline = s3_inputs(pipeline)
    graph = make_graph(pipeline, start, days)
    image_graph = ImageGraph.from_repo(repo)
    images = {
        s.component.name: image_graph.ref(s.component.name, options.registry)
        for s in graph.pipeline.steps.values()
    }
    plan = make_plan(graph, images, options)
    check(plan.definitions)
    return plan


def render(
    repo: Repository, name: str, start: dt.date, days: int, options: BatchOptions, queue: str
) -> BatchPlan:
    """:func:`plan_pipeline`, with its SubmitJob calls to ``queue`` checked with botocore's model."""
    plan = plan_pipeline(repo, name, start, days, options)
    problems = validate_submit_calls(plan.submit_calls(queue))
    if problems:
        raise UsageError("rendered SubmitJob calls fail botocore validation:\n" + "\n".join(problems))
    return plan


def submit_pipeline(
    repo: Repository,
    name: str,
    start: dt.date,
    days: int,
    options: BatchOptions,
    queue: str,
    target: AwsTarget,
) -> Submission:
    """:func:`render`, then register the job definitions that changed and submit every job to ``queue``."""
    plan = render(repo, name, start, days, options, queue)
    return Submission(plan, tuple(submit(target.batch(), plan, queue)))


def to_json(plan: BatchPlan, queue: str) -> str:
    return json.dumps(plan.as_dict(queue), indent=2) + "\n"
