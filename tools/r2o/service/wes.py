"""GA4GH WES 1.1 at /ga4gh/wes/v1: a product run is a WES run, each of its tasks a WES task.

How r2o reads a WES request (``POST /runs``, multipart/form-data as the spec defines it):

- ``workflow_type`` "R2O", ``workflow_type_version`` "1";
- ``workflow_url`` names a product (GET /api/v1/products): its name (``aqcast``), ``r2o:aqcast``, or
  any URL whose path ends in ``/products/aqcast`` (``https://host/api/v1/products/aqcast``);
- ``workflow_params`` (a JSON object) are the product's parameters; its optional key ``inputs`` maps
  input names to upload ids (``POST /api/v1/uploads``), given bare or as ``r2o://uploads/<id>``
  (pipelines: input name -> {day: upload id});
- ``tags`` (a JSON object of strings) tag the run; ``workflow_engine`` may be "r2o" (with
  ``workflow_engine_version`` this r2o's version); ``workflow_engine_parameters`` must be empty:
  r2o has none (service-info's ``default_workflow_engine_parameters`` is empty);
- ``workflow_attachment`` is refused (400): r2o runs only the products of its own repository.

States: a run's states are WES states already. A task's r2o-only states map to the nearest WES one:
SKIPPED (never ran because a task it depends on failed) -> CANCELED, CACHED -> COMPLETE; the
``state`` of a TaskLog is an r2o extension (WES 1.1's TaskLog has none), and its system_logs keep
r2o's own state name and reason. Logs and outputs are URLs of the r2o API: a task's ``stdout`` and
``stderr`` are both its log (r2o keeps one log per task, the two streams interleaved, paged JSON);
``outputs`` maps each output file to its download URL.

Status codes stay within those the spec lists per operation: a request r2o cannot accept is 400,
a quota reached is 403 (the spec has no 429), another user's run is 404, and canceling a run that
has already ended is 403 (canceling a canceled run again answers 200).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from r2o import __version__
from r2o.errors import R2OError, did_you_mean
from r2o.pipeline import plan as planning
from r2o.service import states
from r2o.service.auth import Identity
from r2o.service.catalog import COMPONENT, PIPELINE, Catalog
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
from r2o.service.store import PAGE_MAX, RunFilter, RunRecord, TaskRecord

PREFIX = "/ga4gh/wes/v1"  # app.WES_PREFIX
API = "/api/v1"
WES_VERSION = "1.1.0"
WORKFLOW_TYPE = "R2O"
WORKFLOW_TYPE_VERSION = "1"
ENGINE = "r2o"
KINDS = (PIPELINE, COMPONENT)  # TES tasks are runs too, listed by the TES facade only
UPLOAD_SCHEME = "r2o://uploads/"
RUNS_PAGE = 50
TASKS_PAGE = 100
TASKS_PAGE_MAX = 1000
FORM_FIELDS = (
    "workflow_params",
    "workflow_type",
    "workflow_type_version",
    "tags",
    "workflow_engine",
    "workflow_engine_version",
    "workflow_engine_parameters",
    "workflow_url",
    "workflow_attachment",
)
# the service's statuses -> those the spec lists: a launch check failing (422) is a bad request, a
# quota (429) an action the requester may not perform now
SUBMIT_STATUSES = {422: 400, 429: 403, 409: 400, 413: 400}
SUBMIT_FIELDS = {
    "parameters": "workflow_params",
    "inputs": "workflow_params.inputs",
    "product": "workflow_url",
}

State = Literal[
    "UNKNOWN",
    "QUEUED",
    "INITIALIZING",
    "RUNNING",
    "PAUSED",
    "COMPLETE",
    "EXECUTOR_ERROR",
    "SYSTEM_ERROR",
    "CANCELED",
    "CANCELING",
    "PREEMPTED",
]
_WES_STATES = frozenset(get_args(State))
TASK_STATES = {states.SKIPPED: states.CANCELED, states.CACHED: states.COMPLETE}


def wes_state(state: str) -> str:
    """A run or task state as WES names it (r2o's task-only states mapped, anything else UNKNOWN)."""
    mapped = TASK_STATES.get(state, state)
    return mapped if mapped in _WES_STATES else "UNKNOWN"


# --- shapes (the OpenAPI document; answers are built as plain dicts of the same shape) ----------------


class ErrorResponse(BaseModel):
    msg: str = Field(description="what went wrong, and what to do")
    status_code: int


class WorkflowTypeVersion(BaseModel):
    workflow_type_version: list[str]


class WorkflowEngineVersion(BaseModel):
    workflow_engine_version: list[str]


class DefaultWorkflowEngineParameter(BaseModel):
    name: str
    type: str
    default_value: str


class ServiceInfo(BaseModel):
    id: str
    name: str
    type: ServiceType
    description: str
    organization: Organization
    documentationUrl: str  # the spec's camelCase
    version: str
    workflow_type_versions: dict[str, WorkflowTypeVersion]
    supported_wes_versions: list[str]
    supported_filesystem_protocols: list[str]
    workflow_engine_versions: dict[str, WorkflowEngineVersion]
    default_workflow_engine_parameters: list[DefaultWorkflowEngineParameter]
    system_state_counts: dict[str, int]
    auth_instructions_url: str
    tags: dict[str, str]


class RunId(BaseModel):
    run_id: str


class RunStatus(BaseModel):
    run_id: str
    state: State


class RunSummary(RunStatus):
    start_time: str | None = None
    end_time: str | None = None
    tags: dict[str, str]


class RunListResponse(BaseModel):
    runs: list[RunSummary]
    next_page_token: str = Field(description='"" when there are no more runs')


class Log(BaseModel):
    name: str | None = None
    cmd: list[str] | None = Field(default=None, description="the equivalent r2o command line")
    start_time: str | None = None
    end_time: str | None = None
    stdout: str | None = Field(default=None, description="URL of the log (r2o API, paged JSON)")
    stderr: str | None = Field(default=None, description="the same log: r2o interleaves both streams")
    exit_code: int | None = None
    system_logs: list[str] | None = None


class TaskLog(Log):
    id: str
    name: str
    state: State | None = Field(default=None, description="r2o extension: the task's state")


class TaskListResponse(BaseModel):
    task_logs: list[TaskLog]
    next_page_token: str = Field(description='"" when there are no more tasks')


class RunRequest(BaseModel):
    workflow_params: dict[str, Any]
    workflow_type: str
    workflow_type_version: str
    tags: dict[str, str]
    workflow_engine_parameters: dict[str, str]
    workflow_engine: str | None = None
    workflow_engine_version: str | None = None
    workflow_url: str


class RunLog(BaseModel):
    run_id: str
    request: RunRequest
    state: State
    run_log: Log
    task_logs_url: str
    outputs: dict[str, str] = Field(description="output file -> its download URL")


RUN_FORM: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "workflow_params": {
                        "type": "string",
                        "description": "JSON object: the product's parameters; key inputs: input name -> "
                        "upload id (or r2o://uploads/<id>)",
                    },
                    "workflow_type": {"type": "string", "description": WORKFLOW_TYPE},
                    "workflow_type_version": {"type": "string", "description": WORKFLOW_TYPE_VERSION},
                    "tags": {"type": "string", "description": "JSON object of strings"},
                    "workflow_engine": {"type": "string", "description": ENGINE},
                    "workflow_engine_version": {"type": "string", "description": __version__},
                    "workflow_engine_parameters": {
                        "type": "string",
                        "description": "JSON object; must be empty",
                    },
                    "workflow_url": {
                        "type": "string",
                        "description": "a product: NAME, r2o:NAME, or a URL ending in /products/NAME",
                    },
                    "workflow_attachment": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "refused: r2o runs only the products of its repository",
                    },
                },
            }
        }
    },
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


