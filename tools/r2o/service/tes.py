"""GA4GH TES 1.1 at /ga4gh/tes/v1, restricted to the project's own component images.

A TES task is a run like any other (``RunRecord.kind == "tes"``, its ``request["tes"]`` the task as
accepted): it is queued in the same store, executed by the same workers through the same runner
(timeout, storage cap, capped log, untrusted outputs, cache) and seen, canceled and downloaded
through the r2o API too. Its executor runs as a *synthetic component*: the image's component with
the executor's command, the task's inputs and outputs, and the manifest's limits (:func:`graph_for_tes`).

What r2o accepts, and why (anything else is a 400 naming the problem):

- **One executor.** Each r2o task has a /data/output of its own, promoted when the task ends, so
  executors could not share files (TES volumes); submit one task per executor.
- **Images**: exactly a component's content-tagged reference as the catalog gives it (``content_tag``
  in GET /api/v1/products, e.g. ``identity-matrix:1.0.0-6c59252fa6ba``). A bare name or an older
  tag is refused with the current reference: the tag pins the code that runs.
- **Command**: argv, as TES defines it. An image with an ENTRYPOINT (identity-matrix) runs it as on
  AWS Batch, which cannot replace an image's ENTRYPOINT: the command must start with it
  (``["python3", "/app/algorithm.py", "4"]``), and only the arguments after it are passed. Arguments
  starting with ``Ref::`` (r2o's parameter references) are refused.
- **Resources** at most the manifest's (``cpu_cores`` <= vcpus, ``ram_gb`` <= memory, ``disk_gb`` <=
  storage, in GiB); the task runs under the manifest's limits whatever it asks. No backend
  parameters are supported (service-info says so): unknown ones are dropped with a system log
  line, or refused when ``backend_parameters_strict``. ``preemptible`` and ``zones`` have no effect.
- **Inputs** at a path under /data/input/: ``content`` (inline text, at most 1 MiB), or ``url``
  ``r2o://uploads/<id>`` naming one of the caller's uploads (POST /api/v1/uploads); files only.
- **Outputs** at a path under /data/output/ (no wildcards). r2o keeps them and serves them through
  the r2o API: a task's ``outputs[].url`` must be left empty (r2o writes nowhere else) and is
  answered with the download URL; ``logs[0].outputs`` lists each file with its URL and size.
- **Executor**: ``stdout`` (any absolute path) keeps the executor's standard output as a file,
  reported under that path (list it in ``outputs`` to have it named there too); ``stderr``,
  ``stdin`` and ``workdir`` are refused: r2o keeps stderr in the task's log, gives no stdin and runs
  in the image's working directory. ``env`` is passed (names AWS_BATCH* are Batch's); the
  component's secrets are never given to a TES task, and a TES task never has a network.
- **No volumes**, no ``ignore_error`` effect (one executor).

Views: MINIMAL is id and state; BASIC adds everything but the executor's stdout, inputs' content
and system_logs; FULL is all, the executor log's ``stdout`` being the head of the task's log (r2o
keeps stdout and stderr interleaved in one log; ``stderr`` is left out). States are r2o's run
states, all of them TES states.

Natively (``r2o serve --native``, development only) an executor runs on the host with the service's
own privileges, like ``r2o run --native``: never expose such a service to users you do not trust.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from r2o import fs
from r2o.errors import R2OError
from r2o.manifest import INPUT_ROOT, OUTPUT_ROOT, RESERVED_ENV_PREFIX, Component, DataSpec, Parameter
from r2o.pipeline.plan import TaskGraph
from r2o.repo import Repository
from r2o.service import launch, states
from r2o.service.auth import Identity
from r2o.service.catalog import COMPONENT, Catalog
from r2o.service.core import NotFound, Service
from r2o.service.ga4gh import (
    Ga4ghError,
    Organization,
    ServiceType,
    api_url,
    service_info,
    statuses,
    timestamp,
)
from r2o.service.store import PAGE_MAX, RunFilter, RunRecord, Store, TaskRecord

PREFIX = "/ga4gh/tes/v1"  # app.TES_PREFIX
API = "/api/v1"
TES_VERSION = "1.1.0"
KIND = "tes"
UPLOAD_SCHEME = "r2o://uploads/"
CONTENT_MAX = 1 << 20  # bytes of an inline input (the spec asks for at least 128 KiB)
LOG_TEXT_MAX = 256 << 10  # bytes of the task's log in the FULL view; the rest through its URL
PAGE_DEFAULT = 256
PAGE_LIMIT = 2048  # the spec: page_size must be less than this
TASK_PARAMETER = "tes_task"  # the synthetic component's one parameter: keys its cache entry on the task
STDOUT_FILE = "stdout.txt"  # where the runner keeps a captured stdout (r2o.run.runner.STDOUT_FILE)
SUBMIT_STATUSES = {422: 400}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WILDCARD = re.compile(r"[*?\[]")

View = Literal["MINIMAL", "BASIC", "FULL"]
TesState = Literal[
    "UNKNOWN",
    "QUEUED",
    "INITIALIZING",
    "RUNNING",
    "PAUSED",
    "COMPLETE",
    "EXECUTOR_ERROR",
    "SYSTEM_ERROR",
    "CANCELED",
    "PREEMPTED",
    "CANCELING",
]
FileType = Literal["FILE", "DIRECTORY"]


# --- the task a client sends (tesTask) ---------------------------------------------------------------


class TesInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    description: str | None = None
    url: str | None = Field(default=None, description=f"{UPLOAD_SCHEME}<upload id> (unless content is set)")
    path: str = Field(description="where the file appears: a path under /data/input/")
    type: FileType = "FILE"
    content: str | None = Field(default=None, description="the file's text (at most 1 MiB)")
    streamable: bool | None = None


class TesOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    description: str | None = None
    url: str | None = Field(default=None, description="leave empty: r2o keeps outputs and answers their URL")
    path: str = Field(description="a path under /data/output/")
    path_prefix: str | None = None
    type: FileType = "FILE"


class TesResources(BaseModel):
    model_config = ConfigDict(extra="ignore")
    cpu_cores: int | None = None
    preemptible: bool | None = None
    ram_gb: float | None = None
    disk_gb: float | None = None
    zones: list[str] | None = None
    backend_parameters: dict[str, str] | None = None
    backend_parameters_strict: bool | None = None


class TesExecutor(BaseModel):
    model_config = ConfigDict(extra="ignore")
    image: str = Field(description="a component image of this project (content_tag in GET /api/v1/products)")
    command: list[str]
    workdir: str | None = None
    stdin: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    env: dict[str, str] | None = None
    ignore_error: bool | None = None


class TesTask(BaseModel):
    """A task as created; the read-only fields (id, state, logs, creation_time) are ignored."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    description: str | None = None
    inputs: list[TesInput] | None = None
    outputs: list[TesOutput] | None = None
    resources: TesResources | None = None
    executors: list[TesExecutor]
    volumes: list[str] | None = None
    tags: dict[str, str] | None = None


