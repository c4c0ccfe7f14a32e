"""An AWS home for the service in tests: the SQLite store (the same protocol as DynamoDB's), moto's S3
and Logs, and a Batch stand-in (tests/service_batch/fakes.py) or moto's Batch (docker tier)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from r2o.repo import Repository
from r2o.service import launch
from r2o.service.aws.batch import BatchExecutor, BatchSettings
from r2o.service.catalog import Catalog
from r2o.service.config import ServiceConfig
from r2o.service.store import RunRecord, SqliteStore, TaskRecord, now
from tests.aws.conftest import REGION, moto, moto_url  # noqa: F401 - the moto server fixtures, shared
from tests.pipeline.conftest import make_repo
from tests.service_batch.fakes import FakeBatch

BUCKET = "r2o-results"
QUEUE = "r2o-test"
PREFIX = "r2o-"
LOG_GROUP = "/aws/batch/job"


@pytest.fixture
def chain_repo(tmp_path: Path) -> Repository:
    return Repository(make_repo(tmp_path / "repo"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "r2o.db")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def aws(moto: str) -> dict[str, Any]:  # noqa: F811 - the imported fixture
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    logs = boto3.client("logs", endpoint_url=moto, region_name=REGION)
    return {"s3": s3, "logs": logs, "url": moto}


def make_executor(repo: Repository, store: SqliteStore, aws: dict[str, Any], batch: Any) -> BatchExecutor:
    catalog = Catalog(repo, max_days=31)
    settings = BatchSettings(queue=QUEUE, bucket=BUCKET, definition_prefix=PREFIX, log_group=LOG_GROUP)
    return BatchExecutor(repo, store, catalog, settings, batch=batch, s3=aws["s3"], logs=aws["logs"])


@pytest.fixture
def executor(chain_repo: Repository, store: SqliteStore, aws: dict[str, Any]) -> BatchExecutor:
    return make_executor(chain_repo, store, aws, FakeBatch())


def queue_run(executor: BatchExecutor, body: dict[str, Any], user: str = "alice") -> RunRecord:
    """A run committed QUEUED as the service commits it (r2o.service.core.Service.submit)."""
    config = ServiceConfig(root=Path("/nonexistent"))
    found, errors = launch.check(executor.catalog, executor.store, config, body, user=user)
    assert found is not None, errors
    run = RunRecord(
        id=uuid.uuid4().hex,
        user=user,
        product=found.product.name,
        kind=found.product.kind,
        name=found.name,
        created=now(),
        parameters=found.parameters,
        inputs=found.inputs,
        start=found.start,
        days=found.days,
        tasks_total=found.tasks,
        request=dict(body),
    )
    tasks = [
        TaskRecord(run.id, t.id, t.step, t.component, t.day, t.vcpus, reason="waiting")
        for t in found.graph.tasks
    ]
    executor.store.create_run(run, tasks)
    return run
