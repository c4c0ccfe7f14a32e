"""The service as one ASGI app: the r2o API, the GA4GH facades, one OpenAPI document, the web page.

``create_app`` wires a :class:`~r2o.service.core.Service` and an authenticator into FastAPI. The
same app runs under uvicorn (`r2o serve`) and, on AWS, behind an ASGI adapter in Lambda.

The web page is the static files of ``web/`` (plain ES modules, no build step), served at ``/``
exactly as they would be from an S3 bucket: one route per file (no catch-all, so the API's own 404
and 405 answers are untouched), gzipped when the browser accepts it. What differs between homes is
fetched by the page at run time from ``/config.json`` (here: made from the authenticator; on S3: a
file written next to the page), never baked into the files.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from r2o import __version__
from r2o.service import api
from r2o.service.auth import Authenticator, AuthError, Identity, OidcAuth
from r2o.service.core import Service, ServiceError

WES_PREFIX = "/ga4gh/wes/v1"
TES_PREFIX = "/ga4gh/tes/v1"

Router = Callable[[Service, Callable[[Request], Identity]], Any]

WEB_DIR = Path(__file__).with_name("web")
WEB_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: The scopes the page asks the issuer for (Cognito's hosted UI knows these three).
WEB_SCOPES = "openid email profile"
#: Scripts only from the page's own origin (no inline script: data shown is never markup); the API
#: and the issuer's discovery and token endpoints may be on other origins (CloudFront + Cognito).
WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self' http: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class WebFile:
    body: bytes
    gzipped: bytes
    media_type: str


def web_files(folder: Path = WEB_DIR) -> dict[str, WebFile]:
    """The page's files by URL path ("/" is index.html), each also gzipped once, up front."""
    found: dict[str, WebFile] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        media_type = WEB_MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        found["/" + path.name] = WebFile(body, gzip.compress(body, 9, mtime=0), media_type)
    if "/index.html" in found:
        found["/"] = found["/index.html"]
    return found


def web_config(authenticator: Authenticator) -> dict[str, Any]:
    """What the page needs to know about this home: how to sign in, and where the API is."""
    if isinstance(authenticator, OidcAuth):
        return {
            "auth": "oidc",
            "issuer": authenticator.issuer,
            "client_id": authenticator.audience,
            "scopes": WEB_SCOPES,
            "api_base": "",
        }
    return {"auth": "none", "issuer": None, "client_id": None, "scopes": None, "api_base": ""}


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
            service.executor.start()
        try:
            yield
        finally:
            if run_workers:
                service.executor.stop()

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
        return {"ok": True, "workers_busy": service.executor.busy}

    config = web_config(authenticator)

    @app.get("/config.json", include_in_schema=False)
    def page_config() -> JSONResponse:
        return JSONResponse(config, headers={"Cache-Control": "no-cache"})

    for route, file in web_files().items():
        app.add_api_route(route, _web_handler(file), methods=["GET"], include_in_schema=False)

    return app


def _web_handler(file: WebFile) -> Callable[[Request], Response]:
    def serve(request: Request) -> Response:
        headers = {
            "Cache-Control": "no-cache",
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if file.media_type.startswith("text/html"):
            headers["Content-Security-Policy"] = WEB_CSP
            headers["Referrer-Policy"] = "no-referrer"
        body = file.body
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            body = file.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=file.media_type, headers=headers)

    return serve


def _error(request: Request, status: int, message: str, fields: list[dict[str, str]]) -> JSONResponse:
    """r2o's error shape; the GA4GH facades answer with their specs' ErrorResponse."""
    path = request.url.path
    if path.startswith(WES_PREFIX):
        return JSONResponse({"msg": message, "status_code": status}, status_code=status)
    if path.startswith(TES_PREFIX):
        return JSONResponse({"message": message, "status_code": status}, status_code=status)
    return JSONResponse({"message": message, "errors": fields}, status_code=status)