# --- what the service answers (documentation; answers are plain dicts of these shapes) --------------------


class TesExecutorLog(BaseModel):
    start_time: str | None = None
    end_time: str | None = None
    stdout: str | None = Field(default=None, description="FULL: the head of the task's log (both streams)")
    stderr: str | None = None
    exit_code: int


class TesOutputFileLog(BaseModel):
    url: str
    path: str
    size_bytes: str


class TesTaskLog(BaseModel):
    logs: list[TesExecutorLog]
    metadata: dict[str, str] | None = None
    start_time: str | None = None
    end_time: str | None = None
    outputs: list[TesOutputFileLog]
    system_logs: list[str] | None = None


class TesTaskView(BaseModel):
    """A task in the view asked for (MINIMAL: id and state only)."""

    id: str
    state: TesState
    name: str | None = None
    description: str | None = None
    inputs: list[TesInput] | None = None
    outputs: list[TesOutput] | None = None
    resources: TesResources | None = None
    executors: list[TesExecutor] | None = None
    volumes: list[str] | None = None
    tags: dict[str, str] | None = None
    logs: list[TesTaskLog] | None = None
    creation_time: str | None = None


class TesListTasksResponse(BaseModel):
    tasks: list[TesTaskView]
    next_page_token: str | None = None


class TesCreateTaskResponse(BaseModel):
    id: str


