"""The WES 1.1 facade, driven by a client made from the official spec (../shared/specs): every answer
is checked against the spec's schema for its status, and a status the spec does not list fails.

Runs execute natively in a repository copy (tests/service/facades.py); alice and bob are two users.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from r2o.service import states, wes
from r2o.service.core import Service
from tests.service.facades import ALICE, BOB, WES_SPEC, SpecClient, load_spec, make_app
from tests.service.facades import facade_client as facade_client
from tests.service.facades import facade_repo as facade_repo
from tests.service.facades import facade_service as facade_service

SPEC = load_spec(WES_SPEC)
FORM = {"workflow_type": "R2O", "workflow_type_version": "1"}


@pytest.fixture
def client(facade_client: TestClient) -> SpecClient:
    return SpecClient(facade_client, SPEC, wes.PREFIX, ALICE)


def run_form(url: str, params: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    return {**FORM, "workflow_url": url, "workflow_params": json.dumps(params or {}), **extra}


def submit(client: SpecClient, url: str, params: dict[str, Any] | None = None, **extra: str) -> str:
    response = client.call("RunWorkflow", data=run_form(url, params, **extra), expect=200)
    return str(response.json()["run_id"])


def wait(client: SpecClient, run_id: str, until: frozenset[str] = states.TERMINAL) -> str:
    deadline = time.monotonic() + 60
    while True:
        state = str(client.call("GetRunStatus", {"run_id": run_id}, expect=200).json()["state"])
        if state in until:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def error(response: Any, status: int) -> str:
    """The message of a WES ErrorResponse, checked to carry ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    return str(body["msg"])


# --- service-info ------------------------------------------------------------------------------------------


def test_service_info_names_r2o_workflows_and_counts_states(client: SpecClient) -> None:
    submit(client, "identity-matrix", {"size": 2})
    info = client.call("GetServiceInfo", expect=200).json()
    assert info["type"] == {"group": "org.ga4gh", "artifact": "wes", "version": "1.1.0"}
    assert info["workflow_type_versions"] == {"R2O": {"workflow_type_version": ["1"]}}
    assert info["supported_wes_versions"] == ["1.1.0"]
    assert info["default_workflow_engine_parameters"] == []
    assert set(info["system_state_counts"]) == set(states.RUN_STATES)
    assert sum(info["system_state_counts"].values()) == 1
    assert info["auth_instructions_url"].startswith("http://testserver/")
    assert "identity-matrix" in info["tags"]["products"] and "chain" in info["tags"]["products"]


def test_unauthenticated_is_401_in_the_wes_error_shape(facade_client: TestClient) -> None:
    anonymous = SpecClient(facade_client, SPEC, wes.PREFIX)
    for operation, path in (("GetServiceInfo", {}), ("ListRuns", {}), ("GetRunLog", {"run_id": "x"})):
        response = anonymous.call(operation, path)
        assert error(response, 401) == "sign in first: send Authorization: Bearer <token>"
        assert response.headers["www-authenticate"].startswith("Bearer")


# --- a run, start to end -----------------------------------------------------------------------------------


def test_identity_matrix_runs_to_complete_with_its_log_and_outputs(client: SpecClient) -> None:
    run_id = submit(client, "identity-matrix", {"size": 4}, tags=json.dumps({"project": "wes"}))
    assert wait(client, run_id) == "COMPLETE"

    log = client.call("GetRunLog", {"run_id": run_id}, expect=200).json()
    assert log["state"] == "COMPLETE"
    assert log["request"] == {
        "workflow_params": {"size": 4},
        "workflow_type": "R2O",
        "workflow_type_version": "1",
        "workflow_url": "identity-matrix",
        "tags": {"project": "wes"},
        "workflow_engine_parameters": {},
    }
    assert log["run_log"]["exit_code"] == 0
    assert log["run_log"]["cmd"] == ["r2o", "run", "identity-matrix", "-p", "size=4"]
    assert log["run_log"]["start_time"] <= log["run_log"]["end_time"]
    assert log["run_log"]["end_time"].endswith("Z")
    assert list(log["outputs"]) == ["identity-matrix/stdout.txt"]
    matrix = client.http.get(log["outputs"]["identity-matrix/stdout.txt"], headers=ALICE)
    assert matrix.status_code == 200
    assert "[[1. 0. 0. 0.]\n [0. 1. 0. 0.]\n [0. 0. 1. 0.]\n [0. 0. 0. 1.]]" in matrix.text

    assert log["task_logs_url"] == f"http://testserver{wes.PREFIX}/runs/{run_id}/tasks"
    tasks = client.http.get(log["task_logs_url"], headers=ALICE).json()
    assert tasks["next_page_token"] == ""
    [task] = tasks["task_logs"]
    assert task["id"] == task["name"] == "identity-matrix"
    assert task["state"] == "COMPLETE" and task["exit_code"] == 0
    assert task["cmd"] == ["python3", "/app/algorithm.py", "4"]
    assert task["stdout"] == task["stderr"]
    text = client.http.get(task["stdout"], headers=ALICE).json()["text"]
    assert text.startswith("Here is your identity matrix:")

    listed = client.call("ListRuns", expect=200).json()
    assert listed["runs"][0]["run_id"] == run_id
    assert listed["runs"][0]["tags"] == {"project": "wes"}
    assert listed["runs"][0]["state"] == "COMPLETE"