def make_router(service: Service, identity: Callable[[Request], Identity]) -> APIRouter:
    """The WES 1.1 routes; ``identity`` is the dependency that authenticates a request."""
    router = APIRouter(prefix=PREFIX, tags=["GA4GH WES 1.1"])
    who_dep = Depends(identity)

    @router.get(
        "/service-info",
        summary="GetServiceInfo",
        response_model=None,
        responses={200: {"model": ServiceInfo}, **_errors(400, 401, 403, 500)},
    )
    def get_service_info(request: Request, who: Identity = who_dep) -> dict[str, Any]:
        counts = service.store.state_counts()
        products = sorted(service.catalog.products)
        return {
            **service_info(
                request,
                artifact="wes",
                version=WES_VERSION,
                name="r2o WES",
                description="r2o products (pipelines and components of this repository) as WES runs: "
                "workflow_type R2O, workflow_url a product name (GET /api/v1/products).",
            ),
            "workflow_type_versions": {WORKFLOW_TYPE: {"workflow_type_version": [WORKFLOW_TYPE_VERSION]}},
            "supported_wes_versions": [WES_VERSION],
            "supported_filesystem_protocols": ["r2o"],
            "workflow_engine_versions": {ENGINE: {"workflow_engine_version": [__version__]}},
            "default_workflow_engine_parameters": [],
            "system_state_counts": {s: counts.get(s, 0) for s in states.RUN_STATES},
            "auth_instructions_url": api_url(request, "/docs"),
            "tags": {
                "products": ", ".join(products),
                "workflow_url": "a product: NAME, r2o:NAME, or a URL ending in /products/NAME",
                "workflow_params": 'the product\'s parameters; "inputs": {input: upload id}',
                "inputs": f"upload ids from POST {API}/uploads, bare or as {UPLOAD_SCHEME}<id>",
            },
        }

    @router.get(
        "/runs",
        summary="ListRuns",
        response_model=None,
        responses={200: {"model": RunListResponse}, **_errors(400, 401, 403, 500)},
    )
    def list_runs(
        page_size: int | None = Query(default=None, description=f"at most {PAGE_MAX}"),
        page_token: str | None = Query(default=None),
        who: Identity = who_dep,
    ) -> dict[str, Any]:
        size = RUNS_PAGE if page_size is None or page_size < 1 else min(page_size, PAGE_MAX)
        page = service.runs(who, RunFilter(kinds=KINDS), cursor=page_token or None, limit=size)
        return {
            "runs": [run_summary(r) for r in page.items],
            "next_page_token": page.next_cursor or "",
        }

    @router.post(
        "/runs",
        summary="RunWorkflow",
        response_model=None,
        responses={200: {"model": RunId}, **_errors(400, 401, 403, 500)},
        openapi_extra={"requestBody": RUN_FORM},
    )
    async def run_workflow(request: Request, who: Identity = who_dep) -> dict[str, str]:
        form = await _read_form(request)
        try:
            body = launch_body(service.catalog, form, request.headers.get("content-type", ""))
        finally:
            await form.close()
        with statuses(SUBMIT_STATUSES, SUBMIT_FIELDS):
            run = await run_in_threadpool(service.submit, body, who)
        return {"run_id": run.id}

    @router.get(
        "/runs/{run_id}",
        summary="GetRunLog",
        response_model=None,
        responses={200: {"model": RunLog}, **_errors(401, 403, 404, 500)},
    )
    def get_run_log(run_id: str, request: Request, who: Identity = who_dep) -> dict[str, Any]:
        run = _visible(service, run_id, who)
        return run_log(service, run, service.tasks(run), request)

    @router.get(
        "/runs/{run_id}/status",
        summary="GetRunStatus",
        response_model=None,
        responses={200: {"model": RunStatus}, **_errors(401, 403, 404, 500)},
    )
    def get_run_status(run_id: str, who: Identity = who_dep) -> dict[str, str]:
        run = _visible(service, run_id, who)
        return {"run_id": run.id, "state": wes_state(run.state)}

    @router.get(
        "/runs/{run_id}/tasks",
        summary="ListTasks",
        response_model=None,
        responses={200: {"model": TaskListResponse}, **_errors(401, 403, 404, 500)},
    )
    def list_tasks(
        run_id: str,
        request: Request,
        page_size: int | None = Query(default=None, description=f"at most {TASKS_PAGE_MAX}"),
        page_token: str | None = Query(default=None),
        who: Identity = who_dep,
    ) -> dict[str, Any]:
        run = _visible(service, run_id, who)
        tasks = service.tasks(run)
        start = _task_offset(run, page_token, len(tasks))
        size = TASKS_PAGE if page_size is None or page_size < 1 else min(page_size, TASKS_PAGE_MAX)
        page = tasks[start : start + size]
        commands = task_commands(service, run)
        end = start + len(page)
        return {
            "task_logs": [task_log(run, t, request, commands) for t in page],
            "next_page_token": str(end) if end < len(tasks) else "",
        }

    @router.get(
        # task ids hold a "/" ("cmaq/2024-07-15"): matched raw or percent-encoded (%2F)
        "/runs/{run_id}/tasks/{task_id:path}",
        summary="GetTask",
        response_model=None,
        responses={200: {"model": TaskLog}, **_errors(401, 403, 404, 500)},
    )
    def get_task(run_id: str, task_id: str, request: Request, who: Identity = who_dep) -> dict[str, Any]:
        run = _visible(service, run_id, who)
        task = next((t for t in service.tasks(run) if t.task_id == task_id), None)
        if task is None:
            raise NotFound(
                f"run {run_id} has no task {task_id!r}; GET {PREFIX}/runs/{run_id}/tasks lists them"
            )
        return task_log(run, task, request, task_commands(service, run))

    @router.post(
        "/runs/{run_id}/cancel",
        summary="CancelRun",
        response_model=None,
        responses={200: {"model": RunId}, **_errors(401, 403, 404, 500)},
    )
    def cancel_run(run_id: str, who: Identity = who_dep) -> dict[str, str]:
        run = _visible(service, run_id, who)
        if run.state == states.CANCELED:
            return {"run_id": run.id}  # asked again: it is canceled
        if run.terminal:
            raise Ga4ghError(f"run {run_id} has already ended ({run.state}): there is nothing to cancel", 403)
        service.cancel(run_id, who)
        return {"run_id": run.id}

    return router