class TesServiceInfo(BaseModel):
    id: str
    name: str
    type: ServiceType
    description: str
    organization: Organization
    documentationUrl: str  # the spec's camelCase
    version: str
    storage: list[str]
    tesResources_backend_parameters: list[str]  # the spec's name


class TesErrorResponse(BaseModel):
    message: str = Field(description="what went wrong, and what to do")
    status_code: int


def tes_state(state: str) -> str:
    """A run's state as TES names it: r2o's run states are TES states."""
    return state if state in states.RUN_STATES else "UNKNOWN"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": TesErrorResponse} for code in codes}


def make_router(service: Service, identity: Callable[[Request], Identity]) -> APIRouter:
    """The TES 1.1 routes; ``identity`` is the dependency that authenticates a request."""
    router = APIRouter(prefix=PREFIX, tags=["GA4GH TES 1.1"])
    who_dep = Depends(identity)

    @router.get(
        "/service-info",
        summary="GetServiceInfo",
        response_model=None,
        responses={200: {"model": TesServiceInfo}, **_errors(401)},
    )
    def get_service_info(request: Request, who: Identity = who_dep) -> dict[str, Any]:
        images = ", ".join(sorted(allowed_images(service.catalog)))
        return {
            **service_info(
                request,
                artifact="tes",
                version=TES_VERSION,
                name="r2o TES",
                description="Tasks of one executor run in this project's component images only, under "
                f"their manifests' limits: {images}. Inputs: inline content, or {UPLOAD_SCHEME}<id> of "
                f"your uploads (POST {API}/uploads); outputs are kept by r2o and listed with their URLs.",
            ),
            "storage": [UPLOAD_SCHEME, api_url(request, f"{API}/runs")],
            "tesResources_backend_parameters": [],
        }

    @router.post(
        "/tasks",
        summary="CreateTask",
        response_model=None,
        responses={200: {"model": TesCreateTaskResponse}, **_errors(400, 401, 403, 429)},
    )
    def create_task(task: TesTask, who: Identity = who_dep) -> dict[str, str]:
        body, checked = prepare(service, task, who)
        with statuses(SUBMIT_STATUSES):
            run = service.submit(body, who, kind=KIND, checked=checked)
        return {"id": run.id}

    @router.get(
        "/tasks",
        summary="ListTasks",
        response_model=None,
        responses={200: {"model": TesListTasksResponse}, **_errors(400, 401)},
    )
    def list_tasks(
        request: Request,
        name_prefix: str | None = Query(default=None),
        state: TesState | None = Query(default=None),
        tag_key: list[str] = Query(default=[]),
        tag_value: list[str] = Query(default=[]),
        page_size: int | None = Query(
            default=None, description=f"1 to {PAGE_LIMIT - 1}; default {PAGE_DEFAULT}"
        ),
        page_token: str | None = Query(default=None),
        view: View = Query(default="MINIMAL"),
        who: Identity = who_dep,
    ) -> dict[str, Any]:
        if page_size is not None and not 1 <= page_size < PAGE_LIMIT:
            raise Ga4ghError(f"page_size must be from 1 to {PAGE_LIMIT - 1}, not {page_size}", 400)
        if len(tag_value) > len(tag_key):
            raise Ga4ghError(
                "there are more tag_value than tag_key parameters: each value needs its key", 400
            )
        wanted = dict(zip(tag_key, [*tag_value, *[""] * (len(tag_key) - len(tag_value))], strict=True))
        exact = next(((k, v) for k, v in wanted.items() if v), None)
        where = RunFilter(kinds=(KIND,), state=state, name=name_prefix or None, tag=exact)
        size = min(page_size or PAGE_DEFAULT, PAGE_MAX)
        page = service.runs(who, where, cursor=page_token or None, limit=size)
        found = [
            run
            for run in page.items
            if run.name.startswith(name_prefix or "")
            and all(k in run.tags and (not v or run.tags[k] == v) for k, v in wanted.items())
        ]
        out: dict[str, Any] = {"tasks": [task_view(service, run, view, request) for run in found]}
        if page.next_cursor:
            out["next_page_token"] = page.next_cursor
        return out

    @router.get(
        "/tasks/{id}",
        summary="GetTask",
        response_model=None,
        responses={200: {"model": TesTaskView}, **_errors(400, 401, 404)},
    )
    def get_task(
        id: str, request: Request, view: View = Query(default="MINIMAL"), who: Identity = who_dep
    ) -> dict[str, Any]:
        return task_view(service, _visible(service, id, who), view, request)

    @router.post(
        # the spec's custom method: the colon is part of the path (Starlette matches it literally)
        "/tasks/{id}:cancel",
        summary="CancelTask",
        response_model=None,
        responses={200: {"description": "tesCancelTaskResponse (an empty object)"}, **_errors(401, 404, 409)},
    )
    def cancel_task(id: str, who: Identity = who_dep) -> dict[str, Any]:
        run = _visible(service, id, who)
        if run.state == states.CANCELED:
            return {}  # asked again: it is canceled
        if run.terminal:
            raise Ga4ghError(f"task {id} has already ended ({run.state}): there is nothing to cancel", 409)
        service.cancel(run.id, who)
        return {}

    return router


