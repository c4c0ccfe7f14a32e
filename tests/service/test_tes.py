"""The TES 1.1 facade: through the ASGI app with a client made from the official spec (answers checked
against its schemas), and through py-tes (PyPI) against a real `r2o serve` process.

Executors run natively in a repository copy (tests/service/facades.py): identity-matrix (an image
with an ENTRYPOINT), napper and gen (images without one). alice and bob are two users.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import tes as pytes
from fastapi.testclient import TestClient

from r2o.errors import R2OError
from r2o.manifest import Component
from r2o.pipeline import local
from r2o.pipeline.cache import task_key
from r2o.pipeline.plan import TaskGraph
from r2o.repo import Repository
from r2o.run.backend import Backend
from r2o.run.docker import container_options
from r2o.run.plan import make_plan
from r2o.service import states, tes
from r2o.service.core import Service
from r2o.service.store import RunRecord
from tests.docker.conftest import EXPECTED_SIZE_4, ok, r2o
from tests.service.facades import ALICE, BOB, USERS, SpecClient, image_of, make_app, tes_spec
from tests.service.facades import facade_client as facade_client
from tests.service.facades import facade_repo as facade_repo
from tests.service.facades import facade_server as facade_server
from tests.service.facades import facade_service as facade_service

SPEC = tes_spec()
MATRIX = "[[1. 0. 0.]\n [0. 1. 0.]\n [0. 0. 1.]]"
# reads two inputs, writes a file and a folder of outputs (paths come as arguments: a native run maps them)
COPIER = (
    "import os, sys\n"
    "a, b, out = sys.argv[1:4]\n"
    "os.makedirs(out + '/tables/upper')\n"
    "open(out + '/copy.txt', 'w').write(open(a).read())\n"
    "open(out + '/tables/upper/b.csv', 'w').write(open(b).read().upper())\n"
    "open(out + '/tables/n.txt', 'w').write('2')\n"
    "print('copied')\n"
)


@pytest.fixture
def service(facade_service: tuple[Service, TestClient]) -> Service:
    return facade_service[0]


@pytest.fixture
def client(facade_client: TestClient) -> SpecClient:
    return SpecClient(facade_client, SPEC, tes.PREFIX, ALICE)


def matrix_task(service: Service, size: int = 3, **extra: Any) -> dict[str, Any]:
    image = image_of(service, "identity-matrix")
    return {"executors": [{"image": image, "command": ["python3", "/app/algorithm.py", str(size)]}], **extra}


def create(client: SpecClient, task: dict[str, Any]) -> str:
    return str(client.call("CreateTask", json=task, expect=200).json()["id"])


def wait(client: SpecClient, task_id: str, until: frozenset[str] = states.TERMINAL) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        task: dict[str, Any] = client.call(
            "GetTask", {"id": task_id}, params={"view": "FULL"}, expect=200
        ).json()
        if task["state"] in until:
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.1)


def refused(response: Any, status: int = 400) -> str:
    """The message of a TES error answer, checked to carry ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    return str(body["message"])


# --- service-info ------------------------------------------------------------------------------------------


def test_service_info_lists_the_project_images_and_no_backend_parameters(
    client: SpecClient, service: Service
) -> None:
    info = client.call("GetServiceInfo", expect=200).json()
    assert info["type"] == {"group": "org.ga4gh", "artifact": "tes", "version": "1.1.0"}
    assert info["tesResources_backend_parameters"] == []
    assert info["storage"] == ["r2o://uploads/", "http://testserver/api/v1/runs"]
    for name in ("identity-matrix", "napper", "gen"):
        assert image_of(service, name) in info["description"]


# --- a task, start to end, in every view ----------------------------------------------------------