def _visible(service: Service, run_id: str, who: Identity) -> RunRecord:
    run = service.visible(run_id, who)
    if run.kind not in KINDS:
        raise NotFound(f"run {run_id} is a TES task, not a WES run: GET /ga4gh/tes/v1/tasks/{run_id}")
    return run


def _task_offset(run: RunRecord, token: str | None, total: int) -> int:
    if not token:
        return 0
    if not token.isdigit() or int(token) > total:
        # 404, not 400: ListTasks lists no 400; the page asked for does not exist
        raise NotFound(
            f"run {run.id}'s task list has no page {token!r} (a page_token is a next_page_token this "
            "service gave); start again without page_token"
        )
    return int(token)


async def _read_form(request: Request) -> FormData:
    try:
        return await request.form()
    except (HTTPException, MultiPartException) as exc:
        detail = exc.detail if isinstance(exc, HTTPException) else exc.message
        raise Ga4ghError(f"the multipart/form-data body cannot be read: {detail}", 400) from None


# --- requests -----------------------------------------------------------------------------------------


def launch_body(catalog: Catalog, form: FormData, content_type: str) -> dict[str, Any]:
    """The r2o launch request of a WES RunWorkflow form, or a Ga4ghError (400) naming every problem."""
    if "workflow_attachment" in form:
        raise Ga4ghError(
            "workflow_attachment is not accepted: r2o runs only the products of its own repository; "
            "name one in workflow_url (GET /api/v1/products lists them) and upload input files with "
            f"POST {API}/uploads",
            400,
        )
    problems: list[str] = []
    if not form and not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        problems.append(f"RunWorkflow takes multipart/form-data (WES 1.1), not {content_type or 'no body'}")
    for key in sorted(set(form.keys()) - set(FORM_FIELDS)):
        hint = did_you_mean(key, FORM_FIELDS)
        problems.append(f"unknown field {key!r}" + (f" ({hint})" if hint else ""))
    text: dict[str, str] = {}
    for key in FORM_FIELDS:
        values = form.getlist(key)
        if len(values) > 1:
            problems.append(f"{key} is given {len(values)} times")
        elif values:
            if isinstance(values[0], str):
                text[key] = values[0]
            else:
                problems.append(f"{key} must be a text field, not a file")
    if text.get("workflow_type") != WORKFLOW_TYPE:
        problems.append(_must("workflow_type", text.get("workflow_type"), WORKFLOW_TYPE))
    if text.get("workflow_type_version") != WORKFLOW_TYPE_VERSION:
        problems.append(
            _must("workflow_type_version", text.get("workflow_type_version"), WORKFLOW_TYPE_VERSION)
        )
    engine, engine_version = text.get("workflow_engine"), text.get("workflow_engine_version")
    if engine is not None and engine != ENGINE:
        problems.append(_must("workflow_engine", engine, ENGINE))
    if engine_version is not None and engine is None:
        problems.append("workflow_engine_version needs workflow_engine (r2o)")
    elif engine_version is not None and engine_version != __version__:
        problems.append(_must("workflow_engine_version", engine_version, __version__))
    product: str | None = None
    url = text.get("workflow_url")
    if url is None:
        problems.append("workflow_url is required: a product (GET /api/v1/products)")
    else:
        product = product_of(url, catalog)
        if product is None:
            problems.append(
                f"workflow_url {url!r} names no product of this service (products: "
                f"{', '.join(catalog.products)}); give NAME, r2o:NAME or a URL ending in /products/NAME"
            )
    params = _json_object(text, "workflow_params", problems)
    tags = _json_object(text, "tags", problems)
    engine_parameters = _json_object(text, "workflow_engine_parameters", problems)
    if engine_parameters:
        problems.append(
            f"r2o takes no workflow_engine_parameters ({', '.join(sorted(engine_parameters))}); "
            "a product's parameters go in workflow_params"
        )
    if problems:
        raise Ga4ghError("the run request is not valid: " + "; ".join(problems), 400)
    assert product is not None and url is not None
    request: dict[str, Any] = {
        "workflow_params": params,
        "workflow_type": WORKFLOW_TYPE,
        "workflow_type_version": WORKFLOW_TYPE_VERSION,
        "workflow_url": url,
        "tags": tags,
        "workflow_engine_parameters": {},
    }
    if engine is not None:
        request["workflow_engine"] = engine
    if engine_version is not None:
        request["workflow_engine_version"] = engine_version
    parameters = dict(params)
    inputs = parameters.pop("inputs", {})
    return {
        "product": product,
        "parameters": parameters,
        "inputs": _upload_ids(inputs),
        "tags": tags,
        "wes": request,  # shown as the RunLog's request
    }