def _visible(service: Service, task_id: str, who: Identity) -> RunRecord:
    run = service.visible(task_id, who)
    if run.kind != KIND:
        raise NotFound(
            f"{task_id} is not a TES task but a run of {run.product}: GET /ga4gh/wes/v1/runs/{task_id}"
        )
    return run


# --- checking a task ------------------------------------------------------------------------------------


def allowed_images(catalog: Catalog) -> dict[str, str]:
    """Image reference -> component: the images TES executors may name."""
    return {p.content_tag: p.name for p in catalog.products.values() if p.kind == COMPONENT}


def prepare(service: Service, task: TesTask, who: Identity) -> tuple[dict[str, Any], launch.Launch]:
    """The launch body (``tes``: the task as stored) and its checked Launch; a Ga4ghError (400)
    listing every problem otherwise."""
    problems: list[str] = []
    warnings: list[str] = []
    component = _check_executors(service.catalog, task, problems)
    _check_inputs(service.store, task, who, problems)
    _check_outputs(task, problems)
    if task.volumes:
        problems.append(
            "volumes: r2o runs one executor per task, which writes under /data/output/; volumes "
            "(shared between executors) are not supported"
        )
    if component is not None and task.resources is not None:
        _check_resources(component, task.resources, problems, warnings)
    name = task.name or f"TES task in {task.executors[0].image if task.executors else 'no image'}"
    if len(name) > launch.NAME_MAX or "\n" in name:
        problems.append(f"name: a task name is one line of at most {launch.NAME_MAX} characters")
    tags = dict(task.tags or {})
    if len(tags) > launch.TAGS_MAX:
        problems.append(f"tags: at most {launch.TAGS_MAX} tags")
    for key, value in tags.items():
        if not launch._TAG_KEY.match(key) or len(value) > 256:
            problems.append(
                f"tags.{key}: a tag key is 1-128 letters, digits or _.:/=+@- and its value at most "
                "256 characters"
            )
    if problems or component is None:
        raise Ga4ghError("the task is not valid: " + "; ".join(problems), 400)
    stored = task.model_dump(mode="json", exclude_none=True)
    resources = stored.get("resources")
    if isinstance(resources, dict):
        resources.pop(
            "backend_parameters", None
        )  # the spec: unsupported keys are neither stored nor returned
    synthetic = synthetic_component(component, stored)
    graph = _graph(
        synthetic, "new", {spec.name: Path("/nonexistent") / spec.name for spec in synthetic.inputs}
    )
    product = service.catalog.product(component.name)
    assert product is not None
    checked = launch._costed(service.store, service.config, product, name, {}, {}, tags, graph)
    body = {"product": component.name, "name": name, "tags": tags, "tes": stored, "tes_warnings": warnings}
    return body, checked


