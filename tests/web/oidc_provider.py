"""An OpenID provider for the browser tests, run as its own process (its libraries' deprecation
warnings stay out of the test process, where warnings are errors):

    python -m tests.web.oidc_provider PORT TOKEN_SECONDS USER [USER ...]

oidc-provider-mock on 127.0.0.1:PORT: authorization code flow, refresh tokens, RS256 ID tokens
(``iss`` = http://127.0.0.1:PORT, ``aud`` = the client id, ``email`` = USER@example.org, valid
TOKEN_SECONDS); each
user signs in with one click of their name. Three changes, all as Cognito does: CORS on every
answer (a page of another origin calls discovery and the token endpoint), a public client (no
secret) may exchange its code, and tokens name their signing key (``kid``, which the service
requires, as Cognito's tokens always carry one; the mock's own tokens have none). The mock does
not check the PKCE verifier against the challenge: test_signin.py checks the page's pair itself.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import werkzeug.serving

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib deprecates the authlib.jose the mock imports
    from oidc_provider_mock import User
    from oidc_provider_mock import _app as provider
    from oidc_provider_mock import app as oidc_app


KID = "mock-key-1"


def with_cors(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        extra = [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Headers", "Content-Type, Authorization"),
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
        ]
        if environ["REQUEST_METHOD"] == "OPTIONS":
            start_response("204 No Content", extra)
            return [b""]

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, headers + extra, *exc)

        return app(environ, start)

    return wrapped


def main(argv: list[str]) -> int:
    port, seconds, users = int(argv[0]), int(argv[1]), argv[2:]
    warnings.simplefilter("ignore", DeprecationWarning)
    for grant in (provider.AuthorizationCodeGrant, provider.RefreshTokenGrant):
        grant.TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]
    storage_init = provider.Storage.__init__

    def storage_with_kid(self: Any) -> None:
        storage_init(self)
        self.jwk.options["kid"] = KID  # published in the JWKS

    provider.Storage.__init__ = storage_with_kid  # type: ignore[method-assign]
    jwt_config = provider.OpenIDCode.get_jwt_config

    def config_with_kid(self: Any, grant: Any, client: object = None) -> dict[str, Any]:
        return {**jwt_config(self, grant, client), "kid": KID}  # put in the ID token's header

    provider.OpenIDCode.get_jwt_config = config_with_kid  # type: ignore[method-assign]
    flask_app = oidc_app(
        access_token_max_age=timedelta(seconds=seconds),
        user_claims=[User(sub=u, claims={"email": f"{u}@example.org"}) for u in users],
    )
    server = werkzeug.serving.make_server("127.0.0.1", port, with_cors(flask_app.wsgi_app), threaded=True)
    print(f"http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
