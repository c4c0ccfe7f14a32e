"""CWL v1.2 from manifests and task graphs: a CommandLineTool per component, a Workflow per date range.

Everything is built as plain data and dumped with sorted keys, so an export is byte-identical every
time. A tool mirrors how ``r2o run`` (and AWS Batch) runs a component: the content-tagged image, the
image's ENTRYPOINT given the manifest's ``command`` (``Ref::name`` -> ``$(inputs.name)``), inputs at
their declared ``/data/input`` paths, outputs under ``/data/output``, no network, the manifest's CPU,
memory and time limits. A workflow is the pipeline's task graph (``pipeline/plan.py``, the one
interpretation of a pipeline): one step per task, wired as the graph's sources say.

Two engine gaps shape a tool (both seen with cwltool 3.3, and Toil runs tools through cwltool's code):

- **Time limit.** ``ToolTimeLimit`` states the limit, but at it cwltool only sends SIGTERM to the
  ``docker run`` client, which hands it to the container's PID 1; a PID 1 without a handler (python3,
  every component's command) ignores it, so the container runs on and the tool even succeeds. The tool
  therefore enforces its own limit in the container: ``sh`` runs the command under coreutils
  ``timeout -v`` (SIGTERM at the limit, SIGKILL ``KILL_AFTER_S`` later, each signal logged on
  stderr); a run past it exits 124 saying, as ``r2o run`` does, that it ran past its timeout and was
  stopped (or 137, killed, when it ignored SIGTERM). An image with an
  ENTRYPOINT (manifest ``entrypoint:``) cannot be wrapped, as CWL cannot replace an ENTRYPOINT: there
  only the engine's ``ToolTimeLimit`` applies.
- **Numbers.** ``cwltool --provenance`` fails on any float input value ("Type is not JSON serializable:
  ScalarFloat": cwltool reads documents and job files with ruamel.yaml, whose floats are a float
  subclass; PROV keeps the value as a native literal, and rdflib's JSON-LD writer uses orjson, which
  refuses float subclasses). A ``number`` parameter is therefore a CWL ``string`` holding the decimal
  text that ``r2o run`` substitutes (``Parameter.format``), so the command line is the same.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from r2o.errors import UsageError
from r2o.images.plan import ImageGraph
from r2o.manifest import DEFAULT_STORAGE_MIB, OUTPUT_ROOT, REF_PREFIX, Component, DataSpec, Parameter
from r2o.pipeline.plan import Task, TaskGraph, TaskInput
from r2o.repo import Repository

CWL_VERSION = "v1.2"
STDOUT_FILE = "stdout.txt"
NAMESPACES = {"edam": "http://edamontology.org/", "s": "https://schema.org/"}
# EDAM formats of the manifest's output formats (those EDAM has a term for).
EDAM = {
    "netcdf": "edam:format_3650",
    "csv": "edam:format_3752",
    "png": "edam:format_3603",
    "text": "edam:format_2330",
    "json": "edam:format_3464",
}
# "number" is a string holding the decimal text: see the module docstring (cwltool --provenance).
_TYPES = {"integer": "int", "number": "string", "string": "string", "boolean": "boolean", "date": "string"}

# The time limit inside the container: a fixed script; the component's name, the limit, the grace and
# the command reach it as arguments ($0 names it in sh's own messages), never pasted into it.
TIME_LIMIT_NAME = "r2o-time-limit"
TIME_LIMIT_SCRIPT = (
    'name=$1 limit=$2 grace=$3; shift 3; timeout -v -k "$grace" "$limit" "$@"; rc=$?; '
    'if [ "$rc" -eq 124 ]; then echo "$name ran past its timeout of $limit s and was stopped '
    '(SIGTERM at the limit, SIGKILL $grace s later)" >&2; fi; exit "$rc"'
)
TIMED_OUT_EXIT = 124  # coreutils timeout's status when the command ran past the limit
KILL_AFTER_S = 10  # SIGTERM at the limit, then SIGKILL this long after it


@dataclass(frozen=True)
class Document:
    """One exported file: its name in the output folder and its text."""

    filename: str
    text: str


def dump(doc: Mapping[str, Any]) -> str:
    """CWL documents as YAML: sorted keys, block style, no aliases, no line folding."""

    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(dict(doc), Dumper=_NoAliases, sort_keys=True, default_flow_style=False, width=10**6)


def tool_filename(component: str) -> str:
    return f"{component}.cwl"


def tool(component: Component, image: str) -> dict[str, Any]:
    """The CommandLineTool of ``component`` running ``image`` (a content-tagged reference)."""
    res = component.resources
    resources: dict[str, Any] = {"coresMin": res.vcpus, "ramMin": res.memory_mib}
    if res.storage_mib != DEFAULT_STORAGE_MIB:
        resources["outdirMin"] = res.storage_mib
    requirements: dict[str, Any] = {
        "DockerRequirement": {"dockerPull": image, "dockerOutputDirectory": str(OUTPUT_ROOT)},
        "ResourceRequirement": resources,
        "ToolTimeLimit": {"timelimit": res.timeout_s},
        "NetworkAccess": {"networkAccess": component.network},
    }
    if component.inputs:
        requirements["InitialWorkDirRequirement"] = {
            "listing": [
                {"entryname": spec.path, "entry": f"$(inputs.{spec.name})"} for spec in component.inputs
            ]
        }
    if component.environment:
        requirements["EnvVarRequirement"] = {
            "envDef": [{"envName": k, "envValue": v} for k, v in sorted(component.environment.items())]
        }
    doc: dict[str, Any] = {
        "cwlVersion": CWL_VERSION,
        "class": "CommandLineTool",
        "id": component.name,
        "label": f"{component.name} {component.version}",
        "doc": f"{component.description}\n\n{_time_limit_doc(component)}",
        "$namespaces": NAMESPACES,
        "s:author": [{"s:name": owner} for owner in component.owners],
        "s:version": component.version,
        "requirements": requirements,
        # The image's ENTRYPOINT receives these, as AWS Batch passes ``command`` to it.
        "arguments": _time_limited(component, [_argument(arg) for arg in component.command]),
        "inputs": {**_parameter_inputs(component), **{s.name: _data_input(s) for s in component.inputs}},
        "outputs": {s.name: _output(s) for s in component.outputs},
    }
    if any(s.is_stdout for s in component.outputs):
        doc["stdout"] = STDOUT_FILE
    return doc


def _time_limited(component: Component, arguments: list[str]) -> list[str]:
    """``arguments`` run under ``timeout`` in the container, unless an ENTRYPOINT receives them."""
    if component.entrypoint:
        return arguments
    limit = [component.name, str(component.resources.timeout_s), str(KILL_AFTER_S)]
    return ["sh", "-c", TIME_LIMIT_SCRIPT, TIME_LIMIT_NAME, *limit, *arguments]


def _time_limit_doc(component: Component) -> str:
    limit = component.resources.timeout_s
    if component.entrypoint:
        return (
            f"Time limit: {limit} s (ToolTimeLimit), left to the engine: the image's ENTRYPOINT "
            f"{list(component.entrypoint)} receives the arguments, so they cannot run under timeout."
        )
    return (
        f"Time limit: {limit} s (ToolTimeLimit), also enforced in the container by coreutils timeout: "
        f"SIGTERM at the limit, SIGKILL {KILL_AFTER_S} s later, exit status {TIMED_OUT_EXIT} and a "
        "message on stderr, as r2o run stops a component past its timeout."
    )


def _argument(arg: str) -> str:
    if arg.startswith(REF_PREFIX):
        return f"$(inputs.{arg[len(REF_PREFIX) :]})"
    # A literal "$(" would be read as a parameter reference: CWL escapes it with a backslash.
    return arg.replace("$(", "\\$(").replace("${", "\\${")


def _parameter_inputs(component: Component) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, p in component.parameters.items():
        typ: Any = {"type": "enum", "symbols": list(p.values)} if p.type == "enum" else _TYPES[p.type]
        entry: dict[str, Any] = {"type": typ}
        if p.default is not None:
            entry["default"] = _value(p, p.default)
        elif not p.required:
            entry["type"] = ["null", typ]
        described = [p.description] if p.description else []
        if p.type == "number":
            described.append(f"a number, as its decimal text{_bounds(p)}")
        if described:
            entry["doc"] = "; ".join(described)
        out[name] = entry
    return out


def _value(p: Parameter, value: Any) -> Any:
    """A parameter's value in CWL: a number as the text ``r2o run`` puts on the command line."""
    return Parameter.format(value) if p.type == "number" else value