def _check_executors(catalog: Catalog, task: TesTask, problems: list[str]) -> Component | None:
    if not task.executors:
        problems.append("executors: a task needs one executor")
        return None
    if len(task.executors) > 1:
        problems.append(
            f"executors: r2o runs one executor per task ({len(task.executors)} given): each r2o task has "
            "its own /data/output, so executors could not share files; submit one task per executor"
        )
    ex = task.executors[0]
    images = allowed_images(catalog)
    name = images.get(ex.image)
    if name is None:
        bare = ex.image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        current = next((ref for ref, comp in images.items() if comp == bare), None)
        hint = f" (the current image of {bare} is {current})" if current else ""
        problems.append(
            f"executors[0].image: {ex.image!r} is not an image of this project{hint}; r2o runs TES "
            f"executors only in its component images: {', '.join(sorted(images))}"
        )
        return None
    component = catalog.repo.component(name)
    if not ex.command:
        problems.append("executors[0].command: give the program to run and its arguments")
    entry = list(component.entrypoint)
    if entry and ex.command[: len(entry)] != entry:
        example = (
            [*entry, *component.command_with(_defaults(component))]
            if _defaults_complete(component)
            else entry
        )
        problems.append(
            f"executors[0].command: {ex.image} runs its ENTRYPOINT {entry} (AWS Batch cannot replace an "
            f"image's ENTRYPOINT, so r2o does not either): the command must start with it, e.g. {example}"
        )
    refs = [arg for arg in ex.command if arg.startswith("Ref::")]
    if refs:
        problems.append(
            f"executors[0].command: arguments starting with Ref:: are r2o parameter references: {refs}"
        )
    for key, what in (
        ("stderr", "r2o keeps the executor's stderr in the task's log (FULL view), interleaved with stdout"),
        (
            "stdin",
            "r2o gives executors no standard input; pass the file as an input and its path as an argument",
        ),
        ("workdir", "r2o runs the command in the image's working directory; use absolute paths"),
    ):
        if getattr(ex, key):
            problems.append(f"executors[0].{key}: not supported: {what}")
    if ex.stdout is not None and _path_problem(ex.stdout):
        problems.append(f"executors[0].stdout: {_path_problem(ex.stdout)}")
    for key in ex.env or {}:
        if not _ENV_NAME.match(key):
            problems.append(f"executors[0].env: {key!r} is not an environment variable name")
        elif key.startswith(RESERVED_ENV_PREFIX):
            problems.append(f"executors[0].env: names starting with {RESERVED_ENV_PREFIX} are AWS Batch's")
    return component


def _defaults(component: Component) -> dict[str, Any]:
    return {n: p.default for n, p in component.parameters.items() if p.default is not None}


def _defaults_complete(component: Component) -> bool:
    return all(p.default is not None for p in component.parameters.values())


def _path_problem(path: str, root: PurePosixPath | None = None) -> str:
    """ "" when ``path`` is an absolute, normal container path (strictly under ``root`` if given)."""
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        return f"{path!r} is not an absolute path"
    if ".." in pure.parts or path != str(pure) or path.endswith("/"):
        return f"{path!r} is not a normal path (no '..', '//' or final '/'; write {pure})"
    if root is not None and (not pure.is_relative_to(root) or pure == root):
        return f"{path!r} is not under {root}/"
    return ""


