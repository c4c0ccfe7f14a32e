"""The service's DynamoDB tables on AWS, as data: the single source of their keys and indexes.

``r2o render cloudformation --service`` renders these tables (:func:`cloudformation_properties`) and
the service's DynamoDB store (:mod:`r2o.service.aws.dynamo`) reads and writes exactly these
attributes and indexes (its tests create the tables from :func:`create_table_request`).

- runs: hash key ``id``. Every index's range key is ``created_id``, the run's creation time and id in
  one string that sorts as (created, id) does (:func:`order_key`), so pages are in the order the
  SQLite store gives them, ties included. Indexes ``by_user`` (``user``): a user's runs, newest
  first; ``by_state`` (``state``): the queued and active runs the executors claim, and a state's runs
  for admins; ``by_time`` (``listing``): every run, newest first (admins' listing; ``listing`` is the
  same constant on every run); ``active_by_user`` (``active_user``): sparse, ``active_user`` is set
  only while a run is active (the concurrent-runs quota counts one user's few active runs, not all
  their runs).
- tasks: hash key ``run_id``, range key ``task_id``. Indexes ``by_job`` (``job_id``): sparse, the
  Batch job id a state-change event names; ``by_component`` (``component``, ``finished``): the
  durations a launch's estimate averages.
- uploads: hash key ``id``.

Every table is on-demand (no capacity to size), has point-in-time recovery, and expires items
through the TTL attribute ``expires_at`` (epoch seconds), set on a run and its tasks when the run ends
and on an upload when it is made, ``R2O_RESULTS_EXPIRY_DAYS`` later.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

STRING = "S"
NUMBER = "N"
TTL_ATTRIBUTE = "expires_at"
LISTING = "listing"  # the by_time index's partition attribute
LISTING_VALUE = "all"  # its value on every run
ORDER = "created_id"  # the runs indexes' range key: creation time and id, sortable as one string
BILLING_MODE = "PAY_PER_REQUEST"


def time_key(t: float) -> str:
    """A time as 16 hex digits that sort as the times do (IEEE 754 bits: exact, no rounding)."""
    bits = struct.unpack(">Q", struct.pack(">d", t))[0]
    return f"{bits ^ (1 << 64) - 1 if t < 0 else bits | 1 << 63:016x}"


def order_key(created: float, run_id: str) -> str:
    """``created_id`` of a run: ordered by creation time, then by id."""
    return f"{time_key(created)}#{run_id}"


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # STRING or NUMBER


@dataclass(frozen=True)
class Index:
    name: str
    hash: Key
    range: Key | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()  # the attributes an INCLUDE projection carries


@dataclass(frozen=True)
class Table:
    role: str  # "runs" | "tasks" | "uploads"
    env: str  # the Lambda functions' variable naming the table
    logical_id: str  # the CloudFormation resource
    hash: Key
    range: Key | None = None
    indexes: tuple[Index, ...] = ()


RUNS = Table(
    role="runs",
    env="R2O_RUNS_TABLE",
    logical_id="RunsTable",
    hash=Key("id", STRING),
    indexes=(
        Index("by_user", Key("user", STRING), Key(ORDER, STRING)),
        Index("by_state", Key("state", STRING), Key(ORDER, STRING)),
        Index("by_time", Key(LISTING, STRING), Key(ORDER, STRING)),
        Index("active_by_user", Key("active_user", STRING), Key(ORDER, STRING), projection="KEYS_ONLY"),
    ),
)
TASKS = Table(
    role="tasks",
    env="R2O_TASKS_TABLE",
    logical_id="TasksTable",
    hash=Key("run_id", STRING),
    range=Key("task_id", STRING),
    indexes=(
        Index("by_job", Key("job_id", STRING)),
        Index(
            "by_component",
            Key("component", STRING),
            Key("finished", NUMBER),
            projection="INCLUDE",
            include=("state", "cache_hit", "seconds"),
        ),
    ),
)
UPLOADS = Table(role="uploads", env="R2O_UPLOADS_TABLE", logical_id="UploadsTable", hash=Key("id", STRING))
TABLES = (RUNS, TASKS, UPLOADS)


def _key_schema(hash_key: Key, range_key: Key | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def _attributes(table: Table) -> list[dict[str, str]]:
    keys = [table.hash, table.range] + [k for i in table.indexes for k in (i.hash, i.range)]
    seen: dict[str, str] = {}
    for key in keys:
        if key is not None and seen.setdefault(key.name, key.type) != key.type:
            raise ValueError(f"table {table.role}: attribute {key.name} has two types")
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in seen.items()]


def _projection(index: Index) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.include:
        projection["NonKeyAttributes"] = list(index.include)
    return projection


def _indexes(table: Table) -> list[dict[str, Any]]:
    return [
        {"IndexName": i.name, "KeySchema": _key_schema(i.hash, i.range), "Projection": _projection(i)}
        for i in table.indexes
    ]


def create_table_request(table: Table, name: str) -> dict[str, Any]:
    """DynamoDB CreateTable's arguments for ``table`` named ``name`` (TTL is a second call:
    :func:`ttl_specification`)."""
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": _attributes(table),
        "KeySchema": _key_schema(table.hash, table.range),
        "BillingMode": BILLING_MODE,
    }
    if table.indexes:
        request["GlobalSecondaryIndexes"] = _indexes(table)
    return request


def ttl_specification() -> dict[str, Any]:
    return {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def cloudformation_properties(table: Table) -> dict[str, Any]:
    """The Properties of the ``AWS::DynamoDB::Table`` resource of ``table`` (named by CloudFormation)."""
    properties = create_table_request(table, "")
    del properties["TableName"]
    properties["TimeToLiveSpecification"] = ttl_specification()
    properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    return properties