def _bounds(p: Parameter) -> str:
    parts = [] if p.minimum is None else [f"from {Parameter.format(p.minimum)}"]
    parts += [] if p.maximum is None else [f"to {Parameter.format(p.maximum)}"]
    return ", " + " ".join(parts) if parts else ""


def _data_input(spec: DataSpec) -> dict[str, Any]:
    typ = "Directory" if spec.kind == "directory" else "File"
    entry: dict[str, Any] = {"type": typ if spec.required else f"{typ}?"}
    if spec.description:
        entry["doc"] = spec.description
    return entry


def _output_type(spec: DataSpec) -> str:
    typ = "Directory" if spec.kind == "directory" else "File"
    return typ if spec.required or spec.is_stdout else f"{typ}?"


def _output(spec: DataSpec) -> dict[str, Any]:
    entry: dict[str, Any]
    if spec.is_stdout:
        entry = {"type": "stdout"}
    else:
        glob = str(PurePosixPath(spec.path).relative_to(OUTPUT_ROOT))
        entry = {"type": _output_type(spec), "outputBinding": {"glob": glob}}
    if spec.format in EDAM and spec.kind != "directory":
        entry["format"] = EDAM[spec.format]
    if spec.description:
        entry["doc"] = spec.description
    return entry


def export_tools(repo: Repository, names: Sequence[str]) -> list[Document]:
    """One CommandLineTool per named component (every component when none), sorted by name."""
    components = repo.components
    chosen = sorted(set(names)) if names else sorted(components)
    for name in chosen:
        repo.component(name)  # an unknown name: NotFoundError with a "did you mean"
    images = ImageGraph.from_repo(repo)
    return [Document(tool_filename(n), dump(tool(components[n], images.ref(n)))) for n in chosen]