def test_identity_matrix_task_completes_and_each_view_shows_what_the_spec_says(
    client: SpecClient, service: Service
) -> None:
    task = matrix_task(
        service,
        name="matrix",
        description="an identity matrix",
        tags={"project": "tes"},
        inputs=[{"path": "/data/input/note.txt", "content": "unused"}],
        resources={"cpu_cores": 1, "ram_gb": 0.5},
    )
    task["executors"][0]["stdout"] = "/data/output/matrix.txt"
    task["outputs"] = [{"path": "/data/output/matrix.txt", "url": ""}]
    task_id = create(client, task)
    assert wait(client, task_id)["state"] == "COMPLETE"

    minimal = client.call("GetTask", {"id": task_id}, expect=200).json()  # MINIMAL is the default
    assert minimal == {"id": task_id, "state": "COMPLETE"}

    basic = client.call("GetTask", {"id": task_id}, params={"view": "BASIC"}, expect=200).json()
    assert basic["name"] == "matrix" and basic["description"] == "an identity matrix"
    assert basic["tags"] == {"project": "tes"} and basic["resources"] == {"cpu_cores": 1, "ram_gb": 0.5}
    assert basic["executors"] == task["executors"]
    assert basic["inputs"] == [{"path": "/data/input/note.txt", "type": "FILE"}]  # no content in BASIC
    url = f"http://testserver/api/v1/runs/{task_id}/outputs/identity-matrix/stdout.txt"
    assert basic["outputs"] == [{"path": "/data/output/matrix.txt", "url": url, "type": "FILE"}]
    [log] = basic["logs"]
    assert "system_logs" not in log
    [executor] = log["logs"]
    assert executor["exit_code"] == 0 and "stdout" not in executor and "stderr" not in executor
    assert executor["start_time"] <= executor["end_time"]
    assert log["outputs"] == [{"url": url, "path": "/data/output/matrix.txt", "size_bytes": "67"}]
    assert MATRIX in client.http.get(url, headers=ALICE).text

    full = client.call("GetTask", {"id": task_id}, params={"view": "FULL"}, expect=200).json()
    assert full["inputs"] == [{"path": "/data/input/note.txt", "content": "unused", "type": "FILE"}]
    [log] = full["logs"]
    assert log["logs"][0]["stdout"] == f"Here is your identity matrix:\n{MATRIX}\n"
    assert log["system_logs"][:2] == ["COMPLETE: 1 task(s) done", "executor COMPLETE: ran"]
    assert log["metadata"]["r2o_run"] == f"http://testserver/api/v1/runs/{task_id}"


def test_inputs_from_content_and_uploads_and_outputs_files_and_folders(
    client: SpecClient, service: Service
) -> None:
    upload = client.http.post("/api/v1/uploads", files={"file": ("b.csv", b"x,y\n1,2\n")}, headers=ALICE)
    assert upload.status_code == 201, upload.text
    task = {
        "executors": [
            {
                "image": image_of(service, "gen"),
                "command": [
                    "python3",
                    "-c",
                    COPIER,
                    "/data/input/a.txt",
                    "/data/input/b.csv",
                    "/data/output",
                ],
            }
        ],
        "inputs": [
            {"path": "/data/input/a.txt", "content": "inline text\n"},
            {"path": "/data/input/b.csv", "url": f"r2o://uploads/{upload.json()['id']}"},
        ],
        "outputs": [
            {"path": "/data/output/copy.txt", "url": ""},
            {"path": "/data/output/tables", "url": "", "type": "DIRECTORY"},
        ],
    }
    task_id = create(client, task)
    done = wait(client, task_id)
    assert done["state"] == "COMPLETE", done
    base = f"http://testserver/api/v1/runs/{task_id}/outputs/gen"
    assert [o["url"] for o in done["outputs"]] == [f"{base}/copy.txt", f"{base}/tables"]
    files = {f["path"]: f for f in done["logs"][0]["outputs"]}
    assert files == {
        "/data/output/copy.txt": {
            "url": f"{base}/copy.txt",
            "path": "/data/output/copy.txt",
            "size_bytes": "12",
        },
        "/data/output/tables/n.txt": {
            "url": f"{base}/tables/n.txt",
            "path": "/data/output/tables/n.txt",
            "size_bytes": "1",
        },
        "/data/output/tables/upper/b.csv": {
            "url": f"{base}/tables/upper/b.csv",
            "path": "/data/output/tables/upper/b.csv",
            "size_bytes": "8",
        },
    }
    assert client.http.get(f"{base}/copy.txt", headers=ALICE).text == "inline text\n"
    assert client.http.get(f"{base}/tables/upper/b.csv", headers=ALICE).text == "X,Y\n1,2\n"
    assert done["logs"][0]["logs"][0]["stdout"] == "copied\n"


