"""A pipeline's task graph as AWS Batch array jobs: pipeline job definitions + a few SubmitJob calls.

Design (pure data; ``submit`` is the only function that calls AWS):

- One array job per ``foreach: day`` step and chunk of at most 10,000 days (Batch's array limit);
  child i of chunk c is day ``chunk_start + i``. A once-only step is a plain job. A one-day chunk is
  a plain job too (arrays have at least 2 children); its index defaults to 0.
- Dependencies: a per-day input from a per-day step is ``N_TO_N`` on that step's job of the same
  chunk; the day-to-day chain (``day: previous`` of the step itself) is ``SEQUENTIAL`` plus a plain
  dependency on its own previous chunk; a fan-in (``collect: all``) and inputs from once-only steps are
  plain dependencies. At most 20 ``dependsOn`` per job (checked). AQcast over 365 days: 7 calls.
- Paths: array children share one command, and a component's container paths are fixed
  (/data/input/..., /data/output/...). So each component gets a pipeline job definition derived from
  its rendered one (``r2o.render.batch``): the shared data lake (EFS root or a host path) is mounted
  at /data/lake, and /data/input and /data/output are per-task tmpfs mounts. The SubmitJob's
  ``containerOverrides.command`` runs :data:`LAUNCHER`, a POSIX sh script that derives the day from
  ``AWS_BATCH_JOB_ARRAY_INDEX`` and the chunk's first day (GNU date is in the images), copies that
  day's inputs from the lake into /data/input (an optional input absent on the first day is
  skipped), runs the component's command with ``@DAY@`` replaced, then copies /data/output into
  ``/data/lake/<run>/<step>/<day>/`` through a temporary directory and one ``mv`` (atomic on EFS).
- Lake layout: ``pipelines/<name>/<start>+<days>d/<step>/<day>/<file>``, the local run directory's
  layout; pipeline inputs are read at their (repository-relative) path under the lake.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from r2o.errors import UsageError
from r2o.manifest import Component
from r2o.pipeline.plan import TaskGraph, substitute
from r2o.pipeline.spec import PREVIOUS, Step
from r2o.render.batch import (
    DATA_VOLUMES,
    TAG_DEFINITION_HASH,
    BatchOptions,
    JobDefinition,
    payload_hash,
    render_component,
)

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

MAX_ARRAY_SIZE = 10_000
MAX_DEPENDS_ON = 20
LAKE = PurePosixPath("/data/lake")
LAKE_VOLUME = "lake"
TASK_DIRS = ("/data/input", "/data/output")
DAY = "@DAY@"
TAG_PIPELINE = "r2o:pipeline"

# $0 = r2o-task; $1 = the chunk's first day; $2 = the run's folder in the lake; then input/output
# specs up to "--"; then the component's command.
LAUNCHER = r"""set -eu
start=$1; run=$2; shift 2
# an array child's job id is <parent id>:<index> (the fallback where the variable is not set, e.g. moto)
case ${AWS_BATCH_JOB_ID:-} in *:*) idx=${AWS_BATCH_JOB_ID##*:};; *) idx=0;; esac
idx=${AWS_BATCH_JOB_ARRAY_INDEX:-$idx}
day=$(date -u -d "$start + $idx days" +%F)
prev=$(date -u -d "$day - 1 day" +%F)
sub() { printf '%s' "$1" | sed -e "s|@DAY@|$day|g" -e "s|@PREV@|$prev|g" -e "s|@RUN@|$run|g"; }
out=""; cap=0
while [ "$1" != "--" ]; do
  case $1 in
    in|opt)
      src=$(sub "$3")
      if [ -e "$src" ]; then mkdir -p "$(dirname "$2")"; cp -R "$src" "$2"
      elif [ "$1" = in ]; then echo "r2o-task: input $src does not exist" >&2; exit 66; fi
      shift 3;;
    all)
      mkdir -p "$2"; i=0
      while [ "$i" -lt "$4" ]; do
        d=$(date -u -d "$5 + $i days" +%F)
        s=$(printf '%s' "$3" | sed -e "s|@D@|$d|g" -e "s|@RUN@|$run|g"); b=$(basename "$s")
        cp "$s" "$2/${b%.*}_$d.${b##*.}"; i=$((i + 1))
      done
      shift 5;;
    out) out=$(sub "$2"); shift 2;;
    stdout) cap=1; shift;;
    *) echo "r2o-task: bad spec $1" >&2; exit 64;;
  esac
done
shift
n=$#; i=0
while [ "$i" -lt "$n" ]; do
  a=$1; shift
  case $a in *@DAY@*) a=$(printf '%s' "$a" | sed "s|@DAY@|$day|g");; esac
  set -- "$@" "$a"; i=$((i + 1))