def _check_inputs(store: Store, task: TesTask, who: Identity, problems: list[str]) -> None:
    seen: list[PurePosixPath] = []
    for i, item in enumerate(task.inputs or []):
        where = f"inputs[{i}]"
        problem = _path_problem(item.path, INPUT_ROOT)
        if problem:
            problems.append(f"{where}.path: {problem}: inputs appear under {INPUT_ROOT}/")
        else:
            pure = PurePosixPath(item.path)
            clash = next(
                (p for p in seen if pure == p or pure.is_relative_to(p) or p.is_relative_to(pure)), None
            )
            if clash is not None:
                problems.append(f"{where}.path: {item.path} overlaps another input's path {clash}")
            seen.append(pure)
        if item.type != "FILE":
            problems.append(f"{where}.type: r2o takes files as inputs, not {item.type}")
        if item.content is not None:
            if len(item.content.encode()) > CONTENT_MAX:
                problems.append(f"{where}.content: at most {CONTENT_MAX} bytes; upload larger files")
            continue
        url = item.url or ""
        upload_id = url[len(UPLOAD_SCHEME) :] if url.startswith(UPLOAD_SCHEME) else None
        if not upload_id:
            problems.append(
                f"{where}.url: {url!r} is not {UPLOAD_SCHEME}<upload id>; give the file as content, or "
                f"upload it (POST {API}/uploads) and name it {UPLOAD_SCHEME}<id>"
            )
            continue
        found = store.upload(upload_id)
        if found is None or found.user != who.user:
            problems.append(
                f"{where}.url: no upload {upload_id!r} of yours; upload the file first (POST {API}/uploads)"
            )


def _check_outputs(task: TesTask, problems: list[str]) -> None:
    stdout = task.executors[0].stdout if task.executors else None
    seen: set[str] = set()
    for i, item in enumerate(task.outputs or []):
        where = f"outputs[{i}]"
        if item.url:
            problems.append(
                f"{where}.url: r2o keeps outputs itself and serves them at {API}/runs/<id>/outputs/...; "
                f"leave url empty (the task's logs[0].outputs give each file's URL), not {item.url!r}"
            )
        if item.path_prefix or _WILDCARD.search(item.path):
            problems.append(f"{where}.path: wildcards (and path_prefix) are not supported; name each output")
            continue
        if item.path in seen:
            problems.append(f"{where}.path: {item.path} is listed twice")
        seen.add(item.path)
        if item.path == stdout:
            if item.type != "FILE":
                problems.append(f"{where}.type: {item.path} is the executor's stdout, a FILE")
            continue
        problem = _path_problem(item.path, OUTPUT_ROOT)
        if problem:
            problems.append(f"{where}.path: {problem}: outputs are collected from {OUTPUT_ROOT}/")
        elif stdout is not None and item.path == f"{OUTPUT_ROOT}/{STDOUT_FILE}":
            problems.append(
                f"{where}.path: {item.path} is where r2o keeps the executor's stdout (executor.stdout is "
                "set); name the output otherwise"
            )


def _gib(mib: int) -> float:
    return mib / 1024


def _check_resources(
    component: Component, res: TesResources, problems: list[str], warnings: list[str]
) -> None:
    limits = component.resources
    if res.cpu_cores is not None and not 1 <= res.cpu_cores <= limits.vcpus:
        problems.append(
            f"resources.cpu_cores: {component.name} runs with {limits.vcpus:g} vCPU(s) (its manifest); "
            f"ask for 1 to {int(limits.vcpus)}, not {res.cpu_cores}"
        )
    if res.ram_gb is not None and not 0 < res.ram_gb <= _gib(limits.memory_mib):
        problems.append(
            f"resources.ram_gb: {component.name} runs with {_gib(limits.memory_mib):g} GiB of memory (its "
            f"manifest); ask for at most that, not {res.ram_gb:g}"
        )
    if res.disk_gb is not None and not 0 < res.disk_gb <= _gib(limits.storage_mib):
        problems.append(
            f"resources.disk_gb: {component.name} may write {_gib(limits.storage_mib):g} GiB under "
            f"/data/output (its manifest); ask for at most that, not {res.disk_gb:g}"
        )
    unknown = sorted(res.backend_parameters or {})
    if unknown and res.backend_parameters_strict:
        problems.append(f"resources.backend_parameters: r2o supports none ({', '.join(unknown)})")
    elif unknown:
        warnings.append(f"backend_parameters ignored (r2o supports none): {', '.join(unknown)}")