def test_a_failing_executor_ends_executor_error_with_its_exit_code_and_stderr(
    client: SpecClient, service: Service
) -> None:
    code = "import sys; print('no such table', file=sys.stderr); sys.exit(3)"
    task_id = create(
        client, {"executors": [{"image": image_of(service, "gen"), "command": ["python3", "-c", code]}]}
    )
    done = wait(client, task_id)
    assert done["state"] == "EXECUTOR_ERROR"
    [log] = done["logs"]
    assert log["logs"][0]["exit_code"] == 3
    assert log["logs"][0]["stdout"] == "no such table\n"
    assert log["system_logs"][0].startswith("EXECUTOR_ERROR: task gen failed: ")
    tail = "gen exited with code 3 (native); last lines of its log:\n    | no such table"
    assert tail in log["system_logs"][0]


def test_backend_parameters_are_dropped_and_said_so(client: SpecClient, service: Service) -> None:
    task_id = create(client, matrix_task(service, resources={"backend_parameters": {"VmSize": "D64"}}))
    done = wait(client, task_id)
    assert done["resources"] == {}  # the spec: unsupported keys are neither stored nor returned
    assert "backend_parameters ignored (r2o supports none): VmSize" in done["logs"][0]["system_logs"]


# --- refused tasks --------------------------------------------------------------------------------


