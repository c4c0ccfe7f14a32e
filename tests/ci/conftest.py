"""The Docker tier's local registry for the buildspec runs: Debian's docker-registry as a plain process.

Independent of tests/docker/ on purpose (each suite owns its fixtures).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY_BINARY = Path("/usr/bin/docker-registry")


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ci_registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """An empty registry on a loopback port, started and stopped by the test."""
    if not REGISTRY_BINARY.is_file():
        pytest.fail(f"{REGISTRY_BINARY} is missing; run: bash ci/engine.sh (installs docker-registry)")
    address = f"127.0.0.1:{_free_port()}"
    folder = tmp_path / "registry"
    folder.mkdir()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: '{address}'}}\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(REGISTRY_BINARY), "serve", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"docker-registry exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not answer on {address}:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield LocalRegistry(address)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