@pytest.mark.parametrize(
    "url",
    [
        "r2o:identity-matrix",
        "https://r2o.example.org/api/v1/products/identity-matrix",
        "/api/v1/products/identity-matrix/",
    ],
)
def test_workflow_url_names_a_product_three_ways(
    client: SpecClient, facade_service: tuple[Service, TestClient], url: str
) -> None:
    run_id = submit(client, url, {"size": 3})
    run = facade_service[0].store.run(run_id)
    assert run is not None and run.product == "identity-matrix" and dict(run.parameters) == {"size": 3}
    assert client.call("GetRunLog", {"run_id": run_id}, expect=200).json()["request"]["workflow_url"] == url


def test_inputs_in_workflow_params_name_uploads(
    client: SpecClient, facade_service: tuple[Service, TestClient]
) -> None:
    upload = client.http.post("/api/v1/uploads", files={"file": ("x.txt", b"x")}, headers=ALICE).json()["id"]
    # identity-matrix takes no input: the launch check names the field the WES way
    response = client.call(
        "RunWorkflow", data=run_form("identity-matrix", {"inputs": {"grid": f"r2o://uploads/{upload}"}})
    )
    assert error(response, 400) == (
        "the request is not valid: workflow_params.inputs.grid: identity-matrix has no input 'grid'"
    )


# --- a pipeline: task ids with "/", paging, GetTask --------------------------------------------------------


def test_pipeline_tasks_are_paged_and_got_by_ids_holding_a_slash(client: SpecClient) -> None:
    run_id = submit(client, "chain", {"start": "2024-07-15", "days": 2})
    assert wait(client, run_id) == "COMPLETE"
    log = client.call("GetRunLog", {"run_id": run_id}, expect=200).json()
    assert log["run_log"]["cmd"] == [
        "r2o",
        "pipeline",
        "run",
        "chain",
        "--start",
        "2024-07-15",
        "--days",
        "2",
    ]
    assert "gen/2024-07-15/value.txt" in log["outputs"] and "report/report.txt" in log["outputs"]

    seen: list[str] = []
    token = ""
    while True:
        page = client.call(
            "ListTasks", {"run_id": run_id}, params={"page_size": 2, "page_token": token}, expect=200
        )
        body = page.json()
        assert len(body["task_logs"]) <= 2
        seen += [t["id"] for t in body["task_logs"]]
        token = body["next_page_token"]
        if not token:
            break
    days = ("2024-07-15", "2024-07-16")
    assert sorted(seen) == sorted([*(f"{s}/{d}" for s in ("gen", "acc", "side") for d in days), "report"])

    encoded = client.call("GetTask", {"run_id": run_id, "task_id": "gen/2024-07-16"}, expect=200).json()
    assert encoded["id"] == "gen/2024-07-16"
    assert encoded["cmd"] == ["python3", "/app/gen.py", "2024-07-16", "0", "never", "/data/output/value.txt"]
    raw = client.http.get(f"{wes.PREFIX}/runs/{run_id}/tasks/gen/2024-07-16", headers=ALICE)
    assert raw.status_code == 200 and raw.json() == encoded

    missing = client.call("GetTask", {"run_id": run_id, "task_id": "gen/1999-01-01"})
    assert error(missing, 404) == (
        f"run {run_id} has no task 'gen/1999-01-01'; GET {wes.PREFIX}/runs/{run_id}/tasks lists them"
    )
    bad = client.call("ListTasks", {"run_id": run_id}, params={"page_token": "x"})
    assert error(bad, 404) == (
        f"run {run_id}'s task list has no page 'x' (a page_token is a next_page_token this service gave); "
        "start again without page_token"
    )


