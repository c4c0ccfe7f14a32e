"""Check RegisterJobDefinition payloads before anything is written or sent.

Two layers. botocore's own ParamValidator against the Batch service model (shapes, types,
required members, minimums) — exactly what boto3 would refuse client-side. Then what that
validator leaves to the service, which would otherwise fail only at deploy time: enum values
(read from the same model), maximums, AWS Batch's documented limits (name pattern, attempts,
timeout, Fargate vCPU/memory pairs and ephemeral storage, no ulimits on Fargate, at most 50 tags,
24 KiB per definition) and the payload's internal consistency (mount points name volumes and
differ, EFS IAM needs transit encryption, secrets are ARNs with an execution role to read them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from r2o.errors import ManifestError, Problem
from r2o.manifest import (
    FARGATE_MEMORY,
    MAX_ATTEMPTS,
    MIN_TIMEOUT_S,
    SECRETS_MANAGER_ARN,
    SSM_PARAMETER_ARN,
)
from r2o.render import batch
from r2o.render.batch import FARGATE_STORAGE_GIB, JobDefinition
from r2o.repo import Repository

MAX_TAGS = 50
MAX_DEFINITION_BYTES = 24 * 1024
MAX_EVALUATE_ON_EXIT = 5
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$", re.UNICODE)
_RESERVED_ENV = "AWS_BATCH"


@cache
def register_job_definition_model() -> OperationModel:
    model = botocore.session.get_session().get_service_model("batch")
    return model.operation_model("RegisterJobDefinition")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _model_limits(value: Any, shape: Shape, path: str) -> Iterable[tuple[str, str]]:
    """Enum membership and maximums from the model, which botocore's validator does not enforce."""
    enum = getattr(shape, "enum", None) or []
    maximum = shape.metadata.get("max")
    if shape.type_name == "string" and isinstance(value, str):
        if enum and value not in enum:
            yield path, f"'{value}' is not one of {', '.join(enum)}"
        if maximum is not None and len(value) > maximum:
            yield path, f"is {len(value)} characters long; the limit is {maximum}"
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if maximum is not None and value > maximum:
            yield path, f"{value} is above the maximum {maximum}"
    elif shape.type_name == "structure" and isinstance(value, Mapping):
        for key, member in shape.members.items():  # type: ignore[attr-defined]
            if key in value:
                yield from _model_limits(value[key], member, _join(path, key))
    elif shape.type_name == "list" and isinstance(value, list):
        if maximum is not None and len(value) > maximum:
            yield path, f"has {len(value)} entries; the limit is {maximum}"
        for i, item in enumerate(value):
            yield from _model_limits(item, shape.member, _join(path, i))  # type: ignore[attr-defined]
    elif shape.type_name == "map" and isinstance(value, Mapping):
        if maximum is not None and len(value) > maximum:
            yield path, f"has {len(value)} entries; the limit is {maximum}"
        for key, item in value.items():
            yield from _model_limits(key, shape.key, f"{path} key '{key}'")  # type: ignore[attr-defined]
            yield from _model_limits(item, shape.value, _join(path, str(key)))  # type: ignore[attr-defined]


def _requirements(container: Mapping[str, Any]) -> dict[str, str]:
    return {str(r.get("type")): str(r.get("value")) for r in container.get("resourceRequirements", [])}


