"""What the GA4GH facades (WES 1.1 and TES 1.1) share: the service-info core, timestamps, absolute
URLs, and errors answered with the status codes their specs list.

Both facades translate; the rules (who sees what, quotas, cancel) stay in :mod:`r2o.service.core`.
An answer's URLs are absolute (built from the request's base URL, so they follow a proxy's
``root_path``): GA4GH clients are programs that fetch logs and outputs, not browsers on our page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from r2o import __version__
from r2o.service.core import ServiceError

GROUP = "org.ga4gh"
ORGANIZATION = "r2o"


class Ga4ghError(ServiceError):
    """A ServiceError answered with the status a GA4GH spec lists for the operation."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def statuses(mapping: Mapping[int, int], rename: Mapping[str, str] | None = None) -> Iterator[None]:
    """Answer the service's errors with the statuses a spec allows (``mapping``: ours -> theirs),
    naming fields as the spec's request does (``rename``: a field prefix of ours -> theirs)."""
    try:
        yield
    except ServiceError as exc:
        status = mapping.get(exc.status, exc.status)
        if not exc.fields:
            if status == exc.status:
                raise
            raise Ga4ghError(exc.message, status) from None
        parts = [f"{_renamed(f.field, rename or {})}: {f.message}" for f in exc.fields]
        raise Ga4ghError("the request is not valid: " + "; ".join(parts), status) from None


def _renamed(field: str, rename: Mapping[str, str]) -> str:
    for ours, theirs in rename.items():
        if field == ours or field.startswith(ours + "."):
            return theirs + field[len(ours) :]
    return field


def timestamp(t: float | None) -> str | None:
    """RFC 3339 in UTC, to the second, as WES asks ("%Y-%m-%dT%H:%M:%SZ"); TES accepts it too."""
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_url(request: Request) -> str:
    """The service's own address as the client reached it (root_path included), without a final /."""
    return str(request.base_url).rstrip("/")


def api_url(request: Request, path: str) -> str:
    """The absolute URL of an r2o API path (``path`` starts with /)."""
    return base_url(request) + path


class ServiceType(BaseModel):
    group: str = Field(examples=[GROUP])
    artifact: str = Field(examples=["wes", "tes"])
    version: str = Field(examples=["1.1.0"])


class Organization(BaseModel):
    name: str
    url: str


def service_info(
    request: Request, *, artifact: str, version: str, name: str, description: str
) -> dict[str, Any]:
    """The GA4GH service-info fields every GA4GH service answers with (id, name, type, organization,
    version, ...)."""
    base = base_url(request)
    return {
        "id": f"org.r2o.{artifact}",
        "name": name,
        "type": {"group": GROUP, "artifact": artifact, "version": version},
        "description": description,
        # r2o has no organization website of its own: the service's address is the one URL it knows
        "organization": {"name": ORGANIZATION, "url": base + "/"},
        "documentationUrl": base + "/docs",
        "version": __version__,
    }
