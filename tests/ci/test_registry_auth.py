"""registry_has sends the credential `docker login` saved (how CodeBuild nodes reach ECR)."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from r2o.errors import EngineError
from r2o.images.engine import docker_auth, registry_has

TOKEN = base64.b64encode(b"AWS:secret-token").decode()


class _Registry(http.server.BaseHTTPRequestHandler):
    """HEAD /v2/<name>/manifests/<tag>: 401 without the right Basic credential, 200 for tag 'yes'."""

    def do_HEAD(self) -> None:
        if self.headers.get("Authorization") != f"Basic {TOKEN}":
            self.send_response(401)
        elif self.path.endswith("/manifests/yes"):
            self.send_response(200)
        else:
            self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _login(config_dir: Path, registry: str, key: str | None = None) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {key or registry: {"auth": TOKEN}}}))


def test_without_login_the_hint_says_how(
    registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    with pytest.raises(EngineError, match="answered 401") as info:
        registry_has(registry, "alpha", "yes")
    assert "aws ecr get-login-password" in str(info.value)


def test_with_login(registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _login(tmp_path / "docker", registry)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    assert registry_has(registry, "alpha", "yes")
    assert not registry_has(registry, "alpha", "no")


def test_auth_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_auth("reg.example.invalid") is None
    _login(tmp_path, "reg.example.invalid", key="https://reg.example.invalid")
    assert docker_auth("reg.example.invalid") == TOKEN
    (tmp_path / "config.json").write_text("not json")
    assert docker_auth("reg.example.invalid") is None
