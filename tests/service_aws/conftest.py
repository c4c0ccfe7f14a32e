"""The service's AWS home under test: a moto server (the one tests/aws starts), the DynamoDB tables
created from the same data the stack renders, an S3 results bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from r2o.service.aws.dynamo import DynamoStore
from tests.aws.conftest import REGION, moto, moto_url  # noqa: F401  (fixtures, used by name)
from tests.service.conftest import oidc_issuer  # noqa: F401
from tests.service.lambda_client import aws_home, create_tables  # noqa: F401


@pytest.fixture
def tables(moto: str) -> dict[str, str]:  # noqa: F811
    return create_tables(moto, f"r2o-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def dynamo_store(moto: str, tables: dict[str, str]) -> Iterator[DynamoStore]:  # noqa: F811
    store = DynamoStore(
        boto3.client("dynamodb", endpoint_url=moto, region_name=REGION),
        runs_table=tables["runs"],
        tasks_table=tables["tasks"],
        uploads_table=tables["uploads"],
        expiry_days=7,
    )
    yield store
    store.close()
