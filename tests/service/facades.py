"""Fixtures of the GA4GH facade tests (WES, TES, schemathesis): a repository, the app, a real server.

The repository is a copy of identity-matrix plus the fixture pipeline ``chain`` (gen, acc, gather:
task ids with a "/"), a ``failing`` pipeline (its first step fails, its second is skipped) and a
``napper`` component (sleeps, to be canceled). Components run natively: no Docker. Two users,
alice and bob, authenticate with ``Authorization: Bearer <name>``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from r2o.repo import Repository
from r2o.service import states, tes, wes
from r2o.service.app import create_app
from r2o.service.auth import AuthError, Identity
from r2o.service.core import Service
from r2o.service.server import Options, build
from tests.conftest import REPO_ROOT, git
from tests.services import answering, free_port

SPECS = REPO_ROOT.parent / "shared" / "specs"  # read in place, never copied into the project
WES_SPEC = SPECS / "ga4gh-wes-1.1.0.openapi.yaml"
TES_SPEC = SPECS / "ga4gh-tes-1.1.openapi.yaml"
PIPELINE_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "pipeline"

USERS = {
    "alice": Identity("alice", "Alice", (), False),
    "bob": Identity("bob", "Bob", (), False),
}
ALICE = {"Authorization": "Bearer alice"}
BOB = {"Authorization": "Bearer bob"}
NAPPER = "import sys, time; print('napping', flush=True); time.sleep(float(sys.argv[1]))"
TERMINAL = states.TERMINAL


class HeaderAuth:
    """`Authorization: Bearer <user>` -> that user; anything else is refused (401)."""

    def authenticate(self, authorization: str | None) -> Identity:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or token not in USERS:
            raise AuthError("sign in first: send Authorization: Bearer <token>", error=None)
        return USERS[token]


def add_napper(root: Path) -> None:
    folder = root / "components" / "napper"
    folder.mkdir()
    (folder / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENTRYPOINT []\n")
    manifest = {
        "apiVersion": "r2o/v1",
        "name": "napper",
        "version": "1.0.0",
        "description": "sleeps (to be canceled)",
        "base": "python-sci",
        "command": ["python3", "-c", NAPPER, "Ref::seconds"],
        "parameters": {"seconds": {"type": "number", "default": 30, "minimum": 0, "maximum": 600}},
        "resources": {"vcpus": 1, "memory_mib": 512, "timeout_s": 600, "retries": 1},
        "outputs": [{"name": "log", "path": "stdout", "format": "text"}],
    }
    (folder / "component.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


def add_pipelines(root: Path) -> None:
    for component in (PIPELINE_FIXTURE / "components").iterdir():
        shutil.copytree(component, root / "components" / component.name)
    shutil.copytree(PIPELINE_FIXTURE / "pipelines", root / "pipelines")
    failing = {
        "apiVersion": "r2o/v1",
        "kind": "Pipeline",
        "name": "failing",
        "description": "gen fails on every day, so acc never runs",
        "steps": {
            "gen": {
                "component": "gen",
                "foreach": "day",
                "parameters": {"date": "${day}", "fail_on": "${day}"},
            },
            "acc": {
                "component": "acc",
                "foreach": "day",
                "inputs": {"value": {"step": "gen", "output": "value"}},
            },
        },
    }
    (root / "pipelines" / "failing.yaml").write_text(yaml.safe_dump(failing, sort_keys=False))


@pytest.fixture
def facade_repo(repo_copy: Path) -> Path:
    add_napper(repo_copy)
    add_pipelines(repo_copy)
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-q", "-m", "service fixtures")
    return repo_copy


def make_app(
    root: Path, *, run_workers: bool = True, native: bool = True, **options: Any
) -> tuple[Service, FastAPI]:
    service, _ = build(Repository(root), Options(native=native, workers=2, **options))
    app = create_app(
        service, HeaderAuth(), extra_routers=(wes.make_router, tes.make_router), run_workers=run_workers
    )
    return service, app


@pytest.fixture
def facade_service(facade_repo: Path) -> Iterator[tuple[Service, TestClient]]:
    """The service and a client of its app (workers running)."""
    service, app = make_app(facade_repo)
    with TestClient(app) as client:
        yield service, client


@pytest.fixture
def facade_client(facade_service: tuple[Service, TestClient]) -> TestClient:
    return facade_service[1]


def image_of(service: Service, component: str) -> str:
    product = service.catalog.product(component)
    assert product is not None
    return product.content_tag


@pytest.fixture
def facade_server(facade_repo: Path, tmp_path: Path) -> Iterator[str]:
    """`r2o serve --native` (uvicorn, auth none, loopback) in a process of its own; yields its URL."""
    port = free_port()
    log = tmp_path / "serve.log"
    r2o = Path(sys.executable).with_name("r2o")
    command = [
        str(r2o),
        "--repo",
        str(facade_repo),
        "serve",
        "--native",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    url = f"http://127.0.0.1:{port}"
    with answering(command, log, f"{url}/healthz", "r2o serve"):
        yield url


# --- clients made from the official specs ------------------------------------------------------------------


class _JsonLikeLoader(yaml.SafeLoader):
    """YAML as JSON sees it: the specs' example timestamps stay strings (not datetimes)."""


_JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.load(path.read_text(), Loader=_JsonLikeLoader)
    return spec


def tes_spec() -> dict[str, Any]:
    """The TES 1.1 document with its one erratum mended: tesTask requires ``executors``, yet the spec's
    own MINIMAL view (the default of GetTask and ListTasks) answers only id and state."""
    spec = load_spec(TES_SPEC)
    task = spec["components"]["schemas"]["tesTask"]
    task["required"] = [r for r in task["required"] if r != "executors"]
    return spec


class SpecClient:
    """A client made from an OpenAPI document: operations called by operationId, each answer checked
    against the schema the document gives for its status (a status it does not list fails)."""

    def __init__(
        self, http: Any, spec: dict[str, Any], base: str, headers: dict[str, str] | None = None
    ) -> None:
        self.http = http
        self.spec = spec
        self.base = base
        self.headers = headers or {}
        self.operations: dict[str, tuple[str, str, dict[str, Any]]] = {
            op["operationId"]: (method, path, op)
            for path, item in spec["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }

    def call(
        self,
        operation_id: str,
        path: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
        **kwargs: Any,
    ) -> Any:
        method, template, op = self.operations[operation_id]
        url = self.base + template.format(**{k: quote(v, safe="") for k, v in (path or {}).items()})
        response = self.http.request(
            method.upper(), url, headers={**self.headers, **(headers or {})}, **kwargs
        )
        self.check(op, response)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    def check(self, op: dict[str, Any], response: Any) -> None:
        documented = {str(code): r for code, r in op["responses"].items()}
        answer = documented.get(str(response.status_code))
        assert answer is not None, (
            f"{op['operationId']} answered {response.status_code}, which the spec does not list "
            f"({', '.join(documented)}): {response.text}"
        )
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            jsonschema.Draft4Validator({**schema, "components": self.spec["components"]}).validate(
                response.json()
            )
