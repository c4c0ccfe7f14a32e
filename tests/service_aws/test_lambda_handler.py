"""The service's Lambda handler on its AWS home (moto): S3 files through the API (uploads streamed to the
results bucket with their checksum, outputs listed from the stager's layout, downloads as presigned
redirects, thumbnails base64 in the Lambda answer), the handler built from its environment, and
sign-in with tokens from moto's Cognito and from an issuer of our own."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from PIL import Image

from r2o.errors import UsageError
from r2o.repo import Repository
from r2o.service.aws import handler
from r2o.service.aws.config import REQUIRED, AwsServiceConfig
from r2o.service.aws.s3blobs import S3Blobs
from r2o.service.files import TooLarge
from r2o.service.server import Options
from r2o.service.worker import Workers
from tests.aws.conftest import REGION
from tests.service.conftest import FakeIssuer
from tests.service.lambda_client import AwsHome, LambdaClient
from tests.service.test_api import ALICE, BOB, TokenAuth
from tests.service.test_auth import cognito, sign_in, user_pool


def s3(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name=REGION)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def s3_client(aws_home: AwsHome, repo_copy: Path) -> Iterator[LambdaClient]:
    """The handler with S3 blobs; its executor is never started (runs stay QUEUED: the test writes
    their outputs into the bucket as the Batch jobs' stager would)."""
    client = aws_home.client(
        repo_copy, Options(native=True, workers=1, upload_max_mib=1), TokenAuth(), blobs=handler.s3_blobs
    )
    yield client
    client.close()


def stage_outputs(url: str, bucket: str, run_id: str) -> dict[str, bytes]:
    """A finished task's folder as the stager leaves it (provenance.json last), an input, and a task
    folder still being written (no provenance yet)."""
    files = {"map.png": png(1000, 500), "table.csv": b"x,y\n1,2\n"}
    client = s3(url)
    for name, body in files.items():
        client.put_object(Bucket=bucket, Key=f"runs/{run_id}/identity-matrix/{name}", Body=body)
    client.put_object(Bucket=bucket, Key=f"runs/{run_id}/inputs/matrix/in.npy", Body=b"input")
    client.put_object(Bucket=bucket, Key=f"runs/{run_id}/later-step/2024-01-01/partial.nc", Body=b"half")
    provenance = {
        "task": "identity-matrix",
        "outputs": {
            "map": {"file": "map.png", "sha256": hashlib.sha256(files["map.png"]).hexdigest()},
            "table": {"file": "table.csv", "sha256": hashlib.sha256(files["table.csv"]).hexdigest()},
        },
    }
    client.put_object(
        Bucket=bucket,
        Key=f"runs/{run_id}/identity-matrix/provenance.json",
        Body=json.dumps(provenance).encode(),
    )
    return files


def test_outputs_in_s3_are_listed_redirected_and_thumbnailed(
    s3_client: LambdaClient, aws_home: AwsHome
) -> None:
    with s3_client as client:
        run = client.post("/api/v1/runs", json={"product": "identity-matrix"}, headers=ALICE).json()
        files = stage_outputs(aws_home.url, aws_home.bucket, run["id"])
        base = f"/api/v1/runs/{run['id']}/outputs"

        listed = client.get(base, headers=ALICE).json()["outputs"]
        assert [(o["path"], o["size"], o["sha256"]) for o in listed] == [
            (f"identity-matrix/{name}", len(body), hashlib.sha256(body).hexdigest())
            for name, body in sorted(files.items())
        ]
        assert client.get(base, headers=BOB).status_code == 404  # another user's run does not exist

        answer = client.get(f"{base}/identity-matrix/table.csv", headers=ALICE, follow_redirects=False)
        assert answer.status_code == 307
        location = answer.headers["location"]
        assert location.startswith(
            f"{aws_home.url}/{aws_home.bucket}/runs/{run['id']}/identity-matrix/table.csv?"
        )
        assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == [str(7 * 86400)]
        fetched = httpx.get(location)
        assert fetched.status_code == 200 and fetched.content == files["table.csv"]
        for missing in (
            "identity-matrix/provenance.json",
            "inputs/matrix/in.npy",
            "later-step/2024-01-01/partial.nc",
            "identity-matrix/../inputs/matrix/in.npy",
        ):
            assert client.get(f"{base}/{missing}", headers=ALICE).status_code == 404, missing

        thumb = client.get(f"{base}/identity-matrix/map.png", params={"thumbnail": "true"}, headers=ALICE)
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
        last = client.transport.exchanges[-1].answer
        assert last["isBase64Encoded"] is True  # a binary answer crosses API Gateway base64-encoded
        assert base64.b64decode(last["body"]) == thumb.content
        with Image.open(io.BytesIO(thumb.content)) as img:
            assert img.size == (320, 160)

        bundle = client.get(f"/api/v1/runs/{run['id']}/provenance", headers=ALICE).json()
        assert list(bundle["tasks"]) == ["identity-matrix"] and bundle["run"]["id"] == run["id"]
        assert bundle["tasks"]["identity-matrix"]["outputs"]["map"]["file"] == "map.png"


def test_uploads_stream_to_s3_with_their_checksum(s3_client: LambdaClient, aws_home: AwsHome) -> None:
    body = bytes(range(256)) * 2048  # 512 KiB, not UTF-8: the event carries it base64
    with s3_client as client:
        answer = client.post("/api/v1/uploads", files={"file": ("in put.nc", body)}, headers=ALICE)
        assert answer.status_code == 201, answer.text
        assert client.transport.exchanges[-1].event["isBase64Encoded"] is True
        upload = answer.json()
        assert upload["sha256"] == hashlib.sha256(body).hexdigest() and upload["filename"] == "in_put.nc"
        head = s3(aws_home.url).head_object(
            Bucket=aws_home.bucket, Key=f"uploads/{upload['id']}/in_put.nc", ChecksumMode="ENABLED"
        )
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
        assert head["Metadata"]["sha256"] == upload["sha256"]

        damaged = client.post(
            "/api/v1/uploads", files={"file": ("b.nc", body)}, data={"sha256": "0" * 64}, headers=ALICE
        )
        assert damaged.status_code == 400 and "damaged" in damaged.json()["message"]
        too_big = client.post(
            "/api/v1/uploads", files={"file": ("c.nc", b"x" * (1024 * 1024 + 1))}, headers=ALICE
        )
        assert too_big.status_code == 413
    keys = [o["Key"] for o in s3(aws_home.url).list_objects_v2(Bucket=aws_home.bucket).get("Contents", [])]
    assert keys == [f"uploads/{upload['id']}/in_put.nc"]  # the damaged one removed, the large one never kept


def test_a_large_upload_goes_in_parts_and_a_too_large_one_leaves_nothing(aws_home: AwsHome) -> None:
    client = s3(aws_home.url)
    blobs = S3Blobs(client, aws_home.bucket, part_bytes=5 << 20)
    body = hashlib.sha256(b"seed").digest() * (11 * 1024 * 1024 // 32 + 7)  # 11 MiB and a bit: 3 parts
    upload = blobs.store_upload(io.BytesIO(body), user="ann", filename="big.nc", max_bytes=64 << 20)
    assert (upload.size, upload.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    key = f"uploads/{upload.id}/big.nc"
    assert client.get_object(Bucket=aws_home.bucket, Key=key)["Body"].read() == body
    with pytest.raises(TooLarge):
        blobs.store_upload(iter([body]), user="ann", filename="huge.nc", max_bytes=len(body) - 1)
    with pytest.raises(TooLarge):  # past the cap after two parts were sent
        blobs.store_upload(io.BytesIO(body), user="ann", filename="huge.nc", max_bytes=10 << 20)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=aws_home.bucket).get("Contents", [])]
    assert keys == [key]
    assert client.list_multipart_uploads(Bucket=aws_home.bucket).get("Uploads", []) == []


# --- the handler as Lambda runs it: built from its environment ----------------------------------------


@pytest.fixture
def environment(
    aws_home: AwsHome, repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The variables the stack sets; runs go to the local workers instead of Batch (no queue)."""
    env = {
        "R2O_RUNS_TABLE": aws_home.tables["runs"],
        "R2O_TASKS_TABLE": aws_home.tables["tasks"],
        "R2O_UPLOADS_TABLE": aws_home.tables["uploads"],
        "R2O_RESULTS_BUCKET": aws_home.bucket,
        "R2O_REPO": str(repo_copy),
        "R2O_RESULTS_EXPIRY_DAYS": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    made: list[Workers] = []

    def local(cfg: AwsServiceConfig, repo: Repository, store: Any, catalog: Any) -> Workers:
        made.append(Workers(repo, store, catalog, cfg.service))
        return made[-1]

    monkeypatch.setattr(handler, "batch_executor", local)
    yield env
    for cache in (handler.config, handler._api_handler, handler.repository, handler.catalog):
        cache.cache_clear()


def fresh(monkeypatch: pytest.MonkeyPatch, **env: str) -> LambdaClient:
    """A new Lambda container: nothing cached from the last one."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for cache in (handler.config, handler._api_handler, handler.repository, handler.catalog):
        cache.cache_clear()
    return LambdaClient(handler.api)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_handler_signs_in_cognito_users(
    environment: dict[str, str], aws_home: AwsHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    idp = cognito(aws_home.url)
    pool, app = user_pool(idp, "r2o-users", {"alice": ["admins"], "bob": []})
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    client = fresh(
        monkeypatch,
        R2O_OIDC_ISSUER=issuer,
        R2O_OIDC_AUDIENCE=app,
        R2O_OIDC_JWKS_URL=f"{aws_home.url}/{pool}/.well-known/jwks.json",  # moto serves keys here
    )
    with client:
        page = client.get("/config.json").json()
        assert (page["auth"], page["issuer"], page["client_id"]) == ("oidc", issuer, app)
        refused = client.get("/api/v1/me")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        alice, bob = sign_in(idp, app, "alice"), sign_in(idp, app, "bob")
        me = client.get("/api/v1/me", headers=bearer(alice["access"])).json()  # Cognito's access token
        assert (me["name"], me["admin"], me["groups"]) == ("alice", True, ["admins"])
        assert client.get("/api/v1/me", headers=bearer(bob["id"])).json()["admin"] is False
        run = client.post("/api/v1/runs", json={"product": "identity-matrix"}, headers=bearer(bob["access"]))
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        assert (
            client.get(f"/api/v1/runs/{run_id}", headers=bearer(alice["access"])).status_code == 200
        )  # admin
        assert client.get("/ga4gh/wes/v1/service-info", headers=bearer(bob["access"])).status_code == 200
        assert client.get("/ga4gh/tes/v1/service-info", headers=bearer(bob["access"])).status_code == 200
        listed = client.get("/ga4gh/wes/v1/runs", headers=bearer(bob["access"])).json()
        assert [r["run_id"] for r in listed["runs"]] == [run_id]
        assert run.json()["expiration_time"] is None  # kept while it has not ended
        ended = client.post(f"/api/v1/runs/{run_id}/cancel", headers=bearer(bob["access"])).json()
        finished = dt.datetime.fromisoformat(ended["finished"])
        assert dt.datetime.fromisoformat(ended["expiration_time"]) == finished + dt.timedelta(days=2)
    stored = boto3.client("dynamodb", endpoint_url=aws_home.url, region_name=REGION).get_item(
        TableName=aws_home.tables["runs"], Key={"id": {"S": run_id}}
    )
    assert stored["Item"]["state"]["S"] == "CANCELED"  # the run is in DynamoDB (nothing executed it here)


def test_the_handler_checks_tokens_of_an_issuer_with_its_own_key(
    environment: dict[str, str], oidc_issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's pools all sign with one key: an issuer of our own shows the key is really checked."""
    client = fresh(
        monkeypatch,
        R2O_OIDC_ISSUER=oidc_issuer.url,
        R2O_OIDC_AUDIENCE=oidc_issuer.audience,
        R2O_ADMIN_GROUP="operators",
    )
    with client:
        admin = oidc_issuer.token(token_use="access", groups=["operators"], sub="sub-op")
        me = client.get("/api/v1/me", headers=bearer(admin)).json()
        assert (me["user"], me["admin"]) == ("sub-op", True)
        plain = oidc_issuer.token(token_use="access", groups=["admins"])  # not this deployment's group
        assert client.get("/api/v1/me", headers=bearer(plain)).json()["admin"] is False
        from tests.service.conftest import rsa_key

        forged = oidc_issuer.token(token_use="access", key=rsa_key("someone else"))
        assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401
        other_client = oidc_issuer.token(token_use="access", client_id="another-app")
        assert client.get("/api/v1/me", headers=bearer(other_client)).status_code == 401


def test_the_environment_names_what_is_missing() -> None:
    with pytest.raises(UsageError) as missing:
        AwsServiceConfig.from_env({"R2O_RUNS_TABLE": "runs", "R2O_JOB_QUEUE": "q"})
    message = str(missing.value)
    for name in (*REQUIRED[1:], "R2O_DEFINITION_PREFIX"):
        assert name in message
    assert "R2O_RUNS_TABLE" not in message.split("lacks", 1)[1]
    full = {name: f"value-{name.lower()}" for name in REQUIRED} | {
        "R2O_OIDC_ISSUER": "https://issuer.example"
    }
    cfg = AwsServiceConfig.from_env(full)
    assert (cfg.job_queue, cfg.log_group, cfg.admin_group, cfg.results_expiry_days) == (
        None,
        "/aws/batch/job",
        "admins",
        7.0,
    )
    assert cfg.service.upload_max_bytes == 4 << 20
    assert cfg.service.results_expiry_days == 7.0
    with pytest.raises(UsageError, match="R2O_RESULTS_EXPIRY_DAYS"):
        AwsServiceConfig.from_env(full | {"R2O_RESULTS_EXPIRY_DAYS": "soon"})
    with pytest.raises(UsageError, match="R2O_QUOTA_RUNS"):
        AwsServiceConfig.from_env(full | {"R2O_QUOTA_RUNS": "-1"})
