"""Submit one component as an AWS Batch job: the request as data first, then one SubmitJob call."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from r2o.aws.deploy import active_revisions
from r2o.aws.jobs import require_queue
from r2o.aws.session import aws_errors
from r2o.errors import NotFoundError, UsageError
from r2o.manifest import Component, Parameter
from r2o.render.batch import DEFAULT_NAME_PREFIX, TAG_COMPONENT, TAG_CONTENT_TAG, definition_name

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

MAX_ARRAY_SIZE = 10_000
MAX_DEPENDS_ON = 20
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


@dataclass(frozen=True)
class SubmitRequest:
    """Everything SubmitJob needs, checked against the manifest without calling AWS."""

    component: str
    job_name: str
    queue: str
    definition: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    dependency_type: str | None = None  # None (plain), N_TO_N
    array_size: int | None = None
    sequential: bool = False

    def to_api(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "jobName": self.job_name,
            "jobQueue": self.queue,
            "jobDefinition": self.definition,
            "tags": {TAG_COMPONENT: self.component},
            "propagateTags": True,
        }
        if self.parameters:
            request["parameters"] = dict(self.parameters)
        depends: list[dict[str, str]] = []
        for job_id in self.depends_on:
            entry = {"jobId": job_id}
            if self.dependency_type:
                entry["type"] = self.dependency_type
            depends.append(entry)
        if self.sequential:
            depends.append({"type": "SEQUENTIAL"})
        if depends:
            request["dependsOn"] = depends
        if self.array_size is not None:
            request["arrayProperties"] = {"size": self.array_size}
        return request


def typed_parameters(component: Component, given: Mapping[str, str]) -> dict[str, str]:
    """Check ``-p`` values with the manifest's types and bounds; return them as Batch strings.

    Defaults are not repeated (the job definition holds them); a required parameter without a default
    must be given here, since Batch would otherwise pass the literal ``Ref::name`` to the command.
    """
    out = {key: Parameter.format(value) for key, value in component.parse_parameters(given).items()}
    for name, param in component.parameters.items():
        if name not in out and param.default is None:
            raise UsageError(
                f"{component.name} needs parameter '{name}' ({param.type}); it has no default",
                hint=f"pass -p {name}=VALUE",
            )
    return out


def make_request(
    component: Component,
    *,
    parameters: Mapping[str, str],
    queue: str,
    depends_on: Sequence[str] = (),
    n_to_n: bool = False,
    array_size: int | None = None,
    sequential: bool = False,
    job_name: str | None = None,
    name_prefix: str = DEFAULT_NAME_PREFIX,
) -> SubmitRequest:
    name = job_name or component.name
    if not JOB_NAME.match(name):
        raise UsageError(
            f"job name '{name}' is not valid: up to 128 letters, digits, hyphens and underscores, "
            "starting with a letter or digit"
        )
    if not queue:
        raise UsageError("no job queue given", hint="pass --queue QUEUE or set R2O_JOB_QUEUE")
    if array_size is not None and not 2 <= array_size <= MAX_ARRAY_SIZE:
        raise UsageError(f"--array-size {array_size} is outside AWS Batch's 2-{MAX_ARRAY_SIZE}")
    if len(depends_on) > MAX_DEPENDS_ON:
        raise UsageError(
            f"{len(depends_on)} dependencies: AWS Batch allows at most {MAX_DEPENDS_ON} per job",
            hint="chain through an intermediate job, or use an array job with N_TO_N",
        )
    if len(set(depends_on)) != len(depends_on):
        raise UsageError("--depends-on names the same job twice")
    if n_to_n and (array_size is None or not depends_on):
        raise UsageError("--n-to-n needs --array-size and --depends-on (an array job on an array job)")
    if sequential and array_size is None:
        raise UsageError("--sequential needs --array-size (children run one after another)")
    return SubmitRequest(
        component=component.name,
        job_name=name,
        queue=queue,
        definition=definition_name(component.name, name_prefix),
        parameters=typed_parameters(component, parameters),
        depends_on=tuple(depends_on),
        dependency_type="N_TO_N" if n_to_n else None,
        array_size=array_size,
        sequential=sequential,
    )


@dataclass(frozen=True)
class Submitted:
    job_id: str
    job_name: str
    job_arn: str
    definition_arn: str
    content_tag: str

    def as_dict(self) -> dict[str, str]:
        return {
            "jobId": self.job_id,
            "jobName": self.job_name,
            "jobArn": self.job_arn,
            "jobDefinition": self.definition_arn,
            "contentTag": self.content_tag,
        }


def submit(client: BatchClient, request: SubmitRequest) -> Submitted:
    """Check the queue and the registered definition exist, then submit."""
    require_queue(client, request.queue)
    revisions = active_revisions(client, request.definition)
    if not revisions:
        raise NotFoundError(
            f"job definition {request.definition} is not registered (no ACTIVE revision)",
            hint=f"run: r2o deploy {request.component}",
        )
    newest = revisions[0]
    with aws_errors(f"submitting {request.job_name} to {request.queue}"):
        answer = client.submit_job(**request.to_api())
    return Submitted(
        answer["jobId"],
        answer["jobName"],
        answer.get("jobArn", ""),
        str(newest["jobDefinitionArn"]),
        str(newest.get("tags", {}).get(TAG_CONTENT_TAG, "")),
    )