def _must(field: str, given: str | None, wanted: str) -> str:
    if given is None:
        return f"{field} is required: {wanted}"
    return f"{field} must be {wanted}, not {given!r}"


def _json_object(text: Mapping[str, str], key: str, problems: list[str]) -> dict[str, Any]:
    raw = text.get(key)
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        problems.append(f"{key} is not JSON: {exc}")
        return {}
    if not isinstance(value, dict):
        problems.append(f"{key} must be a JSON object, not {type(value).__name__}")
        return {}
    return value


def product_of(url: str, catalog: Catalog) -> str | None:
    """The product a workflow_url names: NAME, r2o:NAME, or a URL whose path ends in /products/NAME."""
    text = url.strip()
    if text.startswith("r2o:") and "/" not in text:
        name = text[len("r2o:") :]
    elif "/" in text:
        found = re.search(r"/products/([^/]+)$", urlsplit(text).path.rstrip("/"))
        name = unquote(found.group(1)) if found else ""
    else:
        name = text
    return name if catalog.product(name) is not None else None


def _upload_ids(inputs: Any) -> Any:
    """Upload references as the launch check takes them: r2o://uploads/<id> -> <id>, at any depth."""
    if isinstance(inputs, str) and inputs.startswith(UPLOAD_SCHEME):
        return inputs[len(UPLOAD_SCHEME) :]
    if isinstance(inputs, dict):
        return {k: _upload_ids(v) for k, v in inputs.items()}
    return inputs