def test_a_skipped_task_is_canceled_for_wes_and_the_run_names_the_failure(client: SpecClient) -> None:
    run_id = submit(client, "failing", {"start": "2024-07-15"})
    assert wait(client, run_id) == "EXECUTOR_ERROR"
    log = client.call("GetRunLog", {"run_id": run_id}, expect=200).json()
    assert log["run_log"]["exit_code"] == 3
    assert any(
        line.startswith("task gen/2024-07-15 EXECUTOR_ERROR: ") for line in log["run_log"]["system_logs"]
    )
    tasks = {t["id"]: t for t in client.call("ListTasks", {"run_id": run_id}, expect=200).json()["task_logs"]}
    assert tasks["gen/2024-07-15"]["state"] == "EXECUTOR_ERROR" and tasks["gen/2024-07-15"]["exit_code"] == 3
    skipped = tasks["acc/2024-07-15"]
    assert skipped["state"] == "CANCELED"
    assert skipped["system_logs"] == ["r2o state SKIPPED (WES CANCELED): a task it depends on failed"]
    assert "stdout" not in skipped and "start_time" not in skipped


def test_wes_state_maps_task_only_states_to_the_nearest_wes_state() -> None:
    assert wes.wes_state(states.SKIPPED) == "CANCELED"
    assert wes.wes_state(states.CACHED) == "COMPLETE"
    assert wes.wes_state("LOST") == "UNKNOWN"
    assert all(wes.wes_state(s) == s for s in states.RUN_STATES)


# --- cancel -------------------------------------------------------------------------------------------------


def test_cancel_stops_a_running_run_and_answers_again_once_canceled(client: SpecClient) -> None:
    run_id = submit(client, "napper", {"seconds": 60})
    wait(client, run_id, frozenset({"RUNNING"}))
    assert client.call("CancelRun", {"run_id": run_id}, expect=200).json() == {"run_id": run_id}
    assert wait(client, run_id) == "CANCELED"
    assert client.call("CancelRun", {"run_id": run_id}, expect=200).json() == {"run_id": run_id}
    [task] = client.call("ListTasks", {"run_id": run_id}, expect=200).json()["task_logs"]
    assert task["state"] == "CANCELED"


def test_cancel_of_a_finished_run_is_refused(client: SpecClient) -> None:
    run_id = submit(client, "identity-matrix")
    assert wait(client, run_id) == "COMPLETE"
    response = client.call("CancelRun", {"run_id": run_id})
    assert error(response, 403) == f"run {run_id} has already ended (COMPLETE): there is nothing to cancel"


# --- users ------------------------------------------------------------------------------------------


def test_another_users_run_does_not_exist_for_them(client: SpecClient) -> None:
    run_id = submit(client, "identity-matrix")
    bob = SpecClient(client.http, SPEC, wes.PREFIX, BOB)
    for operation, path in (
        ("GetRunLog", {"run_id": run_id}),
        ("GetRunStatus", {"run_id": run_id}),
        ("ListTasks", {"run_id": run_id}),
        ("GetTask", {"run_id": run_id, "task_id": "identity-matrix"}),
        ("CancelRun", {"run_id": run_id}),
    ):
        assert error(bob.call(operation, path), 404) == f"no run {run_id}", operation
    assert bob.call("ListRuns", expect=200).json() == {"runs": [], "next_page_token": ""}
    assert wait(client, run_id) == "COMPLETE"  # bob's cancel did nothing


def test_runs_are_paged_newest_first_and_tes_tasks_are_not_listed(
    client: SpecClient, facade_service: tuple[Service, TestClient]
) -> None:
    ids = [submit(client, "identity-matrix", {"size": n}) for n in (1, 2, 3)]
    image = facade_service[0].catalog.products["identity-matrix"].content_tag
    task = {"executors": [{"image": image, "command": ["python3", "/app/algorithm.py", "2"]}]}
    tes_id = client.http.post("/ga4gh/tes/v1/tasks", json=task, headers=ALICE).json()["id"]
    first = client.call("ListRuns", params={"page_size": 2}, expect=200).json()
    assert [r["run_id"] for r in first["runs"]] == ids[:0:-1]
    second = client.call(
        "ListRuns", params={"page_size": 2, "page_token": first["next_page_token"]}, expect=200
    ).json()
    assert [r["run_id"] for r in second["runs"]] == ids[:1] and second["next_page_token"] == ""
    assert error(client.call("GetRunLog", {"run_id": tes_id}), 404) == (
        f"run {tes_id} is a TES task, not a WES run: GET /ga4gh/tes/v1/tasks/{tes_id}"
    )
    bad = client.call("ListRuns", params={"page_token": "not-a-cursor"})
    assert error(bad, 400) == "bad cursor: not a cursor: 'not-a-cursor'"


# --- refused requests --------------------------------------------------------------------------------