# --- the task as a graph (what a worker runs) -----------------------------------------------------------


def synthetic_component(component: Component, task: Mapping[str, Any]) -> Component:
    """``component`` running the task's executor: its command, the task's inputs and outputs, the
    manifest's limits; no secrets, no network; one parameter, the task's id, keys its cache entry."""
    ex = task["executors"][0]
    stdout = ex.get("stdout")
    inputs = tuple(
        DataSpec(f"input{i}", item["path"], kind="file", description=item.get("description", ""))
        for i, item in enumerate(task.get("inputs", []))
    )
    outputs = [
        DataSpec(
            f"output{i}",
            item["path"],
            kind="directory" if item.get("type") == "DIRECTORY" else "file",
            description=item.get("description", ""),
        )
        for i, item in enumerate(task.get("outputs", []))
        if item["path"] != stdout
    ]
    if stdout is not None:
        outputs.append(
            DataSpec("stdout", "stdout", format="text", description=f"the executor's stdout ({stdout})")
        )
    return replace(
        component,
        command=tuple(ex["command"][len(component.entrypoint) :]),
        parameters={TASK_PARAMETER: Parameter(TASK_PARAMETER, "string", description="the TES task")},
        inputs=inputs,
        outputs=tuple(outputs),
        environment={**component.environment, **ex.get("env", {})},
        secrets={},
        network=False,
        outputs_extra="drop",
    )


def _graph(component: Component, task_id: str, inputs: Mapping[str, Path]) -> TaskGraph:
    return launch.graph_for_component(component, {TASK_PARAMETER: task_id}, inputs)


def graph_for_tes(repo: Repository, store: Store, run: RunRecord, run_dir: Path) -> TaskGraph:
    """The graph a worker runs for TES task ``run``: inline inputs written under the run folder
    (``inputs/``, never listed as outputs), uploads read where the service keeps them."""
    task = run.request["tes"]
    component = synthetic_component(repo.component(run.product), task)
    paths: dict[str, Path] = {}
    for i, item in enumerate(task.get("inputs", [])):
        name = f"input{i}"
        if "content" in item:
            target = run_dir / "inputs" / name / PurePosixPath(item["path"]).name
            data = item["content"].encode()
            if not target.is_file() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.atomic_write(target, data)
            paths[name] = target
        else:
            upload_id = item["url"][len(UPLOAD_SCHEME) :]
            found = store.upload(upload_id)
            if found is None:
                raise R2OError(f"input {item['path']}: upload {upload_id} is gone")
            paths[name] = Path(found.path)
    return _graph(component, run.id, paths)


# --- answers ----------------------------------------------------------------------------------------------


def task_view(service: Service, run: RunRecord, view: str, request: Request) -> dict[str, Any]:
    state = tes_state(run.state)
    if view == "MINIMAL":
        return {"id": run.id, "state": state}
    task = run.request.get("tes", {})
    full = view == "FULL"
    step = run.product  # the synthetic component's one task is named after it
    out: dict[str, Any] = {"id": run.id, "state": state, "name": run.name}
    for key in ("description", "resources", "volumes"):
        if key in task:
            out[key] = task[key]
    out["executors"] = task.get("executors", [])
    out["inputs"] = [
        item if full else {k: v for k, v in item.items() if k != "content"} for item in task.get("inputs", [])
    ]
    out["outputs"] = [
        {**item, "url": _output_url(request, run, step, item)} for item in task.get("outputs", [])
    ]
    out["tags"] = dict(run.tags)
    out["creation_time"] = timestamp(run.created)
    out["logs"] = _logs(service, run, step, task, full, request)
    return out


