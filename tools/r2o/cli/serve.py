"""`r2o serve`: the product service (r2o API, GA4GH WES and TES, the web page) on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from r2o.cli.context import State, err, pass_state


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free)."
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The SQLite store (default: .r2o/service/r2o.db in the repository).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Runs executed at once (default: the number of vCPUs).",
)
@click.option(
    "--auth",
    type=click.Choice(["none", "oidc"]),
    default="none",
    show_default=True,
    help="none: everyone is the local user (loopback only); oidc: bearer tokens of --issuer.",
)
@click.option("--issuer", default=None, metavar="URL", help="OIDC issuer (e.g. a Cognito user pool's URL).")
@click.option("--audience", default=None, metavar="ID", help="The app client id tokens must be issued for.")
@click.option("--admin-group", default="admins", show_default=True, help="Members see and manage every run.")
@click.option(
    "--native", is_flag=True, help="Run components on the host instead of in their images (development)."
)
@click.option(
    "--max-days",
    type=click.IntRange(1, 3660),
    default=31,
    show_default=True,
    help="The longest date range a pipeline run may ask for.",
)
@click.option(
    "--quota-runs",
    type=click.IntRange(1, 10_000),
    default=4,
    show_default=True,
    help="Runs a user may have queued or running at once.",
)
@click.option(
    "--quota-vcpu-hours",
    type=click.FloatRange(0),
    default=500.0,
    show_default=True,
    help="vCPU-hours a user may use a month.",
)
@click.option(
    "--price-vcpu-hour",
    type=click.FloatRange(0),
    default=None,
    help="Price of a vCPU-hour for cost estimates (default 0.0425 USD).",
)
@click.option(
    "--upload-max-mib",
    type=click.IntRange(1, 1 << 20),
    default=512,
    show_default=True,
    help="The largest upload accepted.",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(3, 3600),
    default=30.0,
    show_default=True,
    help="A run stays with this server this long after its last heartbeat: a killed server's runs "
    "are taken over after it.",
)
@pass_state
def command(
    state: State,
    host: str,
    port: int,
    db: Path | None,
    workers: int | None,
    auth: str,
    issuer: str | None,
    audience: str | None,
    admin_group: str,
    native: bool,
    max_days: int,
    quota_runs: int,
    quota_vcpu_hours: float,
    price_vcpu_hour: float | None,
    upload_max_mib: int,
    lease_seconds: float,
) -> int:
    """Serve the r2o API (/api/v1), GA4GH WES (/ga4gh/wes/v1) and TES (/ga4gh/tes/v1), and the web
    page, running products with the local executor. OpenAPI: /openapi.json."""
    from r2o.service.server import Options, serve

    options = Options(
        host=host,
        port=port,
        db=db,
        workers=workers,
        auth=auth,
        issuer=issuer,
        audience=audience,
        admin_group=admin_group,
        native=native,
        max_days=max_days,
        quota_runs=quota_runs,
        quota_vcpu_hours=quota_vcpu_hours,
        price_vcpu_hour=price_vcpu_hour,
        upload_max_mib=upload_max_mib,
        lease_s=lease_seconds,
    )
    serve(state.repo, options, say=lambda line: err.print(line, markup=False))
    return 0