def run_request(run: RunRecord) -> dict[str, Any]:
    """The RunRequest of a run: as submitted through WES, else (the r2o API, a relaunch) its equivalent."""
    submitted = run.request.get("wes")
    if run.relaunch_of is None and isinstance(submitted, dict):
        return dict(submitted)
    params: dict[str, Any] = dict(run.parameters)
    if run.inputs:
        params["inputs"] = dict(run.inputs)
    return {
        "workflow_params": params,
        "workflow_type": WORKFLOW_TYPE,
        "workflow_type_version": WORKFLOW_TYPE_VERSION,
        "workflow_url": run.product,
        "tags": dict(run.tags),
        "workflow_engine_parameters": {},
    }


# --- answers ------------------------------------------------------------------------------------------


def run_summary(run: RunRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"run_id": run.id, "state": wes_state(run.state), "tags": dict(run.tags)}
    if run.started is not None:
        out["start_time"] = timestamp(run.started)
    if run.finished is not None:
        out["end_time"] = timestamp(run.finished)
    return out


def run_command(run: RunRecord) -> list[str]:
    """The r2o command line that runs the same thing."""
    if run.kind == PIPELINE:
        return ["r2o", "pipeline", "run", run.product, "--start", str(run.start), "--days", str(run.days)]
    return ["r2o", "run", run.product, *[a for k, v in run.parameters.items() for a in ("-p", f"{k}={v}")]]


