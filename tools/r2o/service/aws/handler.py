"""The service's Lambda entry points (the stack names them ``r2o.service.aws.handler.<function>``).

- :func:`api`: API Gateway HTTP API (payload 2.0) -> the same FastAPI app ``r2o serve`` runs
  (:func:`r2o.service.app.create_app`), through mangum. No endpoint has a second implementation.
- :func:`batch_event`: EventBridge "Batch Job State Change" -> :func:`r2o.service.aws.events.handle`.
- :func:`reconcile`: EventBridge schedule -> :func:`r2o.service.aws.reconcile.run_once`.

Everything is built once per Lambda container (on its first invocation) from
:meth:`AwsServiceConfig.from_env`: the DynamoDB store, the S3 blobs, the Batch executor, the OIDC
authenticator (Cognito's ID and access tokens; admins from ``cognito:groups``). The Batch module is
imported only when a queue is configured; tests inject their own executor through :func:`build_app`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from r2o.repo import Repository
from r2o.service import tes, wes
from r2o.service.app import create_app
from r2o.service.auth import Authenticator, OidcAuth
from r2o.service.aws.config import AwsServiceConfig
from r2o.service.aws.dynamo import DynamoStore
from r2o.service.aws.s3blobs import S3Blobs
from r2o.service.blobs import Blobs
from r2o.service.catalog import Catalog
from r2o.service.core import Service
from r2o.service.executor import Executor
from r2o.service.store import Store

if TYPE_CHECKING:
    from fastapi import FastAPI

    from r2o.service.aws.batch import BatchExecutor


@functools.cache
def config() -> AwsServiceConfig:
    return AwsServiceConfig.from_env()


def _client(name: str) -> Any:
    import boto3
    from botocore.config import Config

    # SigV4 presigned URLs (X-Amz-Expires, at most 7 days), whatever the SDK's default for S3 is
    config = Config(signature_version="s3v4") if name == "s3" else None
    return boto3.client(name, config=config)  # type: ignore[call-overload]


def store(cfg: AwsServiceConfig | None = None) -> DynamoStore:
    cfg = cfg or config()
    return DynamoStore(
        _client("dynamodb"),
        runs_table=cfg.runs_table,
        tasks_table=cfg.tasks_table,
        uploads_table=cfg.uploads_table,
        expiry_days=cfg.results_expiry_days,
    )


def s3_blobs(cfg: AwsServiceConfig | None = None) -> S3Blobs:
    cfg = cfg or config()
    return S3Blobs(_client("s3"), cfg.results_bucket, expiry_days=cfg.results_expiry_days)


@functools.cache
def repository() -> Repository:
    return Repository(config().repo)


@functools.cache
def catalog() -> Catalog:
    return Catalog(repository(), max_days=config().service.max_days)


def batch_executor(
    cfg: AwsServiceConfig, repo: Repository, db: DynamoStore, products: Catalog
) -> BatchExecutor:
    from r2o.service.aws.batch import BatchExecutor, BatchSettings

    if not cfg.job_queue:
        from r2o.errors import UsageError

        raise UsageError("R2O_JOB_QUEUE is not set: the service has no Batch queue to run its runs on")
    settings = BatchSettings(
        queue=cfg.job_queue,
        bucket=cfg.results_bucket,
        definition_prefix=cfg.definition_prefix,
        log_group=cfg.log_group,
    )
    return BatchExecutor(
        repo, db, products, settings, batch=_client("batch"), s3=_client("s3"), logs=_client("logs")
    )


@functools.cache
def executor() -> BatchExecutor:
    """The Batch executor of this container (the events and reconciler functions use it too)."""
    return batch_executor(config(), repository(), store(), catalog())


def authenticator(cfg: AwsServiceConfig) -> Authenticator:
    return OidcAuth(
        issuer=cfg.oidc_issuer,
        audience=cfg.oidc_audience,
        admin_group=cfg.admin_group,
        jwks_url=cfg.oidc_jwks_url,
    )


def build_app(
    cfg: AwsServiceConfig | None = None,
    *,
    make_executor: Callable[[Repository, Store, Catalog], Executor] | None = None,
    blobs: Blobs | None = None,
    auth: Authenticator | None = None,
) -> FastAPI:
    """The service app as it runs in Lambda. Tests replace the Batch executor (``make_executor``,
    given the app's repository, store and catalog), the S3 blobs and the authenticator."""
    cfg = cfg or config()
    repo = Repository(cfg.repo)
    products = Catalog(repo, max_days=cfg.service.max_days)
    db = store(cfg)
    run_with = (make_executor or functools.partial(batch_executor, cfg))(repo, db, products)
    service = Service(
        repo, db, cfg.service, executor=run_with, blobs=blobs or s3_blobs(cfg), catalog=products
    )
    return create_app(
        service,
        auth or authenticator(cfg),
        extra_routers=(wes.make_router, tes.make_router),
        run_workers=False,  # a Lambda runs nothing in the background: the executor submits on wake()
    )


@functools.cache
def _api_handler() -> Any:
    from mangum import Mangum

    return Mangum(build_app(), lifespan="off", api_gateway_base_path="/")


def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0) -> the service app."""
    answer: dict[str, Any] = _api_handler()(event, context)
    return answer


def batch_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge "Batch Job State Change" -> the task's and the run's states."""
    from r2o.service.aws import events

    return events.handle(event, executor())


def reconcile(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge schedule -> runs whose events were lost, or whose jobs Batch forgot, settled."""
    from r2o.service.aws import reconcile as reconciler

    return reconciler.run_once(executor())
