"""The service's AWS home under test: a moto server (the one tests/aws starts), the DynamoDB tables
created from the same data the stack renders, an S3 results bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from r2o.render import service_tables
from r2o.service.aws.dynamo import DynamoStore
from tests.aws.conftest import REGION, moto, moto_url  # noqa: F401  (fixtures, used by name)


def create_tables(url: str, prefix: str) -> dict[str, str]:
    """The service's three tables (and their TTL) in moto; role -> table name."""
    client = boto3.client("dynamodb", endpoint_url=url, region_name=REGION)
    names = {}
    for table in service_tables.TABLES:
        name = f"{prefix}-{table.role}"
        client.create_table(**service_tables.create_table_request(table, name))
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=service_tables.ttl_specification())
        names[table.role] = name
    return names


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
