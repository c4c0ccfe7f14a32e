"""The service's store in DynamoDB: the same contract as :class:`r2o.service.store.SqliteStore`.

The tables, keys and indexes are those of :mod:`r2o.render.service_tables` (the stack renders the
same data). What SQLite does in one transaction, DynamoDB does with conditional writes:

- ``create_run`` writes the run's tasks first and the run last (a run is never seen without its
  tasks; a run can have more tasks than one DynamoDB transaction may hold), the run only if its id is
  new.
- ``move`` is one UpdateItem whose condition is the list of states the new one may follow: two
  writers cannot undo each other. A run that ends gets ``expires_at`` (the table's TTL) and loses
  ``active_user`` (the sparse index the concurrent-runs quota counts).
- ``claim`` and ``renew`` are conditional on the lease (expired, or held by the renewer).
- Pages walk an index newest first from the cursor, the run's ``(created, id)``, as SQLite's do.

Numbers travel as DynamoDB numbers written with ``repr`` (exact floats); ``None`` is an absent
attribute (the sparse indexes rely on it); the JSON-valued fields of a run are JSON strings, its tags
a map (a tag filter is a condition on it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, fields, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from r2o.render import service_tables as tables
from r2o.service import states
from r2o.service import store as store_module
from r2o.service.store import (
    PAGE_MAX,
    Page,
    RunFilter,
    RunRecord,
    TaskRecord,
    Upload,
    decode_cursor,
    encode_cursor,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_JSON_RUN = ("parameters", "inputs", "request")
_INT_FIELDS = {"days", "tasks_total", "exit_code", "size"}
_BOOL_FIELDS = {"cancel_requested"}
_RUN_FIELDS = [f.name for f in fields(RunRecord)]
_TASK_FIELDS = [f.name for f in fields(TaskRecord)]
_UPLOAD_FIELDS = [f.name for f in fields(Upload)]
_BATCH_WRITE = 25
DAY_S = 86400


def _now() -> float:
    return store_module.now()  # the store module's clock: the contract tests move it by hand


def _value(key: str, value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's wire form."""
    if key in _JSON_RUN:
        return {"S": json.dumps(value, sort_keys=True)}
    if key == "tags":
        return {"M": {str(k): {"S": str(v)} for k, v in value.items()}}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(float(value)) if isinstance(value, float) else str(value)}
    if isinstance(value, str):
        return {"S": value}
    raise TypeError(f"the DynamoDB store cannot keep {key}={value!r}")


def _item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _value(k, v) for k, v in data.items() if v is not None}


def _plain(key: str, wire: Mapping[str, Any]) -> Any:
    if "S" in wire:
        return json.loads(wire["S"]) if key in _JSON_RUN else wire["S"]
    if "N" in wire:
        return int(wire["N"]) if key in _INT_FIELDS else float(wire["N"])
    if "BOOL" in wire:
        return bool(wire["BOOL"])
    if "M" in wire:
        return {k: v["S"] for k, v in wire["M"].items()}
    return None


def _record(names: Sequence[str], item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(k, item[k]) if k in item else None for k in names}  # absent: None


def _run(item: Mapping[str, Any]) -> RunRecord:
    return RunRecord(**_record(_RUN_FIELDS, item))


def _task(item: Mapping[str, Any]) -> TaskRecord:
    return TaskRecord(**_record(_TASK_FIELDS, item))