def _batch_rules(payload: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """AWS Batch's documented limits that no model encodes."""
    name = payload.get("jobDefinitionName", "")
    if not isinstance(name, str) or not NAME.match(name):
        yield (
            "jobDefinitionName",
            (
                f"'{name}' is not a valid job definition name: up to 128 letters, digits, "
                "hyphens and underscores, starting with a letter or digit"
            ),
        )
    platforms = payload.get("platformCapabilities", [])
    if len(platforms) != 1:
        yield "platformCapabilities", f"needs exactly one platform, not {platforms}"
    fargate = "FARGATE" in platforms
    container = payload.get("containerProperties", {})
    reqs = _requirements(container)
    for kind in ("VCPU", "MEMORY"):
        if kind not in reqs:
            yield "containerProperties.resourceRequirements", f"has no {kind} entry"
    for i, req in enumerate(container.get("resourceRequirements", [])):
        at = f"containerProperties.resourceRequirements[{i}].value"
        text = str(req.get("value"))
        try:
            number = float(text)
        except ValueError:
            yield at, f"'{text}' is not a number"
            continue
        kind = req.get("type")
        whole = number.is_integer() and "." not in text
        if kind == "MEMORY" and (not whole or number < 4):
            yield at, f"memory '{text}' must be a whole number of MiB, at least 4"
        if kind == "GPU" and (not whole or number < 1):
            yield at, f"GPU count '{text}' must be a whole number >= 1 (leave GPU out for none)"
        if kind == "VCPU" and not fargate and (not whole or number < 1):
            yield at, f"EC2 needs a whole number of vCPUs >= 1, not '{text}'"
    if len({r.get("type") for r in container.get("resourceRequirements", [])}) != len(
        container.get("resourceRequirements", [])
    ):
        yield "containerProperties.resourceRequirements", "names a resource type twice"
    if fargate:
        yield from _fargate_rules(container, reqs)
    retry = payload.get("retryStrategy", {})
    attempts = retry.get("attempts")
    if attempts is not None and not 1 <= attempts <= MAX_ATTEMPTS:
        yield "retryStrategy.attempts", f"{attempts} is outside AWS Batch's 1-{MAX_ATTEMPTS}"
    if len(retry.get("evaluateOnExit", [])) > MAX_EVALUATE_ON_EXIT:
        yield "retryStrategy.evaluateOnExit", f"has more than {MAX_EVALUATE_ON_EXIT} entries"
    timeout = payload.get("timeout", {}).get("attemptDurationSeconds")
    if timeout is not None and timeout < MIN_TIMEOUT_S:
        yield (
            "timeout.attemptDurationSeconds",
            f"{timeout} s is below AWS Batch's minimum of {MIN_TIMEOUT_S} s",
        )
    tags = payload.get("tags", {})
    if len(tags) > MAX_TAGS:
        yield "tags", f"has {len(tags)} tags; AWS Batch allows at most {MAX_TAGS}"
    for key in tags:
        if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
            yield (
                f"tags key '{key}'",
                (
                    "is not a valid tag key: 1-128 letters, digits, spaces and _ . : / = + - @, "
                    "not starting with aws:"
                ),
            )
    for i, env in enumerate(container.get("environment", [])):
        if str(env.get("name", "")).startswith(_RESERVED_ENV):
            yield f"containerProperties.environment[{i}].name", f"names starting {_RESERVED_ENV} are reserved"
    yield from _secret_rules(container)
    for i, limit in enumerate(container.get("ulimits", [])):
        if fargate:
            yield f"containerProperties.ulimits[{i}]", "ulimits are not supported on FARGATE"
        soft, hard = limit.get("softLimit"), limit.get("hardLimit")
        if isinstance(soft, int) and isinstance(hard, int) and soft > hard:
            yield f"containerProperties.ulimits[{i}]", f"soft limit {soft} is above the hard limit {hard}"
    storage = container.get("ephemeralStorage")
    if storage is not None:
        size = storage.get("sizeInGiB")
        if not fargate:
            yield "containerProperties.ephemeralStorage", "is only supported on FARGATE"
        elif not isinstance(size, int) or not FARGATE_STORAGE_GIB[0] <= size <= FARGATE_STORAGE_GIB[1]:
            low, high = FARGATE_STORAGE_GIB
            yield (
                "containerProperties.ephemeralStorage.sizeInGiB",
                f"{size} is outside Fargate's {low}-{high} GiB",
            )
    paths = [str(m.get("containerPath")) for m in container.get("mountPoints", [])]
    for path in sorted({p for p in paths if paths.count(p) > 1}):
        yield "containerProperties.mountPoints", f"'{path}' is mounted twice"
    volumes = {v.get("name"): v for v in container.get("volumes", [])}
    for i, mount in enumerate(container.get("mountPoints", [])):
        if mount.get("sourceVolume") not in volumes:
            yield (
                f"containerProperties.mountPoints[{i}].sourceVolume",
                f"'{mount.get('sourceVolume')}' names no volume",
            )
    for name, volume in volumes.items():
        efs = volume.get("efsVolumeConfiguration")
        if efs is None:
            continue
        auth = efs.get("authorizationConfig", {})
        if (auth.get("iam") == "ENABLED" or "accessPointId" in auth) and efs.get(
            "transitEncryption"
        ) != "ENABLED":
            yield f"volume '{name}'", "EFS IAM authorization and access points need transitEncryption ENABLED"
        if "accessPointId" in auth and efs.get("rootDirectory", "/") != "/":
            yield f"volume '{name}'", "with an EFS access point, rootDirectory must be '/' or left out"
    size = len(json.dumps(payload, separators=(",", ":")).encode())
    if size > MAX_DEFINITION_BYTES:
        yield "", f"the definition is {size} bytes; AWS Batch accepts at most {MAX_DEFINITION_BYTES} (24 KiB)"


def _secret_rules(container: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Secrets are references an execution role resolves; each name once, never also a plain variable."""
    secrets = container.get("secrets", [])
    if secrets and not container.get("executionRoleArn"):
        yield (
            "containerProperties.executionRoleArn",
            "secrets need an execution role that may read them (--execution-role-arn)",
        )
    plain = {str(e.get("name")) for e in container.get("environment", [])}
    seen: set[str] = set()
    for i, secret in enumerate(secrets):
        name, value = str(secret.get("name", "")), str(secret.get("valueFrom", ""))
        at = f"containerProperties.secrets[{i}]"
        if name in seen:
            yield at, f"'{name}' is given twice"
        seen.add(name)
        if name in plain:
            yield at, f"'{name}' is also a plain environment variable"
        if name.startswith(_RESERVED_ENV):
            yield at, f"names starting {_RESERVED_ENV} are reserved"
        if not (SECRETS_MANAGER_ARN.match(value) or SSM_PARAMETER_ARN.match(value)):
            yield at, f"'{value}' is not the ARN of a Secrets Manager secret or an SSM parameter"


def _fargate_rules(container: Mapping[str, Any], reqs: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    try:
        vcpus, memory = float(reqs.get("VCPU", "nan")), float(reqs.get("MEMORY", "nan"))
    except ValueError:
        return
    allowed = FARGATE_MEMORY.get(vcpus)
    if allowed is None:
        yield (
            "containerProperties.resourceRequirements",
            (
                f"FARGATE does not offer {reqs.get('VCPU')} vCPUs (choose one of "
                f"{', '.join(str(v).removesuffix('.0') for v in FARGATE_MEMORY)})"
            ),
        )
    elif memory not in allowed:
        yield (
            "containerProperties.resourceRequirements",
            (
                f"FARGATE with {reqs.get('VCPU')} vCPU does not offer {reqs.get('MEMORY')} MiB "
                f"(choose one of {', '.join(map(str, allowed))})"
            ),
        )
    if "GPU" in reqs:
        yield "containerProperties.resourceRequirements", "FARGATE has no GPUs"
    if not container.get("executionRoleArn"):
        yield "containerProperties.executionRoleArn", "FARGATE needs an execution role (--execution-role-arn)"
    linux = container.get("linuxParameters", {})
    for key in ("tmpfs", "devices", "maxSwap", "swappiness"):
        if key in linux:
            yield f"containerProperties.linuxParameters.{key}", "is not supported on FARGATE"
    for volume in container.get("volumes", []):
        if volume.get("host", {}).get("sourcePath"):
            yield f"volume '{volume.get('name')}'", "host paths are not supported on FARGATE"


def problems_in(payload: Mapping[str, Any], source: str) -> list[Problem]:
    """Every problem of one payload; ``source`` names it in messages (definition name and manifest)."""
    shape = register_job_definition_model().input_shape
    assert shape is not None
    out: list[Problem] = []
    report = ParamValidator().validate(dict(payload), shape)
    if report.has_errors():
        for line in report.generate_report().splitlines():
            out.append(Problem(source, "", f"botocore: {line.strip()}"))
    for at, message in _model_limits(payload, shape, ""):
        out.append(Problem(source, at, message))
    for at, message in _batch_rules(payload):
        out.append(Problem(source, at, message))
    return out


def render_checked(
    repo: Repository, names: Sequence[str], options: batch.BatchOptions
) -> list[batch.JobDefinition]:
    """Render the job definitions of ``names`` (every component when empty) and check each with
    botocore's model; raises before anything is written or sent."""
    definitions = batch.render_all(repo, names, options)
    check(definitions)
    return definitions


def check(definitions: Iterable[JobDefinition]) -> None:
    """Raise one ManifestError listing every problem of every definition, or return quietly."""
    problems: list[Problem] = []
    for definition in definitions:
        problems.extend(
            problems_in(definition.payload, f"{definition.name} (from {definition.manifest_path})")
        )
    if problems:
        raise ManifestError(
            problems, hint="fix the manifest or the render options; nothing was written or sent"
        )
