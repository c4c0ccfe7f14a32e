"""The service app reached as AWS reaches it: an HTTP client whose requests become API Gateway HTTP API
events (payload format 2.0) handed in-process to the Lambda handler, whose answers come back as the
handler's result. The same tests run through it as through FastAPI's TestClient.

The events are built as AWS documents them (docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-integrations-lambda.html): ``version`` "2.0", ``routeKey`` "$default", ``rawPath``,
``rawQueryString``, ``cookies``, lower-case ``headers`` (repeated ones joined by commas),
``queryStringParameters``, ``requestContext.http`` (method, path, protocol, sourceIp, userAgent), and
``body`` with ``isBase64Encoded`` (binary bodies base64). Lambda's 6 MB limit on an event and on an
answer is kept, as AWS keeps it (413 and 502).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import boto3
import httpx
import pytest
from mangum import Mangum

from r2o.render import service_tables
from r2o.repo import Repository
from r2o.service.auth import Authenticator
from r2o.service.aws import handler
from r2o.service.aws.config import AwsServiceConfig
from r2o.service.blobs import Blobs, LocalBlobs
from r2o.service.executor import Executor
from r2o.service.server import Options, config_of
from r2o.service.worker import Workers
from tests.aws.conftest import REGION, aws_environment

LAMBDA_PAYLOAD_MAX = 6 * 1024 * 1024  # bytes, request and response (Lambda's synchronous invoke limit)
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


@dataclass
class Exchange:
    """One invocation as the handler saw it."""

    event: dict[str, Any]
    answer: dict[str, Any]


def event_of(request: httpx.Request) -> dict[str, Any]:
    """The API Gateway HTTP API payload 2.0 event AWS would hand the function for ``request``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.multi_items():
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif key in headers:
            headers[key] += "," + value
        else:
            headers[key] = value
    source_ip = "192.0.2.10"  # a TEST-NET address: the client as API Gateway saw it
    headers.setdefault("x-forwarded-for", source_ip)
    headers.setdefault("x-forwarded-proto", request.url.scheme)
    headers.setdefault(
        "x-forwarded-port", str(request.url.port or (443 if request.url.scheme == "https" else 80))
    )
    raw_query = request.url.query.decode("ascii")
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    body = request.read()
    content_type = headers.get("content-type", "")
    text = not body or content_type.startswith(_TEXT_TYPES)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.url.raw_path.decode("ascii").split("?", 1)[0],
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r2otest",
            "domainName": request.url.host,
            "domainPrefix": request.url.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": unquote(request.url.path),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not text,
    }
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if body:
        event["body"] = body.decode("utf-8") if text else base64.b64encode(body).decode("ascii")
    return event


def response_of(answer: dict[str, Any]) -> httpx.Response:
    """The HTTP answer API Gateway makes of the function's payload 2.0 result."""
    body = answer.get("body") or ""
    content = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode("utf-8")
    headers = list((answer.get("headers") or {}).items())
    headers += [("set-cookie", c) for c in answer.get("cookies") or []]
    return httpx.Response(answer["statusCode"], headers=headers, content=content)


class LambdaTransport(httpx.BaseTransport):
    def __init__(self, function: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.function = function
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        event = event_of(request)
        if len(json.dumps(event)) > LAMBDA_PAYLOAD_MAX:
            return httpx.Response(413, json={"message": "Request Entity Too Large"})
        answer = self.function(event, None)
        self.exchanges.append(Exchange(event, answer))
        if len(json.dumps(answer)) > LAMBDA_PAYLOAD_MAX:
            return httpx.Response(502, json={"message": "Internal Server Error"})
        response = response_of(answer)
        response.request = request
        return response


class LambdaClient(httpx.Client):
    """An httpx client of the Lambda handler; entering it starts ``executor`` (what the app's lifespan
    does under uvicorn), leaving it stops it."""

    def __init__(
        self,
        function: Callable[[dict[str, Any], Any], dict[str, Any]],
        executor: Executor | None = None,
        base_url: str = "http://testserver",  # the host the shared tests expect (TestClient's)
    ) -> None:
        self.transport = LambdaTransport(function)
        self.executor = executor
        super().__init__(
            transport=self.transport,
            base_url=base_url,
            follow_redirects=True,
        )

    def __enter__(self) -> LambdaClient:
        super().__enter__()
        if self.executor is not None:
            self.executor.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.executor is not None:
            self.executor.stop()
            settle(self.executor)
        super().__exit__(*exc)


def settle(executor: Executor, timeout: float = 30.0) -> None:
    """Cancel the runs the local workers still execute and wait for their threads to end: a run
    left going after its test would write to tables (and a moto server) that are gone."""
    active = getattr(executor, "_active", {})
    for run_id in list(active):
        executor.cancel(run_id)
    deadline = time.monotonic() + timeout
    while executor.busy and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class AwsHome:
    """Tables and a results bucket in the moto server, and clients of the Lambda handler on them."""

    url: str
    tables: dict[str, str]
    bucket: str
    made: list[LambdaClient] = field(default_factory=list)

    def config(self, root: Path, options: Options, **settings: Any) -> AwsServiceConfig:
        return AwsServiceConfig(
            runs_table=self.tables["runs"],
            tasks_table=self.tables["tasks"],
            uploads_table=self.tables["uploads"],
            results_bucket=self.bucket,
            oidc_issuer=settings.pop("oidc_issuer", "https://issuer.invalid/unused"),
            oidc_audience=settings.pop("oidc_audience", "unused"),
            repo=root,
            service=config_of(Repository(root), options),
            **settings,
        )

    def client(
        self,
        root: Path,
        options: Options,
        auth: Authenticator | None,
        *,
        blobs: Callable[[AwsServiceConfig], Blobs] | None = None,
        **settings: Any,
    ) -> LambdaClient:
        """A client of ``handler.build_app`` on the moto tables: runs executed by the local workers
        (native), files in the local folders unless ``blobs`` says otherwise (S3: ``handler.blobs``)."""
        cfg = self.config(root, options, **settings)
        made: list[Executor] = []

        def workers(repo: Repository, store: Any, catalog: Any) -> Executor:
            made.append(Workers(repo, store, catalog, cfg.service))
            return made[0]

        app = handler.build_app(
            cfg,
            make_executor=workers,
            blobs=(blobs or (lambda c: LocalBlobs(c.service)))(cfg),
            auth=auth,
        )
        client = LambdaClient(Mangum(app, lifespan="off"), made[0])
        self.made.append(client)
        return client


def create_bucket(url: str, name: str) -> str:
    boto3.client("s3", endpoint_url=url, region_name=REGION).create_bucket(Bucket=name)
    return name


def create_tables(url: str, prefix: str) -> dict[str, str]:
    """The service's three tables (and their TTL) in moto, made from the data the stack renders."""
    client = boto3.client("dynamodb", endpoint_url=url, region_name=REGION)
    names = {}
    for table in service_tables.TABLES:
        name = f"{prefix}-{table.role}"
        client.create_table(**service_tables.create_table_request(table, name))
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=service_tables.ttl_specification())
        names[table.role] = name
    return names


@pytest.fixture
def aws_home(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsHome]:
    """Fresh tables and bucket (unique names: no reset of the shared moto server), this process's
    AWS SDK pointed at moto."""
    for key, value in aws_environment(tmp_path).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    prefix = f"r2o-{uuid.uuid4().hex[:10]}"
    home = AwsHome(moto_url, create_tables(moto_url, prefix), create_bucket(moto_url, f"{prefix}-results"))
    yield home
    for client in home.made:
        if client.executor is not None:
            client.executor.stop(timeout=5)
            settle(client.executor)