def bad_tasks(service: Service) -> list[tuple[dict[str, Any], str]]:
    im = image_of(service, "identity-matrix")
    gen = image_of(service, "gen")
    images = ", ".join(
        sorted(image_of(service, n) for n in ("acc", "gather", "gen", "identity-matrix", "napper"))
    )

    def one(**executor: Any) -> dict[str, Any]:
        return {"executors": [{"image": gen, "command": ["true"], **executor}]}

    return [
        (
            {"executors": [{"image": "ubuntu:22.04", "command": ["ls"]}]},
            "executors[0].image: 'ubuntu:22.04' is not an image of this project; r2o runs TES executors "
            f"only in its component images: {images}",
        ),
        (
            {"executors": [{"image": "identity-matrix", "command": ["ls"]}]},
            f"executors[0].image: 'identity-matrix' is not an image of this project (the current image of "
            f"identity-matrix is {im})",
        ),
        (
            {"executors": [{"image": "identity-matrix:1.0.0-000000000000", "command": ["ls"]}]},
            f"(the current image of identity-matrix is {im})",
        ),
        ({"executors": []}, "executors: a task needs one executor"),
        (
            {"executors": [one()["executors"][0]] * 2},
            "executors: r2o runs one executor per task (2 given): each r2o task has its own /data/output, so "
            "executors could not share files; submit one task per executor",
        ),
        (
            {"executors": [{"image": im, "command": ["echo", "hi"]}]},
            f"executors[0].command: {im} runs its ENTRYPOINT ['python3', '/app/algorithm.py'] (AWS Batch "
            "cannot replace an image's ENTRYPOINT, so r2o does not either): the command must start with it, "
            "e.g. ['python3', '/app/algorithm.py', '2']",
        ),
        (
            one(command=["echo", "Ref::size"]),
            "executors[0].command: arguments starting with Ref:: are r2o parameter references: ['Ref::size']",
        ),
        (
            one(stderr="/tmp/err"),
            "executors[0].stderr: not supported: r2o keeps the executor's stderr in the task's log",
        ),
        (
            one(stdin="/data/input/x"),
            "executors[0].stdin: not supported: r2o gives executors no standard input",
        ),
        (
            one(workdir="/data"),
            "executors[0].workdir: not supported: r2o runs the command in the image's working",
        ),
        (one(stdout="out.txt"), "executors[0].stdout: 'out.txt' is not an absolute path"),
        (
            one(env={"AWS_BATCH_JOB_ID": "1"}),
            "executors[0].env: names starting with AWS_BATCH are AWS Batch's",
        ),
        (one(env={"A B": "1"}), "executors[0].env: 'A B' is not an environment variable name"),
        (
            {**one(), "inputs": [{"path": "/etc/passwd", "content": "x"}]},
            "inputs[0].path: '/etc/passwd' is not under /data/input/: inputs appear under /data/input/",
        ),
        (
            {**one(), "inputs": [{"path": "/data/input/../x", "content": "x"}]},
            "inputs[0].path: '/data/input/../x' is not a normal path",
        ),
        (
            {**one(), "inputs": [{"path": "/data/input/a", "url": "s3://bucket/a"}]},
            "inputs[0].url: 's3://bucket/a' is not r2o://uploads/<upload id>; give the file as content, or "
            "upload it (POST /api/v1/uploads) and name it r2o://uploads/<id>",
        ),
        (
            {**one(), "inputs": [{"path": "/data/input/a", "url": "r2o://uploads/nope"}]},
            "inputs[0].url: no upload 'nope' of yours; upload the file first (POST /api/v1/uploads)",
        ),
        (
            {**one(), "inputs": [{"path": "/data/input/d", "content": "x", "type": "DIRECTORY"}]},
            "inputs[0].type: r2o takes files as inputs, not DIRECTORY",
        ),
        (
            {**one(), "inputs": [{"path": "/data/input/a", "content": "x" * (tes.CONTENT_MAX + 1)}]},
            f"inputs[0].content: at most {tes.CONTENT_MAX} bytes; upload larger files",
        ),
        (
            {
                **one(),
                "inputs": [
                    {"path": "/data/input/a", "content": ""},
                    {"path": "/data/input/a/b", "content": ""},
                ],
            },
            "inputs[1].path: /data/input/a/b overlaps another input's path /data/input/a",
        ),
        (
            {**one(), "outputs": [{"path": "/tmp/out", "url": ""}]},
            "outputs[0].path: '/tmp/out' is not under /data/output/: outputs are collected from "
            "/data/output/",
        ),
        (
            {**one(), "outputs": [{"path": "/data/output/a", "url": "s3://bucket/a"}]},
            "outputs[0].url: r2o keeps outputs itself and serves them at /api/v1/runs/<id>/outputs/...; "
            "leave url empty (the task's logs[0].outputs give each file's URL), not 's3://bucket/a'",
        ),
        (
            {**one(), "outputs": [{"path": "/data/output/*.nc", "url": ""}]},
            "outputs[0].path: wildcards (and path_prefix) are not supported; name each output",
        ),
        (
            {**one(stdout="/tmp/log"), "outputs": [{"path": "/data/output/stdout.txt", "url": ""}]},
            "outputs[0].path: /data/output/stdout.txt is where r2o keeps the executor's stdout",
        ),
        ({**one(), "volumes": ["/vol/A"]}, "volumes: r2o runs one executor per task"),
        (
            {**one(), "resources": {"cpu_cores": 2}},
            "resources.cpu_cores: gen runs with 1 vCPU(s) (its manifest); ask for 1 to 1, not 2",
        ),
        (
            {**one(), "resources": {"ram_gb": 8}},
            "resources.ram_gb: gen runs with 0.5 GiB of memory (its manifest); ask for at most that, not 8",
        ),
        (
            {**one(), "resources": {"disk_gb": 100}},
            "resources.disk_gb: gen may write 20 GiB under /data/output (its manifest); ask for at most "
            "that, not 100",
        ),
        (
            {
                **one(),
                "resources": {"backend_parameters": {"VmSize": "x"}, "backend_parameters_strict": True},
            },
            "resources.backend_parameters: r2o supports none (VmSize)",
        ),
        ({**one(), "name": "two\nlines"}, "name: a task name is one line of at most 200 characters"),
        ({**one(), "tags": {"a b": "x"}}, "tags.a b: a tag key is 1-128 letters"),
    ]


