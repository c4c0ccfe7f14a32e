"""Service test fixtures: a fake OIDC issuer on loopback that mints tokens, and the moto server."""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.aws.conftest import moto_url as moto_url  # re-exported: a Cognito to mint real tokens

# The GA4GH facade tests' fixtures (tests/service/facades.py), shared with every service test
from tests.service.facades import facade_client as facade_client
from tests.service.facades import facade_repo as facade_repo
from tests.service.facades import facade_server as facade_server
from tests.service.facades import facade_service as facade_service
from tests.service.lambda_client import aws_home as aws_home  # the app through its Lambda handler


@functools.cache
def rsa_key(name: str = "issuer") -> rsa.RSAPrivateKey:
    """One 2048-bit key per name for the whole session (generating one takes a noticeable moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class FakeIssuer:
    """An issuer like a Cognito user pool: ``url`` is its ``iss``, its JWKS at <url>/.well-known/jwks.json.

    ``documents`` maps request paths to what is served (JSON, or bytes as they are; change it to rotate
    keys), ``status`` forces an HTTP status on a path, ``redirects`` answers a path with a 302 to a
    location, ``delay_s`` slows every answer, ``hits`` counts requests by path.
    """

    url: str
    audience: str = "r2o-test-client"
    kid: str = "key-1"
    key: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    documents: dict[str, Any] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> str:
        return "/" + self.url.split("/", 3)[3]

    @property
    def jwks_path(self) -> str:
        return self.path + "/.well-known/jwks.json"

    def token(
        self,
        *,
        sub: Any = "sub-alice",
        token_use: str | None = "id",
        groups: list[str] | None = None,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        algorithm: str = "RS256",
        **claims: Any,
    ) -> str:
        """A signed token shaped like Cognito's (ID: aud, access: client_id); a None claim is left out."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url,
            "sub": sub,
            "token_use": token_use,
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "jti": str(uuid.uuid4()),
            ("client_id" if token_use == "access" else "aud"): self.audience,
        }
        if groups is not None:
            payload["cognito:groups"] = groups
        payload.update(claims)
        return self.sign(
            {name: value for name, value in payload.items() if value is not None}, key, kid, algorithm
        )

    def sign(
        self,
        payload: dict[str, Any],
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """Exactly these claims, signed (by default with the issuer's key, under its kid)."""
        return jwt.encode(payload, key or self.key, algorithm=algorithm, headers={"kid": kid or self.kid})


@pytest.fixture
def oidc_issuer() -> Iterator[FakeIssuer]:
    """A fake issuer served from a thread on a loopback port, for this test only."""
    issuer = FakeIssuer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with issuer.lock:
                issuer.hits[self.path] += 1
                status = issuer.status.get(self.path, 200 if self.path in issuer.documents else 404)
                document = issuer.documents.get(self.path, {})
                location = issuer.redirects.get(self.path)
            time.sleep(issuer.delay_s)
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            self.send_response(302 if location else status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}/us-east-1_TestPool"
    issuer.documents[issuer.jwks_path] = {"keys": [public_jwk(issuer.key, issuer.kid)]}
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="fake-oidc-issuer", daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
