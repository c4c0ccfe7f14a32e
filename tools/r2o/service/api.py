"""The r2o REST API under /api/v1: products, uploads, runs, tasks, logs, outputs, cancel, relaunch,
me. Thin: each route reads its request, calls :class:`r2o.service.core.Service`, shapes the answer.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from r2o.service import files
from r2o.service.auth import Identity
from r2o.service.core import Invalid, NotFound, Service, ServiceError
from r2o.service.store import RunFilter, RunRecord, TaskRecord

PREFIX = "/api/v1"


# --- shapes (the OpenAPI document; answers are built as plain dicts of the same shape) ----------------


class ErrorBody(BaseModel):
    message: str = Field(description="what went wrong, and what to do")
    errors: list[dict[str, str]] = Field(default_factory=list, description="one entry per bad field")


class LaunchBody(BaseModel):
    product: str = Field(description="a product name from GET /api/v1/products")
    name: str | None = Field(default=None, description="a name for the run (one line)")
    tags: dict[str, str] | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description="values for the product's parameters_schema"
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="component: input name -> upload id; pipeline: input name -> {day: upload id}",
    )
    validate_only: bool = Field(default=False, description="check and estimate; start nothing")


class RelaunchBody(BaseModel):
    name: str | None = None
    tags: dict[str, str] | None = None
    parameters: dict[str, Any] | None = Field(default=None, description="changed parameters only")
    inputs: dict[str, Any] | None = None


class TaskView(BaseModel):
    id: str
    step: str
    component: str
    day: str | None
    state: str
    reason: str
    vcpus: float
    started: str | None
    finished: str | None
    seconds: float | None
    exit_code: int | None
    cache_hit: str | None
    logs_url: str


class RunView(BaseModel):
    id: str
    name: str
    product: str
    kind: str
    user: str
    state: str
    reason: str
    created: str
    started: str | None
    finished: str | None
    elapsed_seconds: float | None
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    tags: dict[str, str]
    tasks_total: int
    estimated_vcpu_hours: float
    estimated_cost: float
    used_vcpu_hours: float
    relaunch_of: str | None
    expiration_time: str | None = Field(
        default=None, description="when the run's outputs are deleted (none: they are kept)"
    )
    urls: dict[str, str]


class RunDetail(RunView):
    tasks: list[TaskView]
    task_counts: dict[str, int]


class RunPage(BaseModel):
    runs: list[RunView]
    next_cursor: str | None


class OutputView(BaseModel):
    path: str
    task: str
    size: int
    sha256: str
    media_type: str
    url: str
    thumbnail_url: str | None


class LogView(BaseModel):
    task: str
    text: str
    offset: int
    next_offset: int
    size: int
    complete: bool


@functools.lru_cache(maxsize=1 << 16)  # a listed run's times are formatted again on every page
def _iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


def run_view(run: RunRecord, *, expiry_days: float | None = None) -> dict[str, Any]:
    base = f"{PREFIX}/runs/{run.id}"
    end = run.finished
    expires = end + expiry_days * 86400 if end is not None and expiry_days is not None else None
    elapsed = None
    if run.started is not None:
        elapsed = round((end if end is not None else dt.datetime.now(dt.UTC).timestamp()) - run.started, 3)
    return {
        "id": run.id,
        "name": run.name,
        "product": run.product,
        "kind": run.kind,
        "user": run.user,
        "state": run.state,
        "reason": run.reason,
        "created": _iso(run.created),
        "started": _iso(run.started),
        "finished": _iso(run.finished),
        "elapsed_seconds": elapsed,
        "parameters": dict(run.parameters),
        "inputs": dict(run.inputs),
        "tags": dict(run.tags),
        "tasks_total": run.tasks_total,
        "estimated_vcpu_hours": round(run.vcpu_hours, 4),
        "estimated_cost": round(run.cost, 4),
        "used_vcpu_hours": round(run.used_vcpu_hours, 4),
        "relaunch_of": run.relaunch_of,
        "expiration_time": _iso(expires),
        "urls": {
            "self": base,
            "outputs": f"{base}/outputs",
            "provenance": f"{base}/provenance",
            "cancel": f"{base}/cancel",
            "relaunch": f"{base}/relaunch",
        },
    }


def task_view(run: RunRecord, task: TaskRecord) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "step": task.step,
        "component": task.component,
        "day": task.day,
        "state": task.state,
        "reason": task.reason,
        "vcpus": task.vcpus,
        "started": _iso(task.started),
        "finished": _iso(task.finished),
        "seconds": task.seconds,
        "exit_code": task.exit_code,
        "cache_hit": task.cache_hit,
        "logs_url": f"{PREFIX}/runs/{run.id}/tasks/{task.task_id}/logs",
    }


def make_router(service: Service, identity: Any) -> APIRouter:
    """The /api/v1 routes; ``identity`` is the dependency that authenticates a request."""
    router = APIRouter(prefix=PREFIX, tags=["r2o"])
    who_dep = Depends(identity)
    view = functools.partial(run_view, expiry_days=service.config.results_expiry_days)
    errors: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorBody},
        401: {"model": ErrorBody},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody},
    }

    @router.get("/products", summary="Every product (pipelines first) with its launch schema")
    def products(who: Identity = who_dep) -> dict[str, Any]:
        items = sorted(service.catalog.products.values(), key=lambda p: (p.kind != "pipeline", p.name))
        return {"products": [p.as_dict() for p in items]}

    @router.get("/products/{name}", summary="One product", responses=errors)
    def product(name: str, who: Identity = who_dep) -> dict[str, Any]:
        found = service.catalog.product(name)
        if found is None:
            raise NotFound(f"no product named {name}")
        return found.as_dict()

    @router.post(
        "/uploads",
        status_code=201,
        summary="Upload an input file (size-limited, checksummed)",
        responses={**errors, 413: {"model": ErrorBody}},
    )
    def upload(
        file: Annotated[UploadFile, File(description="the file")],
        who: Identity = who_dep,
        sha256: Annotated[str | None, Form(description="its SHA-256, checked when given")] = None,
    ) -> dict[str, Any]:
        try:
            stored = service.blobs.store_upload(
                file.file,
                user=who.user,
                filename=file.filename or "upload",
                max_bytes=service.config.upload_max_bytes,
            )
        except files.TooLarge as exc:
            raise PayloadTooLarge(
                f"{exc}; the service accepts uploads up to {service.config.upload_max_bytes} bytes"
            ) from None
        if sha256 is not None and sha256.strip().lower() != stored.sha256:
            service.blobs.remove_upload(stored)
            raise ServiceError(
                f"the file's SHA-256 is {stored.sha256}, not {sha256}: the upload was damaged; send it again"
            )
        service.store.add_upload(stored)
        return {"id": stored.id, "filename": stored.filename, "size": stored.size, "sha256": stored.sha256}

    @router.post(
        "/runs",
        summary="Launch a run, or check one (validate_only)",
        status_code=201,
        responses={
            **errors,
            200: {"description": "validate_only: the plan"},
            403: {"model": ErrorBody},
            429: {"model": ErrorBody},
        },
    )
    def create(body: LaunchBody, who: Identity = who_dep) -> Response:
        data = body.model_dump(exclude_none=True)
        if data.pop("validate_only", False):
            return JSONResponse(service.validate_only(data, who), status_code=200)
        run = service.submit(data, who)
        return JSONResponse(view(run), status_code=201, headers={"Location": f"{PREFIX}/runs/{run.id}"})

    @router.get(
        "/runs",
        summary="Runs, newest first (yours; admins: everyone's)",
        response_model=None,
        responses={200: {"model": RunPage}, **errors},
    )
    def runs(
        product: str | None = None,
        state: str | None = None,
        user: str | None = None,
        name: str | None = None,
        since: dt.datetime | None = Query(default=None, description="created at or after (ISO 8601)"),
        until: dt.datetime | None = Query(default=None, description="created before (ISO 8601)"),
        tag: str | None = Query(default=None, description="KEY:VALUE"),
        cursor: str | None = None,
        limit: int = Query(default=50, ge=1, le=200),
        who: Identity = who_dep,
    ) -> Response:
        tag_pair = None
        if tag is not None:
            key, sep, value = tag.partition(":")
            if not sep:
                raise ServiceError("tag must be KEY:VALUE")
            tag_pair = (key, value)
        where = RunFilter(
            user=user,
            product=product,
            state=state,
            name=name,
            since=since.timestamp() if since is not None else None,
            until=until.timestamp() if until is not None else None,
            tag=tag_pair,
        )
        page = service.runs(who, where, cursor=cursor, limit=limit)
        # Answered as built: run_view's dicts hold JSON values only, and FastAPI's jsonable_encoder
        # walking 50 of them took most of the request's time (benchmarks/service_load.py)
        return FastJSON({"runs": [view(r) for r in page.items], "next_cursor": page.next_cursor})

    @router.get(
        "/runs/{run_id}",
        summary="One run with its tasks",
        response_model=None,
        responses={200: {"model": RunDetail}, **errors},
    )
    def run(run_id: str, who: Identity = who_dep) -> Response:
        found = service.visible(run_id, who)
        tasks = service.tasks(found)
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t.state] = counts.get(t.state, 0) + 1
        return FastJSON(  # as the list: no jsonable_encoder walk (the page clients poll)
            {**view(found), "tasks": [task_view(found, t) for t in tasks], "task_counts": counts}
        )

    @router.get(
        "/runs/{run_id}/tasks/{task_id:path}/logs",
        summary="A task's log, paged; follows while it runs",
        response_model=None,
        responses={200: {"model": LogView}, **errors},
    )
    def logs(
        run_id: str,
        task_id: str,
        offset: int = Query(default=0, ge=0),
        limit: int = Query(default=65536, ge=1, le=files.LOG_PAGE_MAX),
        who: Identity = who_dep,
    ) -> dict[str, Any]:
        found = service.visible(run_id, who)
        task = next((t for t in service.tasks(found) if t.task_id == task_id), None)
        if task is None:
            raise NotFound(f"run {run_id} has no task {task_id}")
        page = service.executor.read_log(
            found,
            task,
            offset,
            limit,
            finished=task.state not in ("QUEUED", "RUNNING") or found.terminal,
        )
        return {
            "task": task.task_id,
            "text": page.text,
            "offset": page.offset,
            "next_offset": page.next_offset,
            "size": page.size,
            "complete": page.complete,
        }

    @router.get("/runs/{run_id}/outputs", summary="The run's output files", responses=errors)
    def outputs(run_id: str, who: Identity = who_dep) -> dict[str, Any]:
        found = service.visible(run_id, who)
        base = f"{PREFIX}/runs/{found.id}/outputs"
        items = []
        for o in service.blobs.outputs(found):
            items.append(
                {
                    "path": o.path,
                    "task": o.task,
                    "size": o.size,
                    "sha256": o.sha256,
                    "media_type": o.media_type,
                    "url": f"{base}/{o.path}",
                    "thumbnail_url": f"{base}/{o.path}?thumbnail=true" if o.is_image else None,
                }
            )
        return {"outputs": items}

    @router.get(
        "/runs/{run_id}/outputs/{path:path}",
        summary="Download an output (or its thumbnail)",
        response_class=FileResponse,
        responses={**errors, 307: {"description": "the output's presigned URL (on AWS), which expires"}},
    )
    def download(run_id: str, path: str, thumbnail: bool = False, who: Identity = who_dep) -> Response:
        found = service.visible(run_id, who)
        hit = service.blobs.download(found, path)
        if hit is None:
            raise NotFound(f"run {run_id} has no output {path}")
        item = hit.item
        if thumbnail:
            if not item.is_image:
                raise NotFound(f"{path} is not an image")
            small = service.blobs.thumbnail(found, item)
            if isinstance(small, bytes):
                return Response(small, media_type="image/png")
            return FileResponse(small, media_type="image/png")
        if hit.url is not None:
            return RedirectResponse(hit.url, status_code=307, headers={"Cache-Control": "no-store"})
        assert hit.path is not None
        return FileResponse(hit.path, media_type=item.media_type, filename=hit.path.name)

    @router.get(
        "/runs/{run_id}/provenance",
        summary="Provenance: commit, image digests, parameters, input hashes",
        responses=errors,
    )
    def provenance(run_id: str, who: Identity = who_dep) -> Response:
        found = service.visible(run_id, who)
        doc = service.blobs.provenance(found, view(found))
        return JSONResponse(
            doc, headers={"Content-Disposition": f'attachment; filename="r2o-{found.id}-provenance.json"'}
        )

    @router.post(
        "/runs/{run_id}/cancel",
        summary="Cancel a run (CANCELING until every task stopped)",
        status_code=202,
        responses={**errors, 409: {"model": ErrorBody}},
    )
    def cancel(run_id: str, who: Identity = who_dep) -> dict[str, Any]:
        return view(service.cancel(run_id, who))

    @router.post(
        "/runs/{run_id}/relaunch",
        summary="Launch again, with the same or edited parameters",
        status_code=201,
        responses={**errors, 403: {"model": ErrorBody}, 429: {"model": ErrorBody}},
    )
    def relaunch(run_id: str, body: RelaunchBody | None = None, who: Identity = who_dep) -> Response:
        edits = body.model_dump(exclude_none=True) if body is not None else {}
        run = service.relaunch(run_id, edits, who)
        return JSONResponse(view(run), status_code=201, headers={"Location": f"{PREFIX}/runs/{run.id}"})

    @router.get("/me", summary="Who you are, and your quota")
    def me(who: Identity = who_dep) -> dict[str, Any]:
        return {
            "user": who.user,
            "name": who.name,
            "groups": list(who.groups),
            "admin": who.admin,
            "quota": service.quota(who).as_dict(),
        }

    return router


class PayloadTooLarge(ServiceError):
    status = 413


class FastJSON(JSONResponse):
    """JSON of plain values encoded by orjson: the runs list and a run's detail, which clients poll
    (the standard encoder took a quarter of such a request's CPU). Their values come from the store:
    strings, integers, finite floats, None."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(exc: ServiceError) -> JSONResponse:
    return JSONResponse(
        {"message": exc.message, "errors": [f.as_dict() for f in exc.fields]}, status_code=exc.status
    )


__all__ = ["Invalid", "Request", "error_response", "make_router", "run_view"]
