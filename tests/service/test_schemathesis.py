"""schemathesis (4.x) against the service: its own /openapi.json, and the official GA4GH WES 1.1 and
TES 1.1 documents (../shared/specs, read in place) pointed at the facades.

Every operation gets a bounded number of generated requests (hypothesis, derandomized), once with
generated path parameters and once with the ids of runs and tasks that exist (a finished pipeline
run, a finished TES task), so answers with content are checked too. Checks: no 5xx, every answer
matching the schema its document gives, and (where the document lists its status codes: our own
and WES) no status code it does not list. TES 1.1 lists only 200 for every operation, so its error
answers (400, 404) cannot conform: there the status-code check is left out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from r2o.service import states, tes, wes
from r2o.service.core import Service
from tests.service.facades import ALICE, WES_SPEC, image_of, load_spec, make_app, tes_spec
from tests.service.facades import facade_repo as facade_repo

MAX_EXAMPLES = 25
ALL_CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@dataclass
class Fuzzed:
    app: FastAPI
    service: Service
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> an id that exists


@pytest.fixture
def fuzzed(facade_repo: Path) -> Iterator[Fuzzed]:
    """The app (workers stopped while it is fuzzed) with a finished pipeline run and TES task."""
    service, app = make_app(facade_repo, run_workers=False)
    found = Fuzzed(app, service)
    service.workers.start()
    try:
        with TestClient(app) as http:
            form = {
                "workflow_type": "R2O",
                "workflow_type_version": "1",
                "workflow_url": "chain",
                "workflow_params": json.dumps({"start": "2024-07-15", "days": 1}),
            }
            run = http.post(f"{wes.PREFIX}/runs", data=form, headers=ALICE).json()["run_id"]
            command = ["python3", "/app/algorithm.py", "3"]
            task = {"executors": [{"image": image_of(service, "identity-matrix"), "command": command}]}
            task_id = http.post(f"{tes.PREFIX}/tasks", json=task, headers=ALICE).json()["id"]
            for run_id in (run, task_id):
                deadline = time.monotonic() + 60
                while (record := service.store.run(run_id)) is None or record.state != states.COMPLETE:
                    assert time.monotonic() < deadline, record
                    time.sleep(0.1)
    finally:
        service.workers.stop()
    found.ids = {
        "run_id": run,
        "task_id": "gen/2024-07-15",
        "id": task_id,
        "path": "gen/2024-07-15/value.txt",
    }
    try:
        yield found
    finally:
        asgi.shutdown_lifespans()  # schemathesis keeps an app's lifespan until told


@dataclass
class Report:
    examples: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{sum(self.examples.values())} requests over {len(self.examples)} operations"


def fuzz(
    schema: schemathesis.BaseSchema, *, base_url: str, ids: dict[str, str], checks: list[Callable[..., Any]]
) -> Report:
    """Every operation of ``schema``: generated path parameters, then (where it has any) existing ids."""
    report = Report()
    for result in schema.get_all_operations():
        operation = result.ok()
        names = [p.name for p in operation.path_parameters]
        variants: list[dict[str, str]] = [{}]
        if names and all(n in ids for n in names):
            variants.append({n: ids[n] for n in names})
        for fixed in variants:
            label = f"{operation.label}{' (existing ids)' if fixed else ''}"
            count = 0

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(path_parameters=fixed or None))
            def call(case: schemathesis.Case) -> None:
                nonlocal count
                count += 1
                case.call_and_validate(base_url=base_url, headers=ALICE, checks=checks)

            try:
                call()
            except (Exception, BaseExceptionGroup) as exc:  # one operation's failures must not hide others'
                report.failures.append(f"{label}: {exc}")
            report.examples[label] = count
    return report


@pytest.mark.integration  # these three: about 20 s of generated requests
def test_our_own_openapi_document(fuzzed: Fuzzed) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    paths = set(schema.raw_schema["paths"])
    assert {"/api/v1/runs", "/ga4gh/wes/v1/runs", "/ga4gh/tes/v1/tasks/{id}:cancel"} <= paths
    report = fuzz(schema, base_url=f"http://{asgi.HOST}", ids=fuzzed.ids, checks=ALL_CHECKS)
    print(f"/openapi.json: {report.summary()}", report.examples)
    assert not report.failures, "\n\n".join(report.failures)
    assert len(report.examples) >= 25


@pytest.mark.integration
def test_the_official_wes_document_against_the_facade(fuzzed: Fuzzed) -> None:
    schema = schemathesis.openapi.from_dict(load_spec(WES_SPEC))
    schema.app = fuzzed.app
    report = fuzz(schema, base_url=f"http://{asgi.HOST}{wes.PREFIX}", ids=fuzzed.ids, checks=ALL_CHECKS)
    print(f"WES 1.1: {report.summary()}", report.examples)
    assert not report.failures, "\n\n".join(report.failures)
    assert len(report.examples) == 8 + 5  # 8 operations; 5 have path parameters


@pytest.mark.integration
def test_the_official_tes_document_against_the_facade(fuzzed: Fuzzed) -> None:
    schema = schemathesis.openapi.from_dict(tes_spec())
    schema.app = fuzzed.app
    checks: list[Callable[..., Any]] = [not_a_server_error, response_schema_conformance]
    report = fuzz(schema, base_url=f"http://{asgi.HOST}{tes.PREFIX}", ids=fuzzed.ids, checks=checks)
    print(f"TES 1.1: {report.summary()}", report.examples)
    assert not report.failures, "\n\n".join(report.failures)
    assert len(report.examples) == 5 + 2  # 5 operations; 2 have a path parameter


def test_the_harness_reports_a_server_error_a_bad_answer_and_an_unlisted_status() -> None:
    """The checks above can fail: a stub WES whose answers break the spec in each way is caught."""
    stub = FastAPI()

    @stub.get(f"{wes.PREFIX}/service-info")
    def info() -> dict[str, Any]:
        return {"id": 5}  # the spec wants a string, and many more fields

    @stub.get(f"{wes.PREFIX}/runs/{{run_id}}/status")
    def status(run_id: str) -> JSONResponse:
        return JSONResponse({"msg": "teapot"}, status_code=418)

    @stub.get(f"{wes.PREFIX}/runs")
    def runs() -> JSONResponse:
        return JSONResponse({"msg": "boom"}, status_code=500)

    schema = schemathesis.openapi.from_dict(load_spec(WES_SPEC)).include(
        operation_id=["GetServiceInfo", "GetRunStatus", "ListRuns"]
    )
    schema.app = stub
    report = fuzz(schema, base_url=f"http://{asgi.HOST}{wes.PREFIX}", ids={}, checks=ALL_CHECKS)
    failures = "\n".join(report.failures)
    assert len(report.failures) == 3, failures
    assert "GET /service-info: " in failures and "ST108 Response violates schema" in failures
    assert "GET /runs/{run_id}/status: " in failures and "ST103 Undocumented status code" in failures
    assert "GET /runs: " in failures and "ST101 Server error" in failures
