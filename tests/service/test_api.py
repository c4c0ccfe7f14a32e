"""The r2o API (/api/v1) through HTTP against the ASGI app, with components run natively.

Two users (alice, bob) and an admin authenticate with a test authenticator that maps a bearer
token to an identity; the OIDC one is tested in test_auth.py.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from r2o.repo import Repository
from r2o.service import states
from r2o.service.app import create_app
from r2o.service.auth import AuthError, Identity
from r2o.service.server import Options, build
from tests.conftest import REPO_ROOT
from tests.service.lambda_client import AwsHome

USERS = {
    "alice": Identity("alice", "Alice", (), False),
    "bob": Identity("bob", "Bob", (), False),
    "root": Identity("root", "Admin", ("admins",), True),
}


class TokenAuth:
    """`Authorization: Bearer <user>` -> that user; anything else is refused."""

    def authenticate(self, authorization: str | None) -> Identity:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or token not in USERS:
            raise AuthError("sign in first")
        return USERS[token]


def as_user(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


ALICE, BOB, ADMIN = as_user("alice"), as_user("bob"), as_user("root")


_lambda: list[AwsHome] = []  # set while a test runs through the Lambda handler


@pytest.fixture(params=["asgi", pytest.param("lambda", marks=pytest.mark.integration)])
def home(request: pytest.FixtureRequest) -> Iterator[str]:
    """Where the app runs: FastAPI's TestClient (as under uvicorn), or the Lambda handler invoked with
    API Gateway payload 2.0 events on DynamoDB in moto (the same tests, both homes)."""
    if request.param == "lambda":
        _lambda.append(request.getfixturevalue("aws_home"))
    yield request.param
    _lambda.clear()


def make_client(root: Path, **options: Any) -> TestClient:
    if _lambda:
        return _lambda[0].client(root, Options(native=True, workers=2, **options), TokenAuth())  # type: ignore[return-value]
    service, _ = build(Repository(root), Options(native=True, workers=2, **options))
    return TestClient(create_app(service, TokenAuth()))


NAPPER = "import sys, time; print('napping', flush=True); time.sleep(float(sys.argv[1]))"
FAILER = "import sys; print('broken on purpose', file=sys.stderr); sys.exit(3)"


def add_component(
    root: Path, name: str, command: list[str], parameters: dict[str, Any] | None = None
) -> None:
    folder = root / "components" / name
    folder.mkdir()
    (folder / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    manifest = {
        "apiVersion": "r2o/v1",
        "name": name,
        "version": "1.0.0",
        "description": f"test component {name}",
        "base": "python-sci",
        "command": command,
        "parameters": parameters or {},
        "resources": {"vcpus": 1, "memory_mib": 256, "timeout_s": 600, "retries": 1},
        "outputs": [{"name": "log", "path": "stdout", "format": "text"}],
    }
    (folder / "component.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


@pytest.fixture
def repo(repo_copy: Path, home: str) -> Path:
    """identity-matrix, plus a component that sleeps (to cancel) and one that fails."""
    seconds = {"type": "number", "default": 30, "minimum": 0, "maximum": 600}
    add_component(repo_copy, "napper", ["python3", "-c", NAPPER, "Ref::seconds"], {"seconds": seconds})
    add_component(repo_copy, "failer", ["python3", "-c", FAILER])
    return repo_copy


@pytest.fixture
def client(repo: Path) -> Iterator[TestClient]:
    with make_client(repo) as c:
        yield c


def wait(
    client: TestClient, run_id: str, *, until: frozenset[str] = states.TERMINAL, who: dict[str, str] = ALICE
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}", headers=who).json()
        if body["state"] in until:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def launch(client: TestClient, product: str, who: dict[str, str] = ALICE, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/runs", json={"product": product, **body}, headers=who)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- catalog ----------------------------------------------------------------------------------------


def test_products_carry_a_schema_derived_from_the_manifest(client: TestClient) -> None:
    products = {p["name"]: p for p in client.get("/api/v1/products", headers=ALICE).json()["products"]}
    assert set(products) == {"identity-matrix", "napper", "failer"}
    im = products["identity-matrix"]
    assert im["kind"] == "component" and im["version"] == "1.0.0"
    assert im["content_tag"].startswith("identity-matrix:1.0.0-")
    size = im["parameters_schema"]["properties"]["size"]
    # the manifest says: {type: integer, default: 2, minimum: 1, maximum: 5000, description: ...}
    assert (size["type"], size["default"], size["minimum"], size["maximum"]) == ("integer", 2, 1, 5000)
    assert im["parameters_schema"]["additionalProperties"] is False
    assert client.get("/api/v1/products/nope", headers=ALICE).status_code == 404


def test_the_repositorys_pipeline_comes_first_with_its_date_range(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for folder in ("components", "base-images", "libs", "pipelines"):
        shutil.copytree(
            REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "rootfs.tar")
        )
    with make_client(root, max_days=7) as c:
        products = c.get("/api/v1/products", headers=ALICE).json()["products"]
        assert products[0]["name"] == "aqcast" and products[0]["kind"] == "pipeline"
        schema = products[0]["parameters_schema"]
        assert schema["required"] == ["start"]
        assert schema["properties"]["days"]["maximum"] == 7
        assert products[0]["date_range"] == {"max_days": 7}
        coarse = products[0]["inputs"][0]
        assert coarse["name"] == "coarse" and coarse["per_day"] and coarse["prepared_by_service"]
        # a date with no synoptic file yet is fine: the service prepares it
        plan = c.post(
            "/api/v1/runs",
            json={
                "product": "aqcast",
                "parameters": {"start": "2031-03-04", "days": 2},
                "validate_only": True,
            },
            headers=ALICE,
        ).json()
        assert plan["valid"], plan
        assert "coarse 2031-03-04" in plan["plan"]["prepared_inputs"]
        too_long = c.post(
            "/api/v1/runs",
            json={
                "product": "aqcast",
                "parameters": {"start": "2031-03-04", "days": 8},
                "validate_only": True,
            },
            headers=ALICE,
        ).json()
        assert too_long["valid"] is False
        assert too_long["errors"] == [{"field": "parameters.days", "message": "8 is above the maximum 7"}]


# --- launching ------------------------------------------------------------------------------------


def test_validate_only_gives_the_plan_and_costs_nothing(client: TestClient) -> None:
    body = {"product": "identity-matrix", "parameters": {"size": 4}, "validate_only": True}
    answer = client.post("/api/v1/runs", json=body, headers=ALICE).json()
    assert answer["valid"] is True and answer["errors"] == []
    plan = answer["plan"]
    assert plan["tasks"] == 1 and plan["parameters"] == {"size": 4}
    # no history yet: the manifest's timeout (600 s at 1 vCPU) bounds the estimate
    assert plan["vcpu_hours"] == pytest.approx(600 / 3600, abs=1e-4)
    assert plan["estimated_cost"] == pytest.approx(600 / 3600 * 0.0425, abs=1e-4)
    assert client.get("/api/v1/runs", headers=ALICE).json()["runs"] == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"product": "nope"}, [("product", "no product named 'nope'")]),
        (
            {"product": "identity-matrix", "parameters": {"size": 0}},
            [("parameters.size", "0 is below the minimum 1")],
        ),
        (
            {"product": "identity-matrix", "parameters": {"size": "big"}},
            [("parameters.size", "must be an integer")],
        ),
        (
            {"product": "identity-matrix", "parameters": {"sise": 4}},
            [("parameters.sise", "identity-matrix has no parameter 'sise'")],
        ),
        ({"product": "identity-matrix", "name": "two\nlines"}, [("name", "a run name is one line")]),
    ],
)
def test_every_bad_field_is_named(
    client: TestClient, body: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    for validate_only in (True, False):
        response = client.post("/api/v1/runs", json={**body, "validate_only": validate_only}, headers=ALICE)
        found = response.json()["errors"]
        assert [
            (e["field"], e["message"][: len(msg)]) for e, (_, msg) in zip(found, errors, strict=True)
        ] == errors
        assert response.status_code == (200 if validate_only else 422)
    assert client.get("/api/v1/runs", headers=ALICE).json()["runs"] == []


def test_a_run_goes_to_complete_with_its_output(client: TestClient) -> None:
    run = launch(client, "identity-matrix", parameters={"size": 4}, name="four", tags={"team": "aq"})
    assert run["state"] == "QUEUED" and run["name"] == "four" and run["tags"] == {"team": "aq"}
    done = wait(client, run["id"])
    assert done["state"] == "COMPLETE", done
    assert [t["state"] for t in done["tasks"]] == ["COMPLETE"]
    assert done["tasks"][0]["exit_code"] == 0
    outputs = client.get(f"/api/v1/runs/{run['id']}/outputs", headers=ALICE).json()["outputs"]
    assert [o["path"] for o in outputs] == ["identity-matrix/stdout.txt"]
    body = client.get(outputs[0]["url"], headers=ALICE).content
    expected = (REPO_ROOT / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt").read_bytes()
    assert body == expected  # the seed's exact output
    assert outputs[0]["sha256"] == hashlib.sha256(expected).hexdigest()
    assert outputs[0]["size"] == len(expected) and outputs[0]["media_type"] == "text/plain"
    log = client.get(done["tasks"][0]["logs_url"], headers=ALICE).json()
    assert log["complete"] is True and log["text"] == expected.decode()
    page = client.get(done["tasks"][0]["logs_url"] + "?offset=5&limit=10", headers=ALICE).json()
    assert page["text"] == expected.decode()[5:15] and page["next_offset"] == 15
    prov = client.get(f"/api/v1/runs/{run['id']}/provenance", headers=ALICE)
    assert "attachment" in prov.headers["content-disposition"]
    task = prov.json()["tasks"]["identity-matrix"]
    assert task["parameters"] == {"size": "4"} and task["outputs"]["matrix"]["sha256"] == outputs[0]["sha256"]
    assert task["git_commit"]


def test_a_failing_component_is_an_executor_error_with_its_reason(client: TestClient) -> None:
    run = launch(client, "failer")
    done = wait(client, run["id"])
    assert done["state"] == "EXECUTOR_ERROR"
    assert "failer exited with code 3" in done["reason"]
    assert done["tasks"][0]["exit_code"] == 3
    log = client.get(done["tasks"][0]["logs_url"], headers=ALICE).json()
    assert "broken on purpose" in log["text"]


def test_cancel_stops_a_running_run(client: TestClient, repo: Path) -> None:
    run = launch(client, "napper", parameters={"seconds": 120})
    wait(client, run["id"], until=frozenset({"RUNNING"}))
    deadline = time.monotonic() + 30
    while (
        "napping"
        not in client.get(f"/api/v1/runs/{run['id']}/tasks/napper/logs", headers=ALICE).json()["text"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    answer = client.post(f"/api/v1/runs/{run['id']}/cancel", headers=ALICE)
    assert answer.status_code == 202 and answer.json()["state"] in ("CANCELING", "CANCELED")
    done = wait(client, run["id"])
    assert done["state"] == "CANCELED"
    assert done["tasks"][0]["state"] == "CANCELED"
    again = client.post(f"/api/v1/runs/{run['id']}/cancel", headers=ALICE)
    assert again.status_code == 409 and "has already ended" in again.json()["message"]


def test_relaunch_reuses_cached_tasks_and_can_edit(client: TestClient) -> None:
    first = launch(client, "identity-matrix", parameters={"size": 3}, name="three")
    assert wait(client, first["id"])["state"] == "COMPLETE"
    same = client.post(f"/api/v1/runs/{first['id']}/relaunch", headers=ALICE).json()
    assert same["relaunch_of"] == first["id"] and same["parameters"] == {"size": 3}
    done = wait(client, same["id"])
    assert done["tasks"][0]["cache_hit"] == "cache"  # found, not run again
    edited = client.post(
        f"/api/v1/runs/{first['id']}/relaunch", json={"parameters": {"size": 5}}, headers=ALICE
    )
    assert edited.status_code == 201 and edited.json()["parameters"] == {"size": 5}
    assert wait(client, edited.json()["id"])["tasks"][0]["cache_hit"] is None
    bad = client.post(
        f"/api/v1/runs/{first['id']}/relaunch", json={"parameters": {"size": -1}}, headers=ALICE
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "parameters.size"


# --- who sees what --------------------------------------------------------------------------------


def test_users_see_only_their_own_runs(client: TestClient) -> None:
    mine = launch(client, "identity-matrix", parameters={"size": 2})
    wait(client, mine["id"])
    theirs = launch(client, "identity-matrix", BOB, parameters={"size": 2})
    for path in (
        "",
        "/outputs",
        "/provenance",
        "/tasks/identity-matrix/logs",
        "/outputs/identity-matrix/stdout.txt",
    ):
        assert client.get(f"/api/v1/runs/{mine['id']}{path}", headers=BOB).status_code == 404, path
    assert client.post(f"/api/v1/runs/{mine['id']}/cancel", headers=BOB).status_code == 404
    assert client.post(f"/api/v1/runs/{mine['id']}/relaunch", headers=BOB).status_code == 404
    assert [r["id"] for r in client.get("/api/v1/runs", headers=BOB).json()["runs"]] == [theirs["id"]]
    # asking for someone else's runs shows only yours
    assert [r["id"] for r in client.get("/api/v1/runs?user=alice", headers=BOB).json()["runs"]] == [
        theirs["id"]
    ]
    everyone = {r["id"] for r in client.get("/api/v1/runs", headers=ADMIN).json()["runs"]}
    assert everyone == {mine["id"], theirs["id"]}
    assert client.get(f"/api/v1/runs/{mine['id']}", headers=ADMIN).status_code == 200


def test_no_or_bad_credentials_are_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer mallory"}, {"Authorization": "Basic YWxpY2U6"}):
        answer = client.get("/api/v1/runs", headers=headers)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["message"] == "sign in first"


@pytest.mark.parametrize(
    "path",
    [
        "../../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "/etc/passwd",
        "identity-matrix/../../report.json",
        "identity-matrix/provenance.json",
        "logs/identity-matrix.log",
        "identity-matrix",
    ],
)
def test_output_paths_outside_the_listed_outputs_are_404(client: TestClient, path: str) -> None:
    run = launch(client, "identity-matrix", parameters={"size": 2})
    wait(client, run["id"])
    assert client.get(f"/api/v1/runs/{run['id']}/outputs/{path}", headers=ALICE).status_code == 404


# --- lists ---------------------------------------------------------------------------------------


def test_runs_are_paged_by_cursor_and_filtered(repo: Path) -> None:
    with make_client(repo, quota_runs=10) as client:
        _paged_and_filtered(client)


def _paged_and_filtered(client: TestClient) -> None:
    ids = [
        launch(client, "identity-matrix", parameters={"size": n}, name=f"m{n}", tags={"n": str(n)})["id"]
        for n in range(1, 6)
    ]
    failed = launch(client, "failer", name="the failing one")
    for run_id in [*ids, failed["id"]]:
        wait(client, run_id)
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/runs{query}", headers=ALICE).json()
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [failed["id"], *reversed(ids)]  # newest first, each once

    def ids_of(query: str) -> list[str]:
        return [r["id"] for r in client.get(f"/api/v1/runs?{query}", headers=ALICE).json()["runs"]]

    assert ids_of("product=failer") == [failed["id"]]
    assert ids_of("state=EXECUTOR_ERROR") == [failed["id"]]
    assert ids_of("name=FAILING") == [failed["id"]]
    assert ids_of("tag=n:3") == [ids[2]]
    assert ids_of("since=2999-01-01T00:00:00Z") == []
    assert client.get("/api/v1/runs?cursor=garbage", headers=ALICE).status_code == 400
    assert client.get("/api/v1/runs?limit=0", headers=ALICE).status_code == 422


# --- uploads and quotas -------------------------------------------------------------------------


def test_uploads_are_checksummed_and_size_limited(repo: Path) -> None:
    with make_client(repo, upload_max_mib=1) as client:
        data = b"x" * 1000
        answer = client.post("/api/v1/uploads", files={"file": ("field.csv", data)}, headers=ALICE)
        assert answer.status_code == 201
        assert answer.json()["sha256"] == hashlib.sha256(data).hexdigest() and answer.json()["size"] == 1000
        wrong = client.post(
            "/api/v1/uploads", files={"file": ("f", data)}, data={"sha256": "0" * 64}, headers=ALICE
        )
        assert wrong.status_code == 400 and "damaged" in wrong.json()["message"]
        big = client.post("/api/v1/uploads", files={"file": ("big", b"y" * (1 << 20) + b"z")}, headers=ALICE)
        assert big.status_code == 413 and "up to 1048576 bytes" in big.json()["message"]
        uploads = repo / ".r2o" / "service" / "uploads"
        assert len(list(uploads.iterdir())) == 1  # the refused ones left nothing
        # another user's upload cannot be used
        upload_id = answer.json()["id"]
        body = {"product": "identity-matrix", "inputs": {"field": upload_id}, "validate_only": True}
        errors = client.post("/api/v1/runs", json=body, headers=BOB).json()["errors"]
        assert errors == [{"field": "inputs.field", "message": "identity-matrix has no input 'field'"}]


def test_quotas_are_enforced_at_submit(repo: Path) -> None:
    with make_client(repo, quota_runs=1) as client:
        run = launch(client, "napper", parameters={"seconds": 60})
        second = client.post("/api/v1/runs", json={"product": "identity-matrix"}, headers=ALICE)
        assert second.status_code == 429
        assert "your limit is 1" in second.json()["message"]
        assert (
            client.post("/api/v1/runs", json={"product": "identity-matrix"}, headers=BOB).status_code == 201
        )
        me = client.get("/api/v1/me", headers=ALICE).json()
        assert me["user"] == "alice" and me["quota"]["concurrent_runs"] == {"limit": 1, "used": 1, "left": 0}
        client.post(f"/api/v1/runs/{run['id']}/cancel", headers=ALICE)
        wait(client, run["id"])
        assert launch(client, "identity-matrix")["state"] == "QUEUED"  # a slot is free again


def test_the_monthly_vcpu_hours_are_reserved_then_used(repo: Path) -> None:
    # napper's estimate, with no history, is its 600 s timeout at 1 vCPU: 1/6 vCPU-hour
    with make_client(repo, quota_runs=5, quota_vcpu_hours=0.3) as client:
        run = launch(client, "napper", parameters={"seconds": 60})
        over = client.post("/api/v1/runs", json={"product": "napper"}, headers=ALICE)
        assert over.status_code == 403 and "left this month" in over.json()["message"]
        client.post(f"/api/v1/runs/{run['id']}/cancel", headers=ALICE)
        wait(client, run["id"])
        used = client.get("/api/v1/me", headers=ALICE).json()["quota"]["vcpu_hours_this_month"]
        assert used["used"] < 0.01  # what the canceled run really used, not its estimate
        assert launch(client, "napper", parameters={"seconds": 0})["state"] == "QUEUED"


def test_a_run_is_in_the_store_before_post_answers(repo: Path) -> None:
    """Committed before the answer: a second service on the same store sees it at once."""
    with make_client(repo) as first, make_client(repo) as second:
        run = launch(first, "napper", parameters={"seconds": 0})
        assert second.get(f"/api/v1/runs/{run['id']}", headers=ALICE).status_code == 200


def test_serve_refuses_unsafe_setups(repo: Path) -> None:
    from tests.test_cli import assert_clean_error, r2o

    assert_clean_error(r2o("serve", "--host", "0.0.0.0", cwd=repo), 2, "binds only to a loopback address")
    native_oidc = r2o(
        "serve", "--native", "--auth", "oidc", "--issuer", "https://x", "--audience", "y", cwd=repo
    )
    assert_clean_error(native_oidc, 2, "--native runs what users send on this host")
    assert_clean_error(
        r2o("serve", "--auth", "oidc", cwd=repo), 2, "--auth oidc needs --issuer URL and --audience"
    )


def test_signed_in_users_through_real_tokens(repo: Path, oidc_issuer: Any) -> None:
    """The same rules with OIDC bearer tokens (RS256, verified against the issuer's JWKS)."""
    from r2o.service.auth import OidcAuth

    service, _ = build(Repository(repo), Options(native=True, workers=1))
    auth = OidcAuth(issuer=oidc_issuer.url, audience=oidc_issuer.audience, admin_group="admins")
    with TestClient(create_app(service, auth)) as client:
        alice = {"Authorization": f"Bearer {oidc_issuer.token(sub='alice')}"}
        bob = {"Authorization": f"Bearer {oidc_issuer.token(sub='bob', token_use='access')}"}
        admin = {"Authorization": f"Bearer {oidc_issuer.token(sub='ops', groups=['admins'])}"}
        run = launch(client, "identity-matrix", alice, parameters={"size": 2})
        wait(client, run["id"], who=alice)
        for path in ("", "/outputs", "/outputs/identity-matrix/stdout.txt", "/provenance"):
            assert client.get(f"/api/v1/runs/{run['id']}{path}", headers=bob).status_code == 404
        assert client.post(f"/api/v1/runs/{run['id']}/cancel", headers=bob).status_code == 404
        assert client.get(f"/api/v1/runs/{run['id']}", headers=admin).status_code == 200
        assert client.get("/api/v1/me", headers=admin).json()["admin"] is True
        expired = {"Authorization": f"Bearer {oidc_issuer.token(sub='alice', exp=1)}"}
        refused = client.get("/api/v1/runs", headers=expired)
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
