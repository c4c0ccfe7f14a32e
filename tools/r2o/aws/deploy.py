"""Register rendered job definitions idempotently: a new revision only when the payload changed.

The newest ACTIVE revision's ``r2o:definition-sha256`` tag is compared with the rendered one, so
fields AWS fills in on its side never make a spurious revision. Optionally, older ACTIVE revisions
beyond the newest ``keep`` are deregistered (running jobs keep running; Batch only stops new
submissions to them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from r2o.aws.session import aws_errors
from r2o.errors import UsageError
from r2o.render.batch import TAG_DEFINITION_HASH, JobDefinition

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

REGISTERED = "registered"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Deployed:
    name: str
    revision: int
    arn: str
    action: str  # REGISTERED or UNCHANGED
    deregistered: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "arn": self.arn,
            "action": self.action,
            "deregistered": list(self.deregistered),
        }


def active_revisions(client: BatchClient, name: str) -> list[dict[str, Any]]:
    """Every ACTIVE revision of ``name``, newest first."""
    out: list[dict[str, Any]] = []
    with aws_errors(f"describing job definition {name}"):
        for page in client.get_paginator("describe_job_definitions").paginate(
            jobDefinitionName=name, status="ACTIVE"
        ):
            out.extend(dict(d) for d in page.get("jobDefinitions", []) if d.get("jobDefinitionName") == name)
    return sorted(out, key=lambda d: int(d["revision"]), reverse=True)


def deploy(
    client: BatchClient,
    definitions: Sequence[JobDefinition],
    *,
    keep: int | None = None,
    on_result: Callable[[Deployed], None] | None = None,
) -> list[Deployed]:
    """Register each definition unless its newest ACTIVE revision already has the same payload hash."""
    if keep is not None and keep < 1:
        raise UsageError(
            f"--keep must be at least 1, not {keep}", hint="--keep N keeps the newest N revisions"
        )
    results = []
    for definition in definitions:
        revisions = active_revisions(client, definition.name)
        newest = revisions[0] if revisions else None
        if (
            newest is not None
            and newest.get("tags", {}).get(TAG_DEFINITION_HASH) == definition.definition_hash
        ):
            arn, revision, action = str(newest["jobDefinitionArn"]), int(newest["revision"]), UNCHANGED
        else:
            with aws_errors(f"registering job definition {definition.name}"):
                answer = client.register_job_definition(**definition.payload)
            arn, revision, action = answer["jobDefinitionArn"], int(answer["revision"]), REGISTERED
            revisions = [{"jobDefinitionArn": arn, "revision": revision}, *revisions]
        gone: list[str] = []
        if keep is not None:
            for old in revisions[keep:]:
                with aws_errors(f"deregistering {old['jobDefinitionArn']}"):
                    client.deregister_job_definition(jobDefinition=str(old["jobDefinitionArn"]))
                gone.append(str(old["jobDefinitionArn"]))
        result = Deployed(definition.name, revision, arn, action, tuple(gone))
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
