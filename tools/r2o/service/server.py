"""`r2o serve`: build the service from its options and run it under uvicorn until a signal stops it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from r2o.errors import UsageError
from r2o.repo import Repository
from r2o.service import tes, wes
from r2o.service.app import create_app
from r2o.service.auth import Authenticator, NoAuth, OidcAuth, check_bind
from r2o.service.config import MIB, Prices, Quotas, ServiceConfig
from r2o.service.core import Service
from r2o.service.store import SqliteStore


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 8080
    db: Path | None = None
    workers: int | None = None
    auth: str = "none"
    issuer: str | None = None
    audience: str | None = None
    admin_group: str = "admins"
    native: bool = False
    max_days: int = 31
    quota_runs: int = 4
    quota_vcpu_hours: float = 500.0
    price_vcpu_hour: float | None = None
    upload_max_mib: int = 512
    lease_s: float = 30.0


def config_of(repo: Repository, options: Options) -> ServiceConfig:
    root = repo.root / ".r2o" / "service"
    base = ServiceConfig(root=root)
    return ServiceConfig(
        root=root,
        workers=options.workers or base.workers,
        native=options.native,
        max_days=options.max_days,
        upload_max_bytes=options.upload_max_mib * MIB,
        quotas=Quotas(options.quota_runs, options.quota_vcpu_hours),
        prices=Prices(vcpu_hour=options.price_vcpu_hour) if options.price_vcpu_hour is not None else Prices(),
        db=options.db,
        lease_s=options.lease_s,
    )


def authenticator_of(options: Options) -> Authenticator:
    check_bind(options.host, options.auth)
    if options.native and options.auth != "none":
        # natively, a TES task's command would run on this host as the service's user
        raise UsageError(
            "--native runs what users send on this host, outside any container; it is for a "
            "development server of one user (--auth none, loopback)",
            hint="drop --native to run in the images' sandboxes",
        )
    if options.auth == "none":
        return NoAuth()
    if not options.issuer or not options.audience:
        raise UsageError(
            "--auth oidc needs --issuer URL and --audience CLIENT_ID",
            hint="e.g. --issuer https://cognito-idp.REGION.amazonaws.com/POOL_ID --audience APP_CLIENT_ID",
        )
    return OidcAuth(issuer=options.issuer, audience=options.audience, admin_group=options.admin_group)


def build(repo: Repository, options: Options) -> tuple[Service, Authenticator]:
    authenticator = authenticator_of(options)
    config = config_of(repo, options)
    repo.require_valid()
    store = SqliteStore(config.db_path)
    return Service(repo, store, config), authenticator


def serve(repo: Repository, options: Options, *, say: Callable[[str], None]) -> None:
    import uvicorn

    service, authenticator = build(repo, options)
    app = create_app(service, authenticator, extra_routers=(wes.make_router, tes.make_router))
    say(
        f"r2o: serving {repo.root} on http://{_url_host(options.host)}:{options.port}/ "
        f"(auth {options.auth}, {service.config.workers} worker(s), store {service.config.db_path}); "
        "stop with Ctrl-C"
    )
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", access_log=False)
    service.store.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
