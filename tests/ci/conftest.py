"""The Docker tier's local registry for the buildspec runs: Debian's docker-registry as a plain process.

Independent of tests/docker/ on purpose (each suite owns its fixtures).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import local_registry


@dataclass(frozen=True)
class LocalRegistry:
    address: str  # 127.0.0.1:PORT

    def _get(self, path: str) -> dict[str, object]:
        with urllib.request.urlopen(f"http://{self.address}{path}", timeout=10) as response:
            data: dict[str, object] = json.load(response)
            return data

    def repositories(self) -> list[str]:
        return sorted(self._get("/v2/_catalog")["repositories"])  # type: ignore[call-overload]

    def tags(self, repository: str) -> list[str]:
        return sorted(self._get(f"/v2/{repository}/tags/list")["tags"])  # type: ignore[call-overload]


@pytest.fixture
def ci_registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """An empty registry on a loopback port, started and stopped by the test."""
    with local_registry(tmp_path / "registry") as (address, _storage):
        yield LocalRegistry(address)