def test_every_refused_task_is_400_naming_its_problem(client: SpecClient, service: Service) -> None:
    for task, message in bad_tasks(service):
        text = refused(client.http.post(f"{tes.PREFIX}/tasks", json=task, headers=ALICE))
        assert text.startswith("the task is not valid: ") and message in text, (task, text)
    assert client.call("ListTasks", params={"view": "MINIMAL"}, expect=200).json() == {"tasks": []}


def test_a_task_that_is_not_a_tes_task_document_is_400(client: SpecClient) -> None:
    text = refused(client.http.post(f"{tes.PREFIX}/tasks", json={"name": "x"}, headers=ALICE))
    assert text == "the request is not valid: executors: Field required"


# --- listing --------------------------------------------------------------------------------------


def test_list_filters_by_name_prefix_state_and_tags_and_pages(client: SpecClient, service: Service) -> None:
    ids = {
        name: create(client, matrix_task(service, name=name, tags=tags))
        for name, tags in (
            ("alpha-1", {"foo": "bar", "baz": "bat"}),
            ("alpha-2", {"foo": "bat"}),
            ("beta", {"foo": ""}),
            ("gamma", {}),
        )
    }
    for task_id in ids.values():
        done = wait(client, task_id)
        assert done["state"] == "COMPLETE", done["logs"]

    def listed(**params: Any) -> list[str]:
        body = client.call("ListTasks", params=params, expect=200).json()
        return (
            sorted(t["name"] for t in body["tasks"])
            if params.get("view")
            else sorted(t["id"] for t in body["tasks"])
        )

    assert listed(view="BASIC", name_prefix="alpha") == ["alpha-1", "alpha-2"]
    assert listed(view="BASIC", name_prefix="lpha") == []  # a prefix, not a substring
    assert listed(view="BASIC", state="COMPLETE") == ["alpha-1", "alpha-2", "beta", "gamma"]
    assert listed(view="BASIC", state="QUEUED") == []
    # the spec's table: an empty value matches any value of the key, every pair must match
    assert listed(view="BASIC", tag_key=["foo"], tag_value=["bar"]) == ["alpha-1"]
    assert listed(view="BASIC", tag_key=["foo"]) == ["alpha-1", "alpha-2", "beta"]
    assert listed(view="BASIC", tag_key=["foo", "baz"], tag_value=["bar", "bat"]) == ["alpha-1"]
    assert listed(view="BASIC", tag_key=["foo", "baz"], tag_value=["bat"]) == []  # alpha-2 has no baz
    assert listed(view="BASIC", tag_key=["baz"], tag_value=[""]) == ["alpha-1"]

    pages: list[str] = []
    token: str | None = None
    while True:
        body = client.call(
            "ListTasks", params={"page_size": 1, **({"page_token": token} if token else {})}, expect=200
        )
        page = body.json()
        assert len(page["tasks"]) <= 1 and set(page["tasks"][0]) == {"id", "state"}
        pages += [t["id"] for t in page["tasks"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert pages == list(reversed(ids.values()))  # newest first


def test_list_refuses_bad_paging_and_tags(client: SpecClient) -> None:
    for size in (0, 2048):
        text = refused(client.http.get(f"{tes.PREFIX}/tasks", params={"page_size": size}, headers=ALICE))
        assert text == f"page_size must be from 1 to 2047, not {size}"
    text = refused(client.http.get(f"{tes.PREFIX}/tasks", params={"tag_value": "x"}, headers=ALICE))
    assert text == "there are more tag_value than tag_key parameters: each value needs its key"
    text = refused(client.http.get(f"{tes.PREFIX}/tasks", params={"view": "ALL"}, headers=ALICE))
    assert text.startswith(
        "the request is not valid: query.view: Input should be 'MINIMAL', 'BASIC' or 'FULL'"
    )
    text = refused(client.http.get(f"{tes.PREFIX}/tasks", params={"page_token": "zz"}, headers=ALICE))
    assert text == "bad cursor: not a cursor: 'zz'"


def test_wes_runs_are_not_tes_tasks(client: SpecClient) -> None:
    form = {"workflow_type": "R2O", "workflow_type_version": "1", "workflow_url": "identity-matrix"}
    run_id = client.http.post("/ga4gh/wes/v1/runs", data=form, headers=ALICE).json()["run_id"]
    assert client.call("ListTasks", expect=200).json() == {"tasks": []}
    text = refused(client.http.get(f"{tes.PREFIX}/tasks/{run_id}", headers=ALICE), 404)
    assert text == f"{run_id} is not a TES task but a run of identity-matrix: GET /ga4gh/wes/v1/runs/{run_id}"


# --- cancel, users --------------------------------------------------------------------------------


def test_cancel_stops_a_running_task(client: SpecClient, service: Service) -> None:
    task = {
        "executors": [
            {
                "image": image_of(service, "napper"),
                "command": ["python3", "-c", "import time; time.sleep(60)"],
            }
        ]
    }
    task_id = create(client, task)
    wait(client, task_id, frozenset({"RUNNING"}))
    assert client.call("CancelTask", {"id": task_id}, expect=200).json() == {}
    assert wait(client, task_id)["state"] == "CANCELED"
    assert client.call("CancelTask", {"id": task_id}, expect=200).json() == {}  # again: it is canceled


def test_cancel_of_a_finished_task_is_409(client: SpecClient, service: Service) -> None:
    task_id = create(client, matrix_task(service))
    wait(client, task_id)
    text = refused(client.http.post(f"{tes.PREFIX}/tasks/{task_id}:cancel", headers=ALICE), 409)
    assert text == f"task {task_id} has already ended (COMPLETE): there is nothing to cancel"


def test_another_users_task_does_not_exist_for_them(client: SpecClient, service: Service) -> None:
    task_id = create(client, matrix_task(service))
    for response in (
        client.http.get(f"{tes.PREFIX}/tasks/{task_id}", headers=BOB),
        client.http.post(f"{tes.PREFIX}/tasks/{task_id}:cancel", headers=BOB),
    ):
        assert refused(response, 404) == f"no run {task_id}"
    assert client.http.get(f"{tes.PREFIX}/tasks", headers=BOB).json() == {"tasks": []}
    text = refused(client.http.get(f"{tes.PREFIX}/tasks"), 401)
    assert text == "sign in first: send Authorization: Bearer <token>"
    assert wait(client, task_id)["state"] == "COMPLETE"


# --- the synthetic component ----------------------------------------------------------------------


def stored(service: Service, task: dict[str, Any]) -> tuple[Component, Component]:
    body, _ = tes.prepare(service, tes.TesTask.model_validate(task), USERS["alice"])
    component = service.repo.component(body["product"])
    return component, tes.synthetic_component(component, body["tes"])


def test_the_synthetic_component_keeps_limits_and_entrypoint_and_drops_secrets(
    service: Service, tmp_path: Path
) -> None:
    task = matrix_task(service, 5)
    task["executors"][0]["env"] = {"GREETING": "hi"}
    task["outputs"] = [{"path": "/data/output/x.txt", "url": ""}]
    base, synthetic = stored(service, task)
    assert synthetic.resources == base.resources and synthetic.entrypoint == base.entrypoint
    assert synthetic.command == ("5",)  # the image's ENTRYPOINT gets the arguments after it, as on Batch
    assert synthetic.secrets == {} and synthetic.network is False
    assert synthetic.environment["GREETING"] == "hi"
    assert [(o.name, o.path) for o in synthetic.outputs] == [("output0", "/data/output/x.txt")]
    plan = make_plan(
        synthetic, parameters={"tes_task": "t1"}, inputs={}, output_dir=tmp_path / "out", image="im:1"
    )
    options = container_options(plan, tmp_path / "out")
    assert "entrypoint" not in options and options["command"] == [
        "5"
    ]  # ENTRYPOINT + ["5"] == the TES command


def test_each_task_has_its_own_cache_key(service: Service, tmp_path: Path) -> None:
    """Two tasks running one command both run: the task's id is a parameter, and parameters key the cache."""
    body, _ = tes.prepare(service, tes.TesTask.model_validate(matrix_task(service)), USERS["alice"])
    keys = set()
    for task_id in ("task-a", "task-b"):
        run = RunRecord(task_id, "alice", "identity-matrix", "tes", "t", 0.0, request=body)
        [task] = tes.graph_for_tes(service.repo, service.store, run, tmp_path / task_id).tasks
        assert task.parameters == {"tes_task": task_id}
        keys.add(task_key(image="im:1", backend="native", parameters=task.parameters, inputs={}))
    assert len(keys) == 2


def test_inline_inputs_are_written_in_the_run_folder_and_uploads_read_in_place(
    client: SpecClient, service: Service, tmp_path: Path
) -> None:
    upload = client.http.post("/api/v1/uploads", files={"file": ("b.csv", b"1,2\n")}, headers=ALICE).json()[
        "id"
    ]
    task = matrix_task(service)
    task["inputs"] = [
        {"path": "/data/input/a.txt", "content": "text"},
        {"path": "/data/input/b.csv", "url": f"r2o://uploads/{upload}"},
    ]
    body, _ = tes.prepare(service, tes.TesTask.model_validate(task), USERS["alice"])
    run = RunRecord("t", "alice", "identity-matrix", "tes", "t", 0.0, request=body)
    [task_node] = tes.graph_for_tes(service.repo, service.store, run, tmp_path).tasks
    paths = {i.name: i.sources[0].path for i in task_node.inputs}
    assert paths["input0"] == str(tmp_path / "inputs" / "input0" / "a.txt")
    assert (tmp_path / "inputs" / "input0" / "a.txt").read_text() == "text"
    stored_upload = service.store.upload(upload)
    assert stored_upload is not None and paths["input1"] == stored_upload.path
    gone = RunRecord("u", "alice", "identity-matrix", "tes", "t", 0.0, request={**body})
    with_missing = {**body["tes"], "inputs": [{"path": "/data/input/b.csv", "url": "r2o://uploads/nope"}]}
    with pytest.raises(R2OError) as caught:
        tes.graph_for_tes(
            service.repo, service.store, replace(gone, request={**body, "tes": with_missing}), tmp_path
        )
    assert caught.value.message == "input /data/input/b.csv: upload nope is gone"


# --- py-tes against a real server ---------------------------------------------------------------


@pytest.mark.integration
def test_py_tes_creates_lists_gets_and_cancels_tasks(facade_server: str, facade_repo: Path) -> None:
    client = pytes.HTTPClient(facade_server, timeout=30)
    info = client.get_service_info()
    assert info.type == {"group": "org.ga4gh", "artifact": "tes", "version": "1.1.0"}
    images = [i.strip(" .:") for i in info.description.split("limits: ")[1].split(". Inputs")[0].split(", ")]
    matrix = next(i for i in images if i.startswith("identity-matrix:"))
    napper = next(i for i in images if i.startswith("napper:"))

    task_id = client.create_task(
        pytes.Task(
            name="py-tes",
            executors=[pytes.Executor(image=matrix, command=["python3", "/app/algorithm.py", "3"])],
        )
    )
    done = client.wait(task_id, timeout=60)
    assert done.state == "COMPLETE"
    full = client.get_task(task_id, view="FULL")
    assert full.name == "py-tes" and full.executors[0].image == matrix
    assert full.logs[0].logs[0].exit_code == 0
    assert MATRIX in full.logs[0].logs[0].stdout
    assert full.logs[0].system_logs[0] == "COMPLETE: 1 task(s) done"
    minimal = client.get_task(task_id, view="MINIMAL")
    assert (minimal.id, minimal.state, minimal.executors) == (task_id, "COMPLETE", None)

    sleeper = client.create_task(
        pytes.Task(
            executors=[pytes.Executor(image=napper, command=["python3", "-c", "import time; time.sleep(60)"])]
        )
    )
    deadline = time.monotonic() + 30
    while client.get_task(sleeper, view="MINIMAL").state != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    client.cancel_task(sleeper)
    assert client.wait(sleeper, timeout=60).state in ("CANCELING", "CANCELED")
    deadline = time.monotonic() + 30
    while client.get_task(sleeper, view="MINIMAL").state != "CANCELED":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    listed = client.list_tasks(view="BASIC")
    assert [t.id for t in listed.tasks] == [sleeper, task_id]
    assert listed.tasks[1].logs[0].logs[0].stdout is None  # BASIC leaves the executor's output out
    first = client.list_tasks(view="MINIMAL", page_size=1)
    second = client.list_tasks(view="MINIMAL", page_size=1, page_token=first.next_page_token)
    assert [t.id for t in first.tasks + second.tasks] == [sleeper, task_id] and second.next_page_token is None

    with pytest.raises(requests.HTTPError) as caught:
        client.create_task(pytes.Task(executors=[pytes.Executor(image="ubuntu:22.04", command=["ls"])]))
    assert caught.value.response.status_code == 400
    message = caught.value.response.json()["message"]
    assert message.startswith(
        "the task is not valid: executors[0].image: 'ubuntu:22.04' is not an image of this"
    )
    assert matrix in message and napper in message
    with pytest.raises(requests.HTTPError) as missing:
        client.get_task("no-such-task")
    assert missing.value.response.status_code == 404
    # py-tes tries /ga4gh/tes/v1, /v1 and / in turn: the answer it raises for is the last one's
    direct = requests.get(f"{facade_server}{tes.PREFIX}/tasks/no-such-task", timeout=30)
    assert direct.status_code == 404
    assert json.loads(direct.text) == {"message": "no run no-such-task", "status_code": 404}


# --- Docker ---------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_a_task_runs_in_the_component_image_as_it_runs_natively(engine: object, repo_copy: Path) -> None:
    """In the image, the ENTRYPOINT gets the arguments after it: the task's command runs as given."""
    ok(r2o("build", "identity-matrix", cwd=repo_copy))
    service, app = make_app(repo_copy, native=False)
    opened: list[Backend] = []
    closed: list[Backend] = []

    def backend_for(repo: Repository, graph: TaskGraph, native: bool) -> Backend:
        backend = local.make_backend(repo, graph, native=native)
        engine = backend.engine
        assert engine is not None  # the backend connected itself: it must close it

        class Watched:
            def close(self) -> None:
                closed.append(watched)
                engine.close()

        watched = replace(backend, engine=Watched())
        opened.append(watched)
        return watched

    # each run's backend connects to the engine; the service closes that connection when the run ends
    service.workers.backend_for = backend_for
    try:
        with TestClient(app) as http:
            client = SpecClient(http, SPEC, tes.PREFIX, ALICE)
            task = matrix_task(service, 4)
            task["executors"][0]["stdout"] = "/data/output/matrix.txt"
            task["outputs"] = [{"path": "/data/output/matrix.txt", "url": ""}]
            done = wait(client, create(client, task))
            assert done["state"] == "COMPLETE", done["logs"]
            expected = EXPECTED_SIZE_4.read_text()
            assert done["logs"][0]["logs"][0]["stdout"] == expected
            [output] = done["logs"][0]["outputs"]
            assert http.get(output["url"], headers=ALICE).text == expected
        assert opened and closed == opened
    finally:
        for backend in opened:
            if backend not in closed:
                backend.close()
