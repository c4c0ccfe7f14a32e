"""The service's settings on AWS, from the Lambda functions' environment (the stack renders it).

Required: ``R2O_RUNS_TABLE``, ``R2O_TASKS_TABLE``, ``R2O_UPLOADS_TABLE``, ``R2O_RESULTS_BUCKET``,
``R2O_OIDC_ISSUER``, ``R2O_OIDC_AUDIENCE`` (the app client id), ``R2O_REPO`` (the repository snapshot
in the package). With ``R2O_JOB_QUEUE`` (runs go to Batch), also ``R2O_DEFINITION_PREFIX``.
Optional: ``R2O_LOG_GROUP`` (``/aws/batch/job``), ``R2O_ADMIN_GROUP`` (``admins``),
``R2O_RESULTS_EXPIRY_DAYS`` (7), ``R2O_OIDC_JWKS_URL`` (default: the issuer's), ``R2O_MAX_DAYS``,
``R2O_QUOTA_RUNS``, ``R2O_QUOTA_VCPU_HOURS``, ``R2O_UPLOAD_MAX_MIB`` (4: a Lambda request is at most 6 MB,
a binary body arrives base64-encoded in it), ``R2O_PRICE_VCPU_HOUR``.
The AWS SDK reads the standard ``AWS_*`` variables itself (tests point ``AWS_ENDPOINT_URL`` at moto).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from r2o.errors import UsageError
from r2o.service.config import MIB, Prices, Quotas, ServiceConfig

REQUIRED = (
    "R2O_RUNS_TABLE",
    "R2O_TASKS_TABLE",
    "R2O_UPLOADS_TABLE",
    "R2O_RESULTS_BUCKET",
    "R2O_OIDC_ISSUER",
    "R2O_OIDC_AUDIENCE",
    "R2O_REPO",
)
LAMBDA_ROOT = Path("/tmp/r2o-service")  # the one writable folder of a Lambda function


@dataclass(frozen=True)
class AwsServiceConfig:
    runs_table: str
    tasks_table: str
    uploads_table: str
    results_bucket: str
    oidc_issuer: str
    oidc_audience: str
    repo: Path
    job_queue: str | None = None
    definition_prefix: str = ""
    log_group: str = "/aws/batch/job"
    admin_group: str = "admins"
    results_expiry_days: float = 7.0
    oidc_jwks_url: str | None = None
    service: ServiceConfig = field(default_factory=lambda: ServiceConfig(root=LAMBDA_ROOT, workers=1))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsServiceConfig:
        env = os.environ if env is None else env
        missing = [name for name in REQUIRED if not env.get(name)]
        if env.get("R2O_JOB_QUEUE") and not env.get("R2O_DEFINITION_PREFIX"):
            missing.append("R2O_DEFINITION_PREFIX")
        if missing:
            raise UsageError(
                f"the service's environment lacks {', '.join(missing)}",
                hint="the stack `r2o render cloudformation --service` renders sets them on each function; "
                "redeploy it (`r2o deploy --service`) or set them by hand",
            )
        base = ServiceConfig(root=LAMBDA_ROOT)
        expiry_days = _number(env, "R2O_RESULTS_EXPIRY_DAYS", 7.0, low=1 / 24, high=3650)
        return cls(
            runs_table=env["R2O_RUNS_TABLE"],
            tasks_table=env["R2O_TASKS_TABLE"],
            uploads_table=env["R2O_UPLOADS_TABLE"],
            results_bucket=env["R2O_RESULTS_BUCKET"],
            oidc_issuer=env["R2O_OIDC_ISSUER"],
            oidc_audience=env["R2O_OIDC_AUDIENCE"],
            repo=Path(env["R2O_REPO"]),
            job_queue=env.get("R2O_JOB_QUEUE") or None,
            definition_prefix=env.get("R2O_DEFINITION_PREFIX", ""),
            log_group=env.get("R2O_LOG_GROUP") or "/aws/batch/job",
            admin_group=env.get("R2O_ADMIN_GROUP") or "admins",
            results_expiry_days=expiry_days,
            oidc_jwks_url=env.get("R2O_OIDC_JWKS_URL") or None,
            service=ServiceConfig(
                root=LAMBDA_ROOT,
                workers=1,
                results_expiry_days=expiry_days,
                max_days=int(_number(env, "R2O_MAX_DAYS", base.max_days, low=1, high=3660)),
                # a Lambda's request is at most 6 MB, a binary body base64 in it: 4 MiB of file
                upload_max_bytes=int(_number(env, "R2O_UPLOAD_MAX_MIB", 4, low=1, high=5 * 1024)) * MIB,
                quotas=Quotas(
                    int(_number(env, "R2O_QUOTA_RUNS", base.quotas.concurrent_runs, low=0, high=1e6)),
                    _number(env, "R2O_QUOTA_VCPU_HOURS", base.quotas.vcpu_hours_per_month, low=0, high=1e12),
                ),
                prices=Prices(
                    vcpu_hour=_number(env, "R2O_PRICE_VCPU_HOUR", Prices().vcpu_hour, low=0, high=1e6)
                ),
            ),
        )


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise UsageError(f"{name}={raw!r} is out of range ({low:g} to {high:g})")
    return value