def run_log(service: Service, run: RunRecord, tasks: list[TaskRecord], request: Request) -> dict[str, Any]:
    log: dict[str, Any] = {
        "name": run.name,
        "cmd": run_command(run),
        "system_logs": [f"{run.state}: {run.reason}"],
    }
    if run.started is not None:
        log["start_time"] = timestamp(run.started)
    if run.finished is not None:
        log["end_time"] = timestamp(run.finished)
    failed = [t for t in tasks if t.state in (states.EXECUTOR_ERROR, states.SYSTEM_ERROR)]
    if run.state == states.COMPLETE:
        log["exit_code"] = 0
    elif failed and failed[0].exit_code is not None:
        log["exit_code"] = failed[0].exit_code
    log["system_logs"] += [f"task {t.task_id} {t.state}: {t.reason}" for t in failed[:20]]
    base = f"{API}/runs/{run.id}/outputs"
    return {
        "run_id": run.id,
        "request": run_request(run),
        "state": wes_state(run.state),
        "run_log": log,
        "task_logs_url": api_url(request, f"{PREFIX}/runs/{run.id}/tasks"),
        "outputs": {o.path: api_url(request, f"{base}/{o.path}") for o in service.blobs.outputs(run)},
    }


def task_log(
    run: RunRecord, task: TaskRecord, request: Request, commands: Mapping[str, list[str]]
) -> dict[str, Any]:
    state = wes_state(task.state)
    note = f"r2o state {task.state}" + (f" (WES {state})" if state != task.state else "")
    out: dict[str, Any] = {
        "id": task.task_id,
        "name": task.task_id,
        "state": state,
        "system_logs": [f"{note}: {task.reason}" if task.reason else note],
    }
    if task.task_id in commands:
        out["cmd"] = commands[task.task_id]
    if task.started is not None:
        out["start_time"] = timestamp(task.started)
        log = api_url(request, f"{API}/runs/{run.id}/tasks/{task.task_id}/logs")
        out["stdout"] = out["stderr"] = log
    if task.finished is not None:
        out["end_time"] = timestamp(task.finished)
    if task.exit_code is not None:
        out["exit_code"] = task.exit_code
    if task.cache_hit:
        out["system_logs"].append(f"not run again: its outputs were found in the {task.cache_hit} cache")
    return out


def task_commands(service: Service, run: RunRecord) -> dict[str, list[str]]:
    """Each task's command line in its container (the image's ENTRYPOINT, then the manifest's command
    with the task's parameters); {} when the run's graph cannot be made any more (a changed repository)."""
    try:
        if run.kind == COMPONENT:
            component = service.repo.component(run.product)
            return {component.name: [*component.entrypoint, *component.command_with(run.parameters)]}
        if run.kind == PIPELINE and run.start is not None and run.days is not None:
            pipeline = service.catalog.pipelines[run.product]
            graph = planning.make_graph(pipeline, dt.date.fromisoformat(run.start), run.days)
            out: dict[str, list[str]] = {}
            for task in graph.tasks:
                component = pipeline.steps[task.step].component
                values = {n: p.default for n, p in component.parameters.items() if p.default is not None}
                values.update(task.parameters)
                out[task.id] = [*component.entrypoint, *component.command_with(values)]
            return out
    except (R2OError, KeyError, ValueError):
        pass
    return {}


__all__ = ["PREFIX", "launch_body", "make_router", "product_of", "wes_state"]