def _output_url(request: Request, run: RunRecord, step: str, item: Mapping[str, Any]) -> str:
    stdout = run.request["tes"]["executors"][0].get("stdout")
    rel = (
        STDOUT_FILE
        if item["path"] == stdout
        else PurePosixPath(item["path"]).relative_to(OUTPUT_ROOT).as_posix()
    )
    return api_url(request, f"{API}/runs/{run.id}/outputs/{step}/{rel}")


def _logs(
    service: Service, run: RunRecord, step: str, task: Mapping[str, Any], full: bool, request: Request
) -> list[dict[str, Any]]:
    if run.started is None and not run.terminal:
        return []  # not started: no attempt to log yet
    record: TaskRecord | None = next(iter(service.tasks(run)), None)
    log_url = api_url(request, f"{API}/runs/{run.id}/tasks/{step}/logs")
    entry: dict[str, Any] = {
        "logs": [],
        "outputs": _output_files(service, run, step, task, request),
        "metadata": {
            "r2o_run": api_url(request, f"{API}/runs/{run.id}"),
            "log": log_url,
            "outputs": api_url(request, f"{API}/runs/{run.id}/outputs"),
        },
    }
    if run.started is not None:
        entry["start_time"] = timestamp(run.started)
    if run.finished is not None:
        entry["end_time"] = timestamp(run.finished)
    if record is not None and record.started is not None and record.finished is not None:
        code = (
            record.exit_code
            if record.exit_code is not None
            else (0 if record.state == states.COMPLETE else None)
        )
        if code is not None:
            executor: dict[str, Any] = {"start_time": timestamp(record.started), "exit_code": code}
            executor["end_time"] = timestamp(record.finished)
            if full:
                page = service.executor.read_log(run, record, 0, LOG_TEXT_MAX, finished=True)
                more = page.size - page.next_offset
                executor["stdout"] = page.text + (
                    f"\n[r2o: {more} more bytes: {log_url}?offset={page.next_offset}]\n" if more > 0 else ""
                )
            entry["logs"].append(executor)
    if full:
        system = [f"{run.state}: {run.reason}"]
        if record is not None and record.reason:
            system.append(f"executor {record.state}: {record.reason}")
        system += list(run.request.get("tes_warnings", []))
        system.append("r2o keeps the executor's stdout and stderr interleaved in one log: logs[].stdout")
        entry["system_logs"] = system
    return [entry]


def _output_files(
    service: Service, run: RunRecord, step: str, task: Mapping[str, Any], request: Request
) -> list[dict[str, str]]:
    """Each output file the task left, with its container path, URL and size (directories flattened)."""
    listing = {o.path: o for o in service.blobs.outputs(run) if o.task == step}
    if not listing:
        return []
    base = f"{API}/runs/{run.id}/outputs"
    out: list[dict[str, str]] = []

    def add(path: str, rel: str) -> None:
        found = listing.get(f"{step}/{rel}")
        if found is not None:
            out.append(
                {"url": api_url(request, f"{base}/{found.path}"), "path": path, "size_bytes": str(found.size)}
            )

    stdout = task["executors"][0].get("stdout")
    if stdout is not None:
        add(stdout, STDOUT_FILE)
    for item in task.get("outputs", []):
        if item["path"] == stdout:
            continue
        rel = PurePosixPath(item["path"]).relative_to(OUTPUT_ROOT).as_posix()
        if item.get("type") == "DIRECTORY":
            prefix = f"{step}/{rel}/"
            for path in sorted(p for p in listing if p.startswith(prefix)):
                add(f"{item['path']}/{path[len(prefix) :]}", path[len(step) + 1 :])
        else:
            add(item["path"], rel)
    return out


__all__ = ["PREFIX", "graph_for_tes", "make_router", "synthetic_component", "tes_state"]