done
echo "r2o-task: day $day -> $out" >&2
if [ "$cap" = 1 ]; then "$@" > /data/output/stdout.txt; cat /data/output/stdout.txt; else "$@"; fi
tmp="$(dirname "$out")/.$(basename "$out").partial.$$"
rm -rf "$tmp"; mkdir -p "$tmp"; cp -R /data/output/. "$tmp"/
rm -rf "$out"; mv "$tmp" "$out"
"""


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
    lake_run: str

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


def make_plan(graph: TaskGraph, images: Mapping[str, str], options: BatchOptions) -> BatchPlan:
    """``images``: component name -> image reference in the registry."""
    pipeline = graph.pipeline
    lake_run = f"pipelines/{pipeline.name}/{graph.run_name}"
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
    dates = graph.dates
    chunks = [dates[i : i + MAX_ARRAY_SIZE] for i in range(0, len(dates), MAX_ARRAY_SIZE)]
    names: dict[tuple[str, int], str] = {}
    jobs: list[ArrayJob] = []
    for step in pipeline.steps.values():
        for c, chunk in enumerate(chunks if step.per_day else [dates]):
            name = f"{pipeline.name}-{step.name}" + (f"-{c}" if step.per_day and len(chunks) > 1 else "")
            names[(step.name, c)] = name
            depends: list[tuple[str, str | None]] = []
            sequential = False
            for b in step.inputs.values():
                if b.step is None:
                    continue
                producer = pipeline.steps[b.step]
                if b.collect:
                    depends += [(names[(producer.name, k)], None) for k in range(len(chunks))]
                elif not producer.per_day:
                    depends.append((names[(producer.name, 0)], None))
                elif b.day == PREVIOUS and producer.name == step.name:
                    sequential = True
                    if c > 0:
                        depends.append((names[(step.name, c - 1)], None))
                elif b.day == PREVIOUS:
                    # another step's previous day: wait for its whole chunk (and the one before)
                    depends.append((names[(producer.name, c)], None))
                    if c > 0:
                        depends.append((names[(producer.name, c - 1)], None))
                else:
                    depends.append((names[(producer.name, c)], "N_TO_N" if len(chunk) > 1 else None))
            unique = list(dict.fromkeys(depends))
            if len(unique) > MAX_DEPENDS_ON:
                raise UsageError(
                    f"job {name} would need {len(unique)} dependencies; AWS Batch allows {MAX_DEPENDS_ON}",
                    hint="submit a shorter date range",
                )
            first = chunk[0]
            jobs.append(
                ArrayJob(
                    name=name,
                    step=step.name,
                    definition=definitions[step.component.name].name,
                    first_day=first,
                    size=len(chunk) if step.per_day else 1,
                    command=_command(step, graph, first, lake_run),
                    depends_on=tuple(unique),
                    sequential=sequential,
                    tags={
                        TAG_PIPELINE: pipeline.name,
                        "r2o:step": step.name,
                        "r2o:component": step.component.name,
                    },
                )
            )
    return BatchPlan(graph, tuple(definitions.values()), tuple(jobs), lake_run)


def _command(step: Step, graph: TaskGraph, first_day: str, lake_run: str) -> tuple[str, ...]:
    pipeline = graph.pipeline
    comp = step.component
    dates = graph.dates
    variables = {"start": dates[0], "end": dates[-1], "day": DAY}
    specs: list[str] = []
    for key, b in step.inputs.items():
        spec = comp.input(key)
        if b.pipeline is not None:
            path = substitute(pipeline.inputs[b.pipeline].path, variables)
            specs += ["in", spec.path, f"{LAKE}/{path.lstrip('/')}"]
            continue
        assert b.step is not None and b.output is not None
        producer = pipeline.steps[b.step]
        filename = producer.component.output(b.output).filename
        if b.collect:
            specs += [
                "all",
                spec.path,
                f"{LAKE}/@RUN@/{producer.name}/@D@/{filename}",
                str(graph.days),
                dates[0],
            ]
            continue
        day = "@PREV@" if b.day == PREVIOUS else (DAY if producer.per_day else "")
        where = f"{LAKE}/@RUN@/{producer.name}" + (f"/{day}" if day else "") + f"/{filename}"
        specs += ["opt" if b.day == PREVIOUS or not spec.required else "in", spec.path, where]
    specs += ["out", f"{LAKE}/@RUN@/{step.name}" + (f"/{DAY}" if step.per_day else "")]
    if any(o.is_stdout for o in comp.outputs):
        specs.append("stdout")
    values: dict[str, Any] = {n: p.default for n, p in comp.parameters.items() if p.default is not None}
    for k, v in step.parameters.items():
        values[k] = substitute(v, variables) if isinstance(v, str) else v
    argv = comp.command_with(values)
    return ("sh", "-c", LAUNCHER, "r2o-task", first_day, lake_run, *specs, "--", *argv)


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


def day_of(first_day: str, index: int) -> str:
    """What the launcher computes: the day of array child ``index`` (for tests and docs)."""
    return (dt.date.fromisoformat(first_day) + dt.timedelta(days=index)).isoformat()


def to_json(plan: BatchPlan, queue: str) -> str:
    return json.dumps(plan.as_dict(queue), indent=2) + "\n"