BAD_FORMS: list[tuple[dict[str, str], str]] = [
    (
        {"workflow_url": "identity-matrix"},
        "workflow_type is required: R2O; workflow_type_version is required: 1",
    ),
    (
        {**FORM, "workflow_type": "CWL", "workflow_url": "identity-matrix"},
        "workflow_type must be R2O, not 'CWL'",
    ),
    (
        {**FORM, "workflow_type_version": "v1.0", "workflow_url": "identity-matrix"},
        "workflow_type_version must be 1, not 'v1.0'",
    ),
    (FORM, "workflow_url is required: a product (GET /api/v1/products)"),
    (
        {**FORM, "workflow_url": "https://example.org/main.cwl"},
        "workflow_url 'https://example.org/main.cwl' names no product of this service (products: chain, "
        "failing, acc, gather, gen, identity-matrix, napper); give NAME, r2o:NAME or a URL ending in "
        "/products/NAME",
    ),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_params": "{size: 4}"},
        "workflow_params is not JSON: ",
    ),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_params": "[4]"},
        "workflow_params must be a JSON object, not list",
    ),
    ({**FORM, "workflow_url": "identity-matrix", "tags": "1"}, "tags must be a JSON object, not int"),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_engine_parameters": '{"threads": "4"}'},
        "r2o takes no workflow_engine_parameters (threads); a product's parameters go in workflow_params",
    ),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_engine": "cromwell"},
        "workflow_engine must be r2o, not 'cromwell'",
    ),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_engine_version": "0.1.0"},
        "workflow_engine_version needs workflow_engine (r2o)",
    ),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_engine": "r2o", "workflow_engine_version": "9"},
        "workflow_engine_version must be 0.1.0, not '9'",
    ),
    (
        {**FORM, "workflow_url": "identity-matrix", "workflow_parameters": "{}"},
        "unknown field 'workflow_parameters' (did you mean 'workflow_params'?)",
    ),
]


@pytest.mark.parametrize(("form", "message"), BAD_FORMS)
def test_a_bad_run_request_is_400_naming_the_problem(
    client: SpecClient, form: dict[str, str], message: str
) -> None:
    text = error(client.call("RunWorkflow", data=form), 400)
    assert text.startswith("the run request is not valid: ") and message in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": 0}, "workflow_params.size: 0 is below the minimum 1"),
        ({"colour": "red"}, "workflow_params.colour: identity-matrix has no parameter 'colour'"),
        ({"size": "four"}, "workflow_params.size: must be an integer"),
    ],
)
def test_bad_parameters_are_400_named_as_workflow_params(
    client: SpecClient, params: dict[str, Any], message: str
) -> None:
    text = error(client.call("RunWorkflow", data=run_form("identity-matrix", params)), 400)
    assert text == f"the request is not valid: {message}"


def test_workflow_attachment_is_refused(client: SpecClient) -> None:
    files = {"workflow_attachment": ("main.cwl", b"cwlVersion: v1.2\n")}
    text = error(client.call("RunWorkflow", data=run_form("main.cwl"), files=files), 400)
    assert text.startswith(
        "workflow_attachment is not accepted: r2o runs only the products of its own repository"
    )


def test_a_json_body_is_refused_with_the_content_type_wes_takes(client: SpecClient) -> None:
    text = error(client.call("RunWorkflow", json={**FORM, "workflow_url": "identity-matrix"}), 400)
    assert text.startswith(
        "the run request is not valid: RunWorkflow takes multipart/form-data (WES 1.1), not application/json"
    )


def test_a_quota_reached_is_403(facade_repo: Path) -> None:
    _, app = make_app(facade_repo, quota_runs=1)
    with TestClient(app) as http:
        client = SpecClient(http, SPEC, wes.PREFIX, ALICE)
        first = submit(client, "napper", {"seconds": 60})
        text = error(client.call("RunWorkflow", data=run_form("identity-matrix")), 403)
        assert text == (
            "you already have 1 runs queued or running (your limit is 1); wait for one to finish, "
            "or cancel one"
        )
        client.call("CancelRun", {"run_id": first}, expect=200)
        assert wait(client, first) == "CANCELED"


def test_paths_no_route_matches_answer_in_the_wes_error_shape(client: SpecClient) -> None:
    """Found by schemathesis: a task id holding a newline matches no route (Starlette's path converter
    stops at a newline), which answered FastAPI's {"detail": ...} instead of a WES ErrorResponse."""
    run_id = submit(client, "identity-matrix")
    response = client.call("GetTask", {"run_id": run_id, "task_id": "a\nb"})
    message = error(response, 404)
    assert message.startswith(f"GET {wes.PREFIX}/runs/{run_id}/tasks/a")
    assert message.endswith(" is not an endpoint of this service (GET /openapi.json lists them)")
    assert error(client.http.get(f"{wes.PREFIX}/nowhere", headers=ALICE), 404).startswith(
        f"GET {wes.PREFIX}/nowhere"
    )
    assert error(client.http.delete(f"{wes.PREFIX}/runs", headers=ALICE), 405) == (
        f"DELETE {wes.PREFIX}/runs does not take this method (GET /openapi.json lists them)"
    )