class _Update:
    """An UpdateExpression (SET the values given, REMOVE those set to None) and its names/values."""

    def __init__(self, changes: Mapping[str, Any]) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, (key, value) in enumerate(changes.items()):
            self.names[f"#u{i}"] = key
            if value is None:
                removes.append(f"#u{i}")
            else:
                self.values[f":u{i}"] = _value(key, value)
                sets.append(f"#u{i} = :u{i}")
        parts = []
        if sets:
            parts.append("SET " + ", ".join(sets))
        if removes:
            parts.append("REMOVE " + ", ".join(removes))
        self.expression = " ".join(parts)

    def name(self, key: str) -> str:
        alias = f"#c{len(self.names)}"
        self.names[alias] = key
        return alias

    def value(self, key: str, value: Any) -> str:
        alias = f":c{len(self.values)}"
        self.values[alias] = _value(key, value)
        return alias

    def among(self, key: str, options: Sequence[str]) -> str:
        """``key IN (options)`` (at least one option)."""
        assert options
        return f"{self.name(key)} IN ({', '.join(self.value(key, o) for o in options)})"

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "UpdateExpression": self.expression,
            "ExpressionAttributeNames": self.names,
        }
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


def _failed_condition(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoStore:
    """:class:`r2o.service.store.Store` on the three DynamoDB tables of :mod:`r2o.render.service_tables`."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        runs_table: str,
        tasks_table: str,
        uploads_table: str,
        expiry_days: float = 30.0,
    ) -> None:
        self.db = client
        self.runs_table = runs_table
        self.tasks_table = tasks_table
        self.uploads_table = uploads_table
        self.expiry_s = expiry_days * DAY_S

    # --- runs ------------------------------------------------------------------------------------

    def _run_item(self, run: RunRecord) -> dict[str, Any]:
        data: dict[str, Any] = asdict(run)
        data[tables.LISTING] = tables.LISTING_VALUE
        data[tables.ORDER] = tables.order_key(run.created, run.id)
        data["name_lower"] = run.name.lower()
        if run.state in states.ACTIVE:
            data["active_user"] = run.user
        else:
            data[tables.TTL_ATTRIBUTE] = int((run.finished or _now()) + self.expiry_s)
        return _item(data)

    def create_run(self, run: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        run = replace(run, updated=_now())
        items = []
        for seq, task in enumerate(tasks):
            data: dict[str, Any] = asdict(task)
            data["seq"] = seq  # tasks() lists them in the order they were given, as SQLite does
            items.append({"PutRequest": {"Item": _item(data)}})
        for start in range(0, len(items), _BATCH_WRITE):
            self._batch_write(self.tasks_table, items[start : start + _BATCH_WRITE])
        self.db.put_item(  # last: the run appears with every one of its tasks in place
            TableName=self.runs_table,
            Item=self._run_item(run),
            ConditionExpression="attribute_not_exists(#id)",
            ExpressionAttributeNames={"#id": "id"},
        )

    def _batch_write(self, table: str, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: requests}
        for attempt in range(10):
            answer = self.db.batch_write_item(RequestItems=pending)
            pending = dict(answer.get("UnprocessedItems") or {})
            if not pending:
                return
            time.sleep(min(2.0, 0.05 * 2**attempt))  # throttled: back off and write the rest
        raise RuntimeError(f"DynamoDB kept refusing writes to {table}")

    def run(self, run_id: str) -> RunRecord | None:
        answer = self.db.get_item(TableName=self.runs_table, Key={"id": {"S": run_id}}, ConsistentRead=True)
        item = answer.get("Item")
        return _run(item) if item else None

    def runs(self, where: RunFilter, *, cursor: str | None, limit: int) -> Page:
        limit = max(1, min(limit, PAGE_MAX))
        if where.kinds is not None and not where.kinds:
            return Page((), None)
        q = _Update({})
        if where.user is not None:
            index, hash_key, hash_value = "by_user", "user", where.user
        elif where.state is not None:
            index, hash_key, hash_value = "by_state", "state", where.state
        else:
            index, hash_key, hash_value = "by_time", tables.LISTING, tables.LISTING_VALUE
        key = [f"{q.name(hash_key)} = {q.value(hash_key, hash_value)}"]
        if where.since is not None:
            key.append(f"{q.name(tables.ORDER)} >= {q.value(tables.ORDER, tables.time_key(where.since))}")
        filters: list[str] = []
        if where.until is not None:
            filters.append(f"{q.name(tables.ORDER)} < {q.value(tables.ORDER, tables.time_key(where.until))}")
        for field, value in (("user", where.user), ("state", where.state), ("product", where.product)):
            if value is not None and field != hash_key:
                filters.append(f"{q.name(field)} = {q.value(field, value)}")
        if where.name:
            filters.append(f"contains({q.name('name_lower')}, {q.value('name_lower', where.name.lower())})")
        if where.tag is not None:
            filters.append(f"{q.name('tags')}.{q.name(where.tag[0])} = {q.value('tag', where.tag[1])}")
        if where.kinds is not None:
            filters.append(q.among("kind", where.kinds))
        request: dict[str, Any] = {
            "TableName": self.runs_table,
            "IndexName": index,
            "KeyConditionExpression": " AND ".join(key),
            "ScanIndexForward": False,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        start: dict[str, Any] | None = None
        if cursor is not None:
            created, run_id = decode_cursor(cursor)
            start = {
                "id": {"S": run_id},
                hash_key: {"S": hash_value},
                tables.ORDER: {"S": tables.order_key(created, run_id)},
            }
        found: list[RunRecord] = []
        for item in self._query(request, q, start, want=limit + 1):
            found.append(_run(item))
        items = tuple(found[:limit])
        return Page(items, encode_cursor(items[-1]) if len(found) > limit and items else None)

    def _query(
        self,
        request: dict[str, Any],
        q: _Update,
        start: dict[str, Any] | None = None,
        want: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The items a Query finds, page after page (a filter may leave a page short, or empty)."""
        request = {**request, "ExpressionAttributeNames": q.names}
        if q.values:
            request["ExpressionAttributeValues"] = q.values
        given = 0
        while True:
            if start is not None:
                request["ExclusiveStartKey"] = start
            if want is not None:
                request["Limit"] = max(want - given, 1)
            answer = self.db.query(**request)
            for item in answer.get("Items", []):
                yield item
                given += 1
                if want is not None and given >= want:
                    return
            start = answer.get("LastEvaluatedKey")
            if not start:
                return

    def _count(self, request: dict[str, Any], q: _Update) -> int:
        request = {**request, "Select": "COUNT", "ExpressionAttributeNames": q.names}
        if q.values:
            request["ExpressionAttributeValues"] = q.values
        total = 0
        while True:
            answer = self.db.query(**request)
            total += int(answer.get("Count", 0))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return total
            request["ExclusiveStartKey"] = start

    def _conditional(
        self, run_id: str, changes: Mapping[str, Any], condition: Callable[[_Update], str]
    ) -> bool:
        """Apply ``changes`` to run ``run_id`` if ``condition`` (made with the update's aliases) holds."""
        u = _Update(changes)
        cond = condition(u)
        try:
            self.db.update_item(
                TableName=self.runs_table, Key={"id": {"S": run_id}}, ConditionExpression=cond, **u.request()
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    def _ending(self, state: str, run: Mapping[str, Any]) -> dict[str, Any]:
        """What else changes when a run moves to ``state``: an end sets the TTL and leaves the
        active-runs index."""
        if state in states.TERMINAL:
            finished = run.get("finished") or _now()
            return {tables.TTL_ATTRIBUTE: int(finished + self.expiry_s), "active_user": None}
        return {}

    def move(self, run_id: str, state: str, reason: str, **changes: Any) -> bool:
        """Move run ``run_id`` to ``state`` (with ``changes``) if that is a move forward."""
        allowed = [s for s in states.RUN_STATES if states.can_move(s, state)]
        if not allowed:
            return False
        sets = {"state": state, "reason": reason, **changes, "updated": _now()}
        sets.update(self._ending(state, sets))
        moved = self._conditional(run_id, sets, lambda u: u.among("state", allowed))
        if moved and state in states.TERMINAL:
            self._expire_tasks(run_id, sets[tables.TTL_ATTRIBUTE])
        return moved

    def _expire_tasks(self, run_id: str, expires_at: int) -> None:
        for task in self.tasks(run_id):
            self.db.update_item(
                TableName=self.tasks_table,
                Key={"run_id": {"S": run_id}, "task_id": {"S": task.task_id}},
                UpdateExpression="SET #e = :e",
                ExpressionAttributeNames={"#e": tables.TTL_ATTRIBUTE},
                ExpressionAttributeValues={":e": {"N": str(expires_at)}},
            )

    def update(self, run_id: str, **changes: Any) -> None:
        if "state" in changes:
            raise ValueError("states change through move()")
        sets = {**changes, "updated": _now()}
        if "name" in sets:
            sets["name_lower"] = str(sets["name"]).lower()
        self._conditional(run_id, sets, lambda u: f"attribute_exists({u.name('id')})")

    def request_cancel(self, run_id: str) -> RunRecord | None:
        """Mark the run for cancelation: a queued run is canceled at once, a running one moves to
        CANCELING until its executor has stopped every task. Returns the run as it now is."""
        t = _now()
        self._conditional(
            run_id,
            {"cancel_requested": True, "updated": t},
            lambda u: u.among("state", sorted(states.ACTIVE)),
        )
        ended: dict[str, Any] = {
            "state": states.CANCELED,
            "reason": "canceled before it started",
            "finished": t,
            "updated": t,
        }
        ended.update(self._ending(states.CANCELED, ended))
        if self._conditional(run_id, ended, lambda u: u.among("state", [states.QUEUED])):
            self._expire_tasks(run_id, ended[tables.TTL_ATTRIBUTE])
        self._conditional(
            run_id,
            {"state": states.CANCELING, "reason": "stopping its tasks", "updated": t},
            lambda u: u.among("state", [states.INITIALIZING, states.RUNNING]),
        )
        return self.run(run_id)

    def claim(self, owner: str, lease_s: float) -> RunRecord | None:
        """Take the oldest run that needs a worker: queued, or active under a lease that expired.
        Each take is conditional on the lease still being expired: two claimers never both win."""
        t = _now()
        candidates = self._waiting(t)
        for _, run_id in sorted(candidates):
            if self._conditional(
                run_id,
                {"lease_owner": owner, "lease_expires": t + lease_s, "updated": t},
                lambda u: (
                    f"{u.name('lease_expires')} < {u.value('lease_expires', t)} AND "
                    + u.among("state", sorted(states.ACTIVE))
                ),
            ):
                return self.run(run_id)
        return None

    def _waiting(self, t: float) -> list[tuple[str, str]]:
        """(created_id, id) of the oldest runs of each claimable state whose lease expired before ``t``
        (read from an index: possibly stale, which the conditional take allows for)."""
        candidates: list[tuple[str, str]] = []
        for state in (states.QUEUED, states.INITIALIZING, states.RUNNING, states.CANCELING):
            q = _Update({})
            request = {
                "TableName": self.runs_table,
                "IndexName": "by_state",
                "KeyConditionExpression": f"{q.name('state')} = {q.value('state', state)}",
                "FilterExpression": f"{q.name('lease_expires')} < {q.value('lease_expires', t)}",
                "ScanIndexForward": True,
            }
            for item in self._query(request, q, want=8):
                candidates.append((item[tables.ORDER]["S"], item["id"]["S"]))
        return candidates

    def renew(self, run_id: str, owner: str, lease_s: float) -> bool:
        return self._conditional(
            run_id,
            {"lease_expires": _now() + lease_s},
            lambda u: f"{u.name('lease_owner')} = {u.value('lease_owner', owner)}",
        )

    def state_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in states.RUN_STATES:
            q = _Update({})
            request = {
                "TableName": self.runs_table,
                "IndexName": "by_state",
                "KeyConditionExpression": f"{q.name('state')} = {q.value('state', state)}",
            }
            n = self._count(request, q)
            if n:
                counts[state] = n
        return counts

    def active_runs(self, user: str) -> int:
        q = _Update({})
        request = {
            "TableName": self.runs_table,
            "IndexName": "active_by_user",
            "KeyConditionExpression": f"{q.name('active_user')} = {q.value('active_user', user)}",
        }
        return self._count(request, q)

    def vcpu_hours_since(self, user: str, since: float) -> float:
        """vCPU-hours a user's runs since ``since`` used (finished runs) or are reserved (active ones)."""
        q = _Update({})
        request = {
            "TableName": self.runs_table,
            "IndexName": "by_user",
            "KeyConditionExpression": (
                f"{q.name('user')} = {q.value('user', user)} AND "
                f"{q.name(tables.ORDER)} >= {q.value(tables.ORDER, tables.time_key(since))}"
            ),
        }
        total = 0.0
        for item in self._query(request, q):
            run = _record(("state", "vcpu_hours", "used_vcpu_hours"), item)
            total += (
                run.get("vcpu_hours", 0.0)
                if run["state"] in states.ACTIVE
                else run.get("used_vcpu_hours", 0.0)
            )
        return total

    # --- tasks -----------------------------------------------------------------------------------

    def tasks(self, run_id: str) -> list[TaskRecord]:
        q = _Update({})
        request = {
            "TableName": self.tasks_table,
            "KeyConditionExpression": f"{q.name('run_id')} = {q.value('run_id', run_id)}",
            "ConsistentRead": True,
        }
        items = sorted(self._query(request, q), key=lambda i: int(i.get("seq", {"N": "0"})["N"]))
        return [_task(i) for i in items]

    def update_task(self, run_id: str, task_id: str, **changes: Any) -> None:
        """Change a task that has not ended (an ended task keeps its record)."""
        u = _Update(changes)
        cond = u.among("state", [states.QUEUED, states.RUNNING])
        try:
            self.db.update_item(
                TableName=self.tasks_table,
                Key={"run_id": {"S": run_id}, "task_id": {"S": task_id}},
                ConditionExpression=cond,
                **u.request(),
            )
        except ClientError as exc:
            if not _failed_condition(exc):
                raise

    def task_by_job(self, job_id: str) -> TaskRecord | None:
        q = _Update({})
        request = {
            "TableName": self.tasks_table,
            "IndexName": "by_job",
            "KeyConditionExpression": f"{q.name('job_id')} = {q.value('job_id', job_id)}",
        }
        for item in self._query(request, q, want=1):
            # the index is eventually consistent: read the task itself
            answer = self.db.get_item(
                TableName=self.tasks_table,
                Key={"run_id": item["run_id"], "task_id": item["task_id"]},
                ConsistentRead=True,
            )
            return _task(answer["Item"]) if "Item" in answer else None
        return None

    def mean_task_seconds(self, component: str) -> float | None:
        """How long ``component``'s tasks took on average (those that ran, not cache hits)."""
        q = _Update({})
        request = {
            "TableName": self.tasks_table,
            "IndexName": "by_component",
            "KeyConditionExpression": f"{q.name('component')} = {q.value('component', component)}",
            "FilterExpression": (
                f"{q.name('state')} = {q.value('state', states.COMPLETE)} AND "
                f"attribute_not_exists({q.name('cache_hit')}) AND attribute_exists({q.name('seconds')})"
            ),
        }
        seconds = [float(i["seconds"]["N"]) for i in self._query(request, q)]
        return sum(seconds) / len(seconds) if seconds else None

    # --- uploads ---------------------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        data: dict[str, Any] = asdict(upload)
        data[tables.TTL_ATTRIBUTE] = int(upload.created + self.expiry_s)
        self.db.put_item(
            TableName=self.uploads_table,
            Item=_item(data),
            ConditionExpression="attribute_not_exists(#id)",
            ExpressionAttributeNames={"#id": "id"},
        )

    def upload(self, upload_id: str) -> Upload | None:
        answer = self.db.get_item(
            TableName=self.uploads_table, Key={"id": {"S": upload_id}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return Upload(**_record(_UPLOAD_FIELDS, item)) if item else None

    def close(self) -> None:
        pass
