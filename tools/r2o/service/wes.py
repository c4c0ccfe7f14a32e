"""GA4GH WES facade (being written)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from r2o.service.auth import Identity
from r2o.service.core import Service


def make_router(service: Service, identity: Callable[[Request], Identity]) -> APIRouter:
    return APIRouter()


__all__: list[Any] = ["make_router"]
