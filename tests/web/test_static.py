"""The page's files as the app serves them (fast tier: no browser, no Docker): one route per file at
/, gzipped on request, /config.json from the authenticator, the API's own 404/405 untouched."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from r2o.repo import Repository
from r2o.service.app import WEB_DIR, create_app
from r2o.service.auth import NoAuth, OidcAuth
from r2o.service.server import Options, build

PAGE_FILES = sorted(p.name for p in WEB_DIR.iterdir() if p.suffix in (".html", ".js", ".css"))


def client(root: Path, authenticator: object) -> TestClient:
    service, _ = build(Repository(root), Options(native=True, workers=1))
    return TestClient(create_app(service, authenticator, run_workers=False))  # type: ignore[arg-type]


@pytest.fixture
def none_client(repo_copy: Path) -> TestClient:
    return client(repo_copy, NoAuth())


def test_the_page_is_served_at_the_root(none_client: TestClient) -> None:
    response = none_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (WEB_DIR / "index.html").read_text()
    assert "script-src 'self'" in response.headers["content-security-policy"]
    for name in PAGE_FILES:
        served = none_client.get(f"/{name}")
        assert served.status_code == 200, name
        assert served.content == (WEB_DIR / name).read_bytes(), name


def test_files_are_gzipped_when_the_browser_accepts_it(none_client: TestClient) -> None:
    raw = none_client.get("/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    packed = none_client.get("/app.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == raw.content  # httpx undoes the gzip: the same bytes
    assert packed.headers["vary"] == "Accept-Encoding"


def test_config_with_auth_none(none_client: TestClient) -> None:
    config = none_client.get("/config.json").json()
    assert config["auth"] == "none" and config["api_base"] == ""


def test_config_with_oidc_names_the_issuer_and_client(repo_copy: Path) -> None:
    auth = OidcAuth(issuer="https://issuer.example/pool", audience="web-client")
    config = client(repo_copy, auth).get("/config.json").json()
    assert config == {
        "auth": "oidc",
        "issuer": "https://issuer.example/pool",
        "client_id": "web-client",
        "scopes": "openid email profile",
        "api_base": "",
    }
    # the page's files need no token: only the API does
    assert client(repo_copy, auth).get("/").status_code == 200
    assert client(repo_copy, auth).get("/api/v1/me").status_code == 401


def test_the_apis_own_answers_are_unchanged(none_client: TestClient) -> None:
    missing = none_client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and "is not an endpoint" in missing.json()["message"]
    wrong_method = none_client.delete("/api/v1/products")
    assert wrong_method.status_code == 405
    assert none_client.get("/no-such-file.js").status_code == 404
    assert none_client.post("/").status_code == 405
    paths = none_client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and "/config.json" not in paths


def test_no_script_writes_markup() -> None:
    """Values reach the page as text only: no innerHTML, outerHTML, insertAdjacentHTML, document.write."""
    for name in PAGE_FILES:
        if name.endswith(".js"):
            text = (WEB_DIR / name).read_text()
            found = re.findall(
                r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", text
            )
            assert not found, (name, found)


def test_tokens_never_touch_local_storage_or_urls() -> None:
    auth = (WEB_DIR / "auth.js").read_text()
    everything = "".join((WEB_DIR / n).read_text() for n in PAGE_FILES if n.endswith(".js"))
    assert not re.search(r"localStorage\s*[.\[]", everything)
    assert "sessionStorage" in auth
    # the authorization code and state are taken out of the address bar
    assert "history.replaceState" in auth


def test_first_load_fits_the_budget() -> None:
    """Every file the page loads, gzipped, within 150 KB (benchmarks/web_load.py prints the figure)."""
    total = sum(len(gzip.compress((WEB_DIR / n).read_bytes(), 9)) for n in PAGE_FILES)
    assert total <= 150_000, total
