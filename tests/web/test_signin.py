"""Sign-in through a real OIDC provider on loopback (authorization code flow with PKCE), against
`r2o serve --auth oidc` running identity-matrix in Docker: tokens only in the tab's sessionStorage,
a 401 sends you to sign-in with your form kept, and a second user never sees the first one's runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.web.browser import (
    Server,
    build_images,
    go,
    oidc_provider,
    product_repo,
    screenshots,
    serious_violations,
    serve,
    unreachable_by_keyboard,
    wait_ready,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

CLIENT_ID = "r2o-web"
#: The provider's tokens live this long; the page refreshes 120 s before expiry (auth.js
#: REFRESH_AHEAD_S), so about 5 s after signing in. Each test signs in afresh, well within it.
TOKEN_SECONDS = 125


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with oidc_provider(["alice", "bob"], log, TOKEN_SECONDS) as url:
        yield url


@pytest.fixture(scope="module")
def server(engine: object, issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    repo = product_repo(tmp_path_factory.mktemp("web-oidc") / "repo")
    build_images(repo)
    log = tmp_path_factory.mktemp("web-oidc-log") / "serve.log"
    with serve(
        repo, log, "--auth", "oidc", "--issuer", issuer, "--audience", CLIENT_ID, "--workers", "2"
    ) as running:
        yield running


def sign_in(page: Any, user: str) -> None:
    """On the page's sign-in view: off to the provider, pick the user, back to the page."""
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=user, exact=True).click()  # the provider's one-click user
    wait_ready(page)
    page.locator("#who", has_text=f"{user}@example.org").wait_for()


def id_token(page: Any) -> str:
    return str(json.loads(page.evaluate("sessionStorage.getItem('r2o.tokens')"))["id_token"])


def test_sign_in_with_the_code_flow_and_launch(page: Any, server: Server, issuer: str) -> None:
    go(page, server.url + "/")
    assert page.locator("main h1").inner_text() == "Sign in"
    assert serious_violations(page) == []
    assert unreachable_by_keyboard(page) == []
    assert screenshots(page, "sign-in") == {"desktop": 0, "phone": 0}

    sent: dict[str, str] = {}

    def seen(request: Any) -> None:
        if "/oauth2/authorize?" in request.url:
            sent.update(parse_qsl(urlsplit(request.url).query))
        elif request.url.endswith("/oauth2/token") and request.method == "POST":
            sent.update(parse_qsl(request.post_data or ""))

    page.on("request", seen)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(issuer) + r"/oauth2/authorize\?.*code_challenge_method=S256"))
    page.get_by_role("button", name="alice", exact=True).click()
    wait_ready(page)
    # PKCE (RFC 7636): the challenge sent to the issuer is the S256 of the verifier sent with the code
    digest = hashlib.sha256(sent["code_verifier"].encode()).digest()
    assert sent["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert sent["grant_type"] == "authorization_code" and sent["client_id"] == CLIENT_ID
    assert "client_secret" not in sent
    page.locator("#who", has_text="alice@example.org").wait_for()
    assert "code=" not in page.url and "state=" not in page.url  # the code left the address bar
    assert page.evaluate("localStorage.length") == 0
    token = id_token(page)
    assert token.count(".") == 2
    assert server.api("/api/v1/me", token=token)["user"] == "alice"
    page.locator(".card h2").first.wait_for()

    go(page, f"{server.url}/#/launch/identity-matrix")
    page.fill("#f-size", "3")
    page.get_by_role("button", name="Check").click()
    page.locator(".plan-summary").wait_for()
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f]{32}$"))
    run_id = page.url.rsplit("/", 1)[1]
    page.locator("h1 .chip", has_text="complete").wait_for(timeout=180_000)
    assert server.api(f"/api/v1/runs/{run_id}", token=token)["user"] == "alice"


def test_a_401_sends_you_to_sign_in_and_keeps_the_form(page: Any, server: Server) -> None:
    go(page, server.url + "/")
    sign_in(page, "alice")
    go(page, f"{server.url}/#/launch/identity-matrix")
    page.fill("#f-run-name", "kept across sign-in")
    page.fill("#f-size", "7")
    # the service stops accepting the token (as when a session is revoked): the next call is a 401
    page.evaluate(
        """() => { const t = JSON.parse(sessionStorage.getItem('r2o.tokens'));
                   t.id_token = t.id_token.slice(0, -8) + 'AAAAAAAA';
                   sessionStorage.setItem('r2o.tokens', JSON.stringify(t)); }"""
    )
    page.get_by_role("button", name="Check").click()
    page.locator("main h1", has_text="Sign in").wait_for()
    assert "Sign in again" in page.get_by_role("alert").inner_text()
    sign_in(page, "alice")
    page.wait_for_url(re.compile(r"#/launch/identity-matrix$"))
    page.locator("#f-size").wait_for()
    assert page.locator("#f-size").input_value() == "7"
    assert page.locator("#f-run-name").input_value() == "kept across sign-in"


def test_a_second_user_does_not_see_the_first_users_runs(page: Any, server: Server, browser: Any) -> None:
    go(page, server.url + "/")
    sign_in(page, "alice")
    alice = id_token(page)
    alices = [r["id"] for r in server.api("/api/v1/runs", token=alice)["runs"]]
    assert alices, "the first test launched a run as alice"

    other = browser.new_context()
    try:
        bob_page = other.new_page()
        go(bob_page, server.url + "/")
        sign_in(bob_page, "bob")
        bob = id_token(bob_page)
        assert [r["id"] for r in server.api("/api/v1/runs", token=bob)["runs"]] == []
        go(bob_page, f"{server.url}/#/runs")
        bob_page.locator(".empty").wait_for()
        assert bob_page.locator("table.runs tbody tr").count() == 0
        go(bob_page, f"{server.url}/#/runs/{alices[0]}")
        alert = bob_page.get_by_role("alert")
        assert "another user" in alert.inner_text()
        assert alices[0] not in bob_page.locator("main").inner_text().replace(f"no run {alices[0]}", "")
    finally:
        other.close()


def test_tokens_are_refreshed_before_they_expire(page: Any, server: Server) -> None:
    answers: list[tuple[str, int]] = []

    def seen(response: Any) -> None:
        request = response.request
        if request.url.endswith("/oauth2/token") and "grant_type=refresh_token" in (request.post_data or ""):
            answers.append((request.post_data, response.status))

    page.on("response", seen)
    go(page, server.url + "/")
    sign_in(page, "alice")
    signed_in = time.monotonic()
    while not answers and time.monotonic() - signed_in < 60:
        page.wait_for_timeout(500)
    assert answers, "no refresh within a minute of signing in (tokens last 125 s)"
    sent, status = answers[0]
    assert status == 200
    fields = dict(parse_qsl(sent))
    assert fields["client_id"] == CLIENT_ID and fields["refresh_token"]
    assert time.monotonic() - signed_in < TOKEN_SECONDS