# --- workflows -------------------------------------------------------------------------------------


def _cwl_id(text: str) -> str:
    """A CWL identifier (a URI fragment) for a task id or an input: "cmaq/2024-07-15" -> "cmaq_20240715"."""
    return text.replace("/", "_").replace("-", "")


def _step_id(task: Task) -> str:
    return _cwl_id(task.step) + (f"_{task.day.replace('-', '')}" if task.day else "")


def workflow(graph: TaskGraph, steps: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """The Workflow of ``graph`` (only the tasks of ``steps`` when given) and its external inputs
    (workflow input id -> the pipeline's path, ``${day}`` resolved)."""
    known = list(graph.pipeline.steps)
    for name in steps:
        if name not in known:
            raise UsageError(
                f"pipeline {graph.pipeline.name} has no step '{name}'", hint=f"steps: {', '.join(known)}"
            )
    tasks = [t for t in graph.tasks if not steps or t.step in steps]
    kept = {t.id for t in tasks}
    by_id = {t.id: t for t in graph.tasks}
    for t in tasks:
        for dep in t.deps:
            if dep not in kept:
                raise UsageError(
                    f"step {t.step} needs step {by_id[dep].step}, which --steps leaves out",
                    hint=f"add {by_id[dep].step} to --steps",
                )
    external: dict[str, str] = {}
    components = {tool_filename(s.component.name): s.component for s in graph.pipeline.steps.values()}
    wf_steps: dict[str, Any] = {}
    for t in tasks:
        component = graph.pipeline.steps[t.step].component
        step_in: dict[str, Any] = {}
        for name, text in sorted(t.parameters.items()):
            p = component.parameter(name)
            step_in[name] = {"default": _value(p, p.parse(text))}
        for tin in t.inputs:
            if tin.collect:
                gather = f"{_step_id(t)}_{_cwl_id(tin.name)}"
                wf_steps[gather] = _gather_step(graph, tin, by_id)
                step_in[tin.name] = f"{gather}/dir"
                continue
            (src,) = tin.sources
            if src.path is not None:
                key = _cwl_id(f"{tin.name}_{t.day}" if t.day else tin.name)
                external[key] = src.path
                step_in[tin.name] = key
            else:
                assert src.task is not None and src.output is not None
                step_in[tin.name] = f"{_step_id(by_id[src.task])}/{src.output}"
        wf_steps[_step_id(t)] = {
            "run": tool_filename(component.name),
            "in": step_in,
            "out": [o.name for o in component.outputs],
        }
    outputs = {
        f"{sid}_{spec.name}": {"type": _output_type(spec), "outputSource": f"{sid}/{spec.name}"}
        for sid, step in wf_steps.items()
        if isinstance(step["run"], str)
        for spec in components[step["run"]].outputs
    }
    doc: dict[str, Any] = {
        "cwlVersion": CWL_VERSION,
        "class": "Workflow",
        "id": graph.pipeline.name,
        "label": f"{graph.pipeline.name} {graph.run_name}",
        "doc": graph.pipeline.description,
        "inputs": {k: {"type": "File"} for k in sorted(external)},
        "steps": wf_steps,
        "outputs": outputs,
    }
    if any(t.collect for task in tasks for t in task.inputs):
        doc["requirements"] = {"MultipleInputFeatureRequirement": {}}
    return doc, external


# A ``collect: all`` input: one folder holding every day's file as ``<stem>_<day><suffix>``, as the
# local executor and the Batch launcher lay it out.
GATHER = {
    "class": "ExpressionTool",
    "requirements": {"InlineJavascriptRequirement": {}},
    "inputs": {"files": "File[]", "names": "string[]", "dirname": "string"},
    "outputs": {"dir": "Directory"},
    "expression": (
        "${ var listing = []; for (var i = 0; i < inputs.files.length; i++) {"
        " var f = inputs.files[i];"
        ' listing.push({"class": "File", "location": f.location, "basename": inputs.names[i]}); }'
        ' return {"dir": {"class": "Directory", "basename": inputs.dirname, "listing": listing}}; }'
    ),
}


def _gather_step(graph: TaskGraph, tin: TaskInput, by_id: Mapping[str, Task]) -> dict[str, Any]:
    sources, names = [], []
    for src in tin.sources:
        assert src.task is not None and src.output is not None
        producer = by_id[src.task]
        filename = PurePosixPath(graph.pipeline.steps[producer.step].component.output(src.output).filename)
        sources.append(f"{_step_id(producer)}/{src.output}")
        names.append(f"{filename.stem}_{src.day}{filename.suffix}")
    return {
        "run": GATHER,
        "in": {
            "files": {"source": sources, "linkMerge": "merge_flattened"},
            "names": {"default": names},
            "dirname": {"default": tin.name},
        },
        "out": ["dir"],
    }


def export_workflow(
    repo: Repository, graph: TaskGraph, out_dir: Path, steps: Sequence[str] = ()
) -> list[Document]:
    """The workflow, its job file (paths relative to ``out_dir``) and the tools its steps run."""
    doc, external = workflow(graph, steps)
    job: dict[str, Any] = {}
    for key, text in sorted(external.items()):
        path = Path(text) if Path(text).is_absolute() else repo.root / text
        job[key] = {"class": "File", "path": os.path.relpath(path, out_dir.resolve())}
    used = sorted({s["run"].removesuffix(".cwl") for s in doc["steps"].values() if isinstance(s["run"], str)})
    name = f"{graph.pipeline.name}.cwl"
    return [
        *export_tools(repo, used),
        Document(name, dump(doc)),
        Document(f"{graph.pipeline.name}.job.yml", dump(job)),
    ]
