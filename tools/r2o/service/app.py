"""The service as one ASGI app: the r2o API, the GA4GH facades, one OpenAPI document.

``create_app`` wires a :class:`~r2o.service.core.Service` and an authenticator into FastAPI. The
same app runs under uvicorn (`r2o serve`) and, on AWS, behind an ASGI adapter in Lambda.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from r2o import __version__
from r2o.service import api
from r2o.service.auth import Authenticator, AuthError, Identity
from r2o.service.core import Service, ServiceError

WES_PREFIX = "/ga4gh/wes/v1"
TES_PREFIX = "/ga4gh/tes/v1"

Router = Callable[[Service, Callable[[Request], Identity]], Any]


def create_app(
    service: Service,
    authenticator: Authenticator,
    *,
    extra_routers: tuple[Router, ...] = (),
    run_workers: bool = True,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            service.workers.start()
        try:
            yield
        finally:
            if run_workers:
                service.workers.stop()

    app = FastAPI(
        title="r2o",
        version=__version__,
        description=(
            "Launch r2o products (pipelines such as AQcast, and single components), watch them, and "
            "download their outputs. Also served: GA4GH WES 1.1 at /ga4gh/wes/v1 and TES 1.1 at "
            "/ga4gh/tes/v1."
        ),
        lifespan=lifespan,
    )

    def identity(request: Request) -> Identity:
        return authenticator.authenticate(request.headers.get("authorization"))

    app.include_router(api.make_router(service, identity))
    for make in extra_routers:
        app.include_router(make(service, identity))

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return _error(request, exc.status, exc.message, [f.as_dict() for f in exc.fields])

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        response = _error(request, 401, str(exc), [])
        response.headers["WWW-Authenticate"] = exc.www_authenticate
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": str(e.get("msg", "")),
            }
            for e in exc.errors()
        ]
        status = 400 if request.url.path.startswith(("/ga4gh/",)) else 422
        return _error(
            request,
            status,
            "the request is not valid: " + "; ".join(f"{f['field']}: {f['message']}" for f in fields),
            fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def no_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """A path no route matches (404: also a path parameter holding a newline) or a method it does
        not take (405), in the error shape of the API the path belongs to."""
        what = {404: "is not an endpoint of this service", 405: "does not take this method"}.get(
            exc.status_code
        )
        message = f"{request.method} {request.url.path} {what} (GET /openapi.json lists them)"
        response = _error(request, exc.status_code, message if what else str(exc.detail), [])
        response.headers.update(exc.headers or {})
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"ok": True, "workers_busy": service.workers.busy}

    return app


def _error(request: Request, status: int, message: str, fields: list[dict[str, str]]) -> JSONResponse:
    """r2o's error shape; the GA4GH facades answer with their specs' ErrorResponse."""
    path = request.url.path
    if path.startswith(WES_PREFIX):
        return JSONResponse({"msg": message, "status_code": status}, status_code=status)
    if path.startswith(TES_PREFIX):
        return JSONResponse({"message": message, "status_code": status}, status_code=status)
    return JSONResponse({"message": message, "errors": fields}, status_code=status)
