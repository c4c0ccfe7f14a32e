"""The service's authentication: bearer JWTs as Cognito issues them, `--auth none`, and where it may bind."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from r2o.errors import UsageError
from r2o.service import auth as auth_module
from r2o.service.auth import AuthError, Identity, NoAuth, OidcAuth, check_bind, is_loopback
from tests.service.conftest import FakeIssuer, public_jwk, rsa_key
from tests.services import free_port


class FakeClock:
    """Monotonic seconds the test moves by hand: rate limits and cache ages without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def oidc(issuer: FakeIssuer, **options: Any) -> OidcAuth:
    return OidcAuth(issuer=issuer.url, audience=issuer.audience, **options)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def refuse(authenticator: OidcAuth, authorization: str | None) -> AuthError:
    """The AuthError for this header, checked to leak no part of the token."""
    with pytest.raises(AuthError) as caught:
        authenticator.authenticate(authorization)
    error = caught.value
    token = (authorization or "").partition(" ")[2].strip()
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in str(error) and part not in error.www_authenticate
    assert error.www_authenticate.startswith('Bearer realm="r2o"')
    return error


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWT assembled by hand, for algorithms PyJWT rightly refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def claims_of(issuer: FakeIssuer, **overrides: Any) -> dict[str, Any]:
    return jwt.decode(issuer.token(**overrides), options={"verify_signature": False})


# --- accepted tokens -------------------------------------------------------------------------------


def test_id_token_gives_the_user_their_groups_and_admin(oidc_issuer: FakeIssuer) -> None:
    token = oidc_issuer.token(groups=["admins", "forecasters"], email="alice@example.org")

    identity = oidc(oidc_issuer).authenticate(bearer(token))

    assert identity == Identity(
        user="sub-alice",
        name="alice@example.org",
        groups=("admins", "forecasters"),
        admin=True,
        token_use="id",
    )


def test_access_token_is_accepted_by_its_client_id(oidc_issuer: FakeIssuer) -> None:
    token = oidc_issuer.token(sub="sub-bob", token_use="access", groups=["forecasters"], username="bob")
    assert "aud" not in jwt.decode(token, options={"verify_signature": False})

    identity = oidc(oidc_issuer).authenticate(bearer(token))

    assert identity == Identity(
        user="sub-bob", name="bob", groups=("forecasters",), admin=False, token_use="access"
    )


def test_admin_group_is_the_configured_one(oidc_issuer: FakeIssuer) -> None:
    authenticator = oidc(oidc_issuer, admin_group="operations")

    assert authenticator.authenticate(bearer(oidc_issuer.token(groups=["operations"]))).admin
    assert not authenticator.authenticate(bearer(oidc_issuer.token(groups=["admins"]))).admin
    assert not authenticator.authenticate(bearer(oidc_issuer.token())).admin


def test_groups_fall_back_to_the_groups_claim(oidc_issuer: FakeIssuer) -> None:
    identity = oidc(oidc_issuer).authenticate(bearer(oidc_issuer.token(groups=["admins"])))
    assert identity.groups == ("admins",)

    token = oidc_issuer.sign({**claims_of(oidc_issuer), "groups": ["admins", "x"]})
    identity = oidc(oidc_issuer).authenticate(bearer(token))
    assert identity.groups == ("admins", "x") and identity.admin

    both = oidc_issuer.sign({**claims_of(oidc_issuer, groups=["readers"]), "groups": ["admins"]})
    assert oidc(oidc_issuer).authenticate(bearer(both)).groups == ("readers",)  # cognito:groups wins


@pytest.mark.parametrize(
    ("claims", "name"),
    [
        ({"email": "a@example.org", "cognito:username": "alice", "username": "al"}, "a@example.org"),
        ({"cognito:username": "alice", "username": "al"}, "alice"),
        ({"username": "al"}, "al"),
        ({"email": ""}, "sub-alice"),
        ({}, "sub-alice"),
    ],
)
def test_display_name_prefers_email_then_usernames_then_sub(
    oidc_issuer: FakeIssuer, claims: dict[str, str], name: str
) -> None:
    token = oidc_issuer.token(**claims)
    assert oidc(oidc_issuer).authenticate(bearer(token)).name == name


def test_a_token_without_token_use_needs_the_audience_in_aud(oidc_issuer: FakeIssuer) -> None:
    """A plain OIDC issuer sets no token_use; then aud alone decides."""
    authenticator = oidc(oidc_issuer)

    identity = authenticator.authenticate(bearer(oidc_issuer.token(token_use=None)))
    assert identity.token_use is None and identity.user == "sub-alice"

    listed = oidc_issuer.token(token_use=None, aud=["other-service", oidc_issuer.audience])
    assert authenticator.authenticate(bearer(listed)).user == "sub-alice"

    error = refuse(
        authenticator, bearer(oidc_issuer.token(token_use=None, aud=None, client_id="r2o-test-client"))
    )
    assert "audience" in str(error)


def test_bearer_scheme_is_case_insensitive(oidc_issuer: FakeIssuer) -> None:
    assert oidc(oidc_issuer).authenticate(f"bearer   {oidc_issuer.token()} ").user == "sub-alice"


def test_clock_leeway_accepts_a_token_that_expired_seconds_ago(oidc_issuer: FakeIssuer) -> None:
    token = oidc_issuer.token(iat=int(time.time()) - 3600, exp=int(time.time()) - 10)

    assert oidc(oidc_issuer, leeway_s=30).authenticate(bearer(token)).user == "sub-alice"
    assert "expired" in str(refuse(oidc(oidc_issuer, leeway_s=0), bearer(token)))


# --- refused tokens --------------------------------------------------------------------------------

REFUSED: dict[str, tuple[Callable[[FakeIssuer], str], str]] = {
    "wrong issuer": (lambda i: i.token(iss=i.url + "-other"), "issuer"),
    "issuer with a trailing slash": (lambda i: i.token(iss=i.url + "/"), "issuer"),
    "another pool of the same region": (
        lambda i: i.token(iss=i.url.replace("TestPool", "OtherPool")),
        "issuer",
    ),
    "wrong audience": (lambda i: i.token(aud="another-app"), "audience"),
    "audience list without ours": (lambda i: i.token(aud=["a", "b"]), "audience"),
    "wrong client_id": (lambda i: i.token(token_use="access", client_id="another-app"), "audience"),
    "access token without client_id": (lambda i: i.token(token_use="access", client_id=None), "audience"),
    "id token naming its app only in client_id": (
        lambda i: i.token(aud=None, client_id=i.audience),
        "audience",
    ),
    "aud ours but client_id another app's": (lambda i: i.token(client_id="another-app"), "audience"),
    "expired": (lambda i: i.token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "expired"),
    "nbf in the future": (lambda i: i.token(nbf=int(time.time()) + 600), "not valid yet"),
    "iat in the future": (lambda i: i.token(iat=int(time.time()) + 600), "not valid yet"),
    "iat not a number": (lambda i: i.token(iat="yesterday"), "malformed"),
    "iat after exp": (
        lambda i: i.token(iat=int(time.time()), exp=int(time.time()) - 1, nbf=None),
        "iat after exp",
    ),
    "no exp": (lambda i: i.token(exp=None), "'exp'"),
    "no iat": (lambda i: i.token(iat=None), "'iat'"),
    "no sub": (lambda i: i.token(sub=None), "'sub'"),
    "empty sub": (lambda i: i.token(sub=""), "sub"),
    "sub not a string": (lambda i: i.token(sub=42), "sub"),
    "refresh token": (lambda i: i.token(token_use="refresh"), "token_use"),
    "token_use of another kind": (lambda i: i.token(token_use=["id"]), "token_use"),
    "groups not a list": (lambda i: i.token(**{"cognito:groups": "admins"}), "groups"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_refused_claims(oidc_issuer: FakeIssuer, case: str) -> None:
    mint, says = REFUSED[case]

    error = refuse(oidc(oidc_issuer), bearer(mint(oidc_issuer)))

    assert says in str(error)
    assert error.error == "invalid_token"


def test_a_token_of_another_issuer_does_not_make_us_fetch_keys(oidc_issuer: FakeIssuer) -> None:
    refuse(oidc(oidc_issuer), bearer(oidc_issuer.token(iss="https://elsewhere.example", kid="never-seen")))
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 0


def test_a_key_of_our_issuer_signing_for_another_is_refused(oidc_issuer: FakeIssuer) -> None:
    """Every moto pool shares one key: only the issuer check tells their tokens apart."""
    other_pool = OidcAuth(
        issuer=oidc_issuer.url.replace("TestPool", "OtherPool"),
        audience=oidc_issuer.audience,
        jwks_url=oidc_issuer.url + "/.well-known/jwks.json",  # the same keys
    )
    assert "issuer" in str(refuse(other_pool, bearer(oidc_issuer.token())))


# --- algorithms: RS256 only, decided before any key is looked up ----------------------------------


def _public_pem() -> bytes:
    return (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


ALGORITHMS: dict[str, Callable[[FakeIssuer], str]] = {
    "alg none": lambda i: hand_made({"alg": "none", "kid": i.kid}, claims_of(i), lambda _: b""),
    "alg None, capitalised": lambda i: hand_made({"alg": "None", "kid": i.kid}, claims_of(i), lambda _: b""),
    "no alg": lambda i: hand_made({"kid": i.kid}, claims_of(i), lambda m: b"x"),
    # The classic confusion: HMAC keyed with the RSA public key, hoping the verifier uses it as a secret.
    "HS256 keyed with the public key PEM": lambda i: hand_made(
        {"alg": "HS256", "kid": i.kid, "typ": "JWT"},
        claims_of(i),
        lambda m: hmac.new(_public_pem(), m, hashlib.sha256).digest(),
    ),
    "HS256 keyed with the JWK's n": lambda i: hand_made(
        {"alg": "HS256", "kid": i.kid},
        claims_of(i),
        lambda m: hmac.new(public_jwk(i.key, i.kid)["n"].encode(), m, hashlib.sha256).digest(),
    ),
    "RS384 with the right key": lambda i: i.token(algorithm="RS384"),
    "RS512 with the right key": lambda i: i.token(algorithm="RS512"),
    "PS256 with the right key": lambda i: i.token(algorithm="PS256"),
    "ES256": lambda i: jwt.encode(
        claims_of(i), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": i.kid}
    ),
    "rs256 in lower case": lambda i: hand_made(
        {"alg": "rs256", "kid": i.kid}, claims_of(i), lambda m: b"not checked"
    ),
}


@pytest.mark.parametrize("case", ALGORITHMS, ids=list(ALGORITHMS))
def test_only_rs256_and_before_any_key_lookup(oidc_issuer: FakeIssuer, case: str) -> None:
    error = refuse(oidc(oidc_issuer), bearer(ALGORITHMS[case](oidc_issuer)))

    assert "RS256" in str(error)
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 0


def test_a_key_the_issuer_never_published_is_refused_under_a_known_kid(oidc_issuer: FakeIssuer) -> None:
    authenticator = oidc(oidc_issuer)
    authenticator.authenticate(bearer(oidc_issuer.token()))

    error = refuse(authenticator, bearer(oidc_issuer.token(key=rsa_key("attacker"))))

    assert "signature" in str(error)
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 1  # a known kid with a bad signature fetches nothing


def test_a_signature_altered_by_one_byte_is_refused(oidc_issuer: FakeIssuer) -> None:
    head, body, signature = oidc_issuer.token().split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 1
    assert "signature" in str(refuse(oidc(oidc_issuer), bearer(f"{head}.{body}.{b64url(bytes(raw))}")))


def test_claims_altered_after_signing_are_refused(oidc_issuer: FakeIssuer) -> None:
    head, _, signature = oidc_issuer.token().split(".")
    forged = b64url(json.dumps(claims_of(oidc_issuer, groups=["admins"])).encode())
    assert "signature" in str(refuse(oidc(oidc_issuer), bearer(f"{head}.{forged}.{signature}")))


# --- the JWKS: cached, refreshed on an unknown kid at most once per window, thread-safe -----------


def test_unknown_kids_refetch_the_jwks_at_most_once_per_window(oidc_issuer: FakeIssuer) -> None:
    clock = FakeClock()
    authenticator = oidc(oidc_issuer, jwks_min_refresh_s=10, clock=clock)
    authenticator.authenticate(bearer(oidc_issuer.token()))
    authenticator.authenticate(bearer(oidc_issuer.token()))
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 1  # cached

    clock.advance(10)
    for n in range(20):
        error = refuse(authenticator, bearer(oidc_issuer.token(kid=f"garbage-{n}")))
        assert "kid" in str(error)
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 2  # one refresh for twenty unknown kids

    clock.advance(9.5)
    refuse(authenticator, bearer(oidc_issuer.token(kid="garbage-again")))
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 2
    clock.advance(0.5)
    refuse(authenticator, bearer(oidc_issuer.token(kid="garbage-again")))
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 3

    assert authenticator.authenticate(bearer(oidc_issuer.token())).user == "sub-alice"
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 3


def test_a_rotated_key_is_fetched_when_a_token_names_it(oidc_issuer: FakeIssuer) -> None:
    clock = FakeClock()
    authenticator = oidc(oidc_issuer, jwks_min_refresh_s=10, clock=clock)
    authenticator.authenticate(bearer(oidc_issuer.token()))
    new_key = rsa_key("rotated")
    oidc_issuer.documents[oidc_issuer.jwks_path] = {"keys": [public_jwk(new_key, "key-2")]}
    clock.advance(10)

    identity = authenticator.authenticate(bearer(oidc_issuer.token(key=new_key, kid="key-2")))

    assert identity.user == "sub-alice"
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 2
    # the withdrawn key is gone with the old set
    assert "kid" in str(refuse(authenticator, bearer(oidc_issuer.token())))


def test_the_jwks_is_refetched_when_it_is_old(oidc_issuer: FakeIssuer) -> None:
    clock = FakeClock()
    authenticator = oidc(oidc_issuer, clock=clock)
    authenticator.authenticate(bearer(oidc_issuer.token()))
    oidc_issuer.documents[oidc_issuer.jwks_path] = {"keys": [public_jwk(rsa_key("rotated"), "key-2")]}

    clock.advance(auth_module.JWKS_MAX_AGE_S)

    assert "kid" in str(refuse(authenticator, bearer(oidc_issuer.token())))
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 2


def test_concurrent_requests_share_one_fetch(oidc_issuer: FakeIssuer) -> None:
    """Threads that miss the cache together wait for one fetch (no rate limit here to hide a second)."""
    authenticator = oidc(oidc_issuer, jwks_min_refresh_s=0)
    tokens = [oidc_issuer.token(sub=f"user-{n}") for n in range(32)]
    oidc_issuer.delay_s = 0.2  # the first fetch is still under way when the other threads arrive

    with ThreadPoolExecutor(max_workers=16) as pool:
        users = list(pool.map(lambda token: authenticator.authenticate(bearer(token)).user, tokens))

    assert users == [f"user-{n}" for n in range(32)]
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 1


def test_keys_are_found_through_openid_discovery_when_jwks_json_is_missing(oidc_issuer: FakeIssuer) -> None:
    oidc_issuer.documents[oidc_issuer.path + "/keys"] = oidc_issuer.documents.pop(oidc_issuer.jwks_path)
    discovery = oidc_issuer.path + "/.well-known/openid-configuration"
    oidc_issuer.documents[discovery] = {"issuer": oidc_issuer.url, "jwks_uri": oidc_issuer.url + "/keys"}
    clock = FakeClock()
    authenticator = oidc(oidc_issuer, clock=clock)

    assert authenticator.authenticate(bearer(oidc_issuer.token())).user == "sub-alice"
    clock.advance(auth_module.JWKS_MAX_AGE_S)
    assert authenticator.authenticate(bearer(oidc_issuer.token())).user == "sub-alice"

    # discovered once, then the keys are fetched from where discovery pointed
    assert (oidc_issuer.hits[oidc_issuer.jwks_path], oidc_issuer.hits[discovery]) == (1, 1)
    assert oidc_issuer.hits[oidc_issuer.path + "/keys"] == 2


@pytest.mark.parametrize(
    "document",
    [
        {"issuer": "https://another-issuer.example", "jwks_uri": "KEYS"},
        {"jwks_uri": "KEYS"},
        {"issuer": "ISSUER"},
        {"issuer": "ISSUER", "jwks_uri": "http://192.0.2.1/keys"},  # keys over plain HTTP off loopback
    ],
)
def test_a_discovery_document_that_cannot_be_trusted_is_not_used(
    oidc_issuer: FakeIssuer, document: dict[str, str]
) -> None:
    oidc_issuer.documents[oidc_issuer.path + "/keys"] = oidc_issuer.documents.pop(oidc_issuer.jwks_path)
    oidc_issuer.documents[oidc_issuer.path + "/.well-known/openid-configuration"] = {
        name: value.replace("ISSUER", oidc_issuer.url).replace("KEYS", oidc_issuer.url + "/keys")
        for name, value in document.items()
    }

    error = refuse(oidc(oidc_issuer), bearer(oidc_issuer.token()))

    assert "try again" in str(error) and error.error is None
    assert oidc_issuer.hits[oidc_issuer.path + "/keys"] == 0


def test_an_explicit_jwks_url_is_not_second_guessed(oidc_issuer: FakeIssuer) -> None:
    discovery = oidc_issuer.path + "/.well-known/openid-configuration"
    oidc_issuer.documents[discovery] = {
        "issuer": oidc_issuer.url,
        "jwks_uri": oidc_issuer.url + "/.well-known/jwks.json",
    }
    authenticator = oidc(oidc_issuer, jwks_url=oidc_issuer.url + "/missing.json")

    refuse(authenticator, bearer(oidc_issuer.token()))

    assert oidc_issuer.hits[discovery] == 0 and oidc_issuer.hits[oidc_issuer.jwks_path] == 0


def test_a_jwks_server_that_is_down_gives_a_clear_auth_error(oidc_issuer: FakeIssuer) -> None:
    started = time.monotonic()
    authenticator = oidc(oidc_issuer, jwks_url=f"http://127.0.0.1:{free_port()}/.well-known/jwks.json")

    error = refuse(authenticator, bearer(oidc_issuer.token()))

    assert "cannot reach" in str(error) and "try again" in str(error)
    assert error.error is None
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "serve",
    [
        "500",
        "not JSON",
        "a JSON string",
        "no keys list",
        "only an EC key",
        "a 1024-bit key",
        "a key for encryption",
        "a redirect",
    ],
)
def test_a_jwks_that_is_unusable_gives_a_clear_auth_error(oidc_issuer: FakeIssuer, serve: str) -> None:
    path = oidc_issuer.jwks_path
    good = public_jwk(oidc_issuer.key, oidc_issuer.kid)
    if serve == "500":
        oidc_issuer.status[path] = 500
    elif serve == "not JSON":
        oidc_issuer.documents[path] = b"<html>sign in</html>"
    elif serve == "a JSON string":
        oidc_issuer.documents[path] = "keys"
    elif serve == "no keys list":
        oidc_issuer.documents[path] = {"keys": good}
    elif serve == "only an EC key":
        oidc_issuer.documents[path] = {"keys": [{"kty": "EC", "kid": oidc_issuer.kid, "crv": "P-256"}]}
    elif serve == "a 1024-bit key":
        small = public_jwk(_small_rsa_key(), oidc_issuer.kid)
        oidc_issuer.documents[path] = {"keys": [small]}
    elif serve == "a key for encryption":
        oidc_issuer.documents[path] = {"keys": [{**good, "use": "enc"}]}
    elif serve == "a redirect":  # to good keys: only refusing to follow it makes this test pass
        oidc_issuer.documents[oidc_issuer.path + "/keys"] = oidc_issuer.documents[path]
        oidc_issuer.redirects[path] = oidc_issuer.url + "/keys"

    error = refuse(oidc(oidc_issuer), bearer(oidc_issuer.token()))

    assert "try again" in str(error)


def _small_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def test_cached_keys_keep_working_while_the_issuer_is_down(oidc_issuer: FakeIssuer) -> None:
    clock = FakeClock()
    authenticator = oidc(oidc_issuer, clock=clock)
    authenticator.authenticate(bearer(oidc_issuer.token()))
    oidc_issuer.status[oidc_issuer.jwks_path] = 503
    clock.advance(auth_module.JWKS_MAX_AGE_S)

    assert authenticator.authenticate(bearer(oidc_issuer.token())).user == "sub-alice"
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 2  # it tried
    error = refuse(authenticator, bearer(oidc_issuer.token(kid="new-key")))
    assert "cannot reach" in str(error)  # an unknown kid while the issuer is down: say so


def test_after_a_failed_first_fetch_the_issuer_is_asked_again_only_after_the_window(
    oidc_issuer: FakeIssuer,
) -> None:
    clock = FakeClock()
    authenticator = oidc(oidc_issuer, jwks_min_refresh_s=10, clock=clock)
    oidc_issuer.status[oidc_issuer.jwks_path] = 500
    for _ in range(5):
        refuse(authenticator, bearer(oidc_issuer.token()))
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 1

    del oidc_issuer.status[oidc_issuer.jwks_path]
    clock.advance(10)
    assert authenticator.authenticate(bearer(oidc_issuer.token())).user == "sub-alice"


def test_preload_fetches_the_keys_or_says_why_not(oidc_issuer: FakeIssuer) -> None:
    assert oidc(oidc_issuer).preload() == 1
    oidc_issuer.status[oidc_issuer.jwks_path] = 500
    with pytest.raises(AuthError, match="HTTP 500"):
        oidc(oidc_issuer).preload()


# --- the Authorization header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "error_code"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("Basic YWxpY2U6c2VjcmV0", "invalid_request"),
        ("Token abc.def.ghi", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer ", "invalid_request"),
        ("Bearer abcdefgh", "invalid_token"),
        ("Bearer abcdefgh.ijklmnop", "invalid_token"),
        ("Bearer abcdefgh.ijklmnop.qrstuvwx", "invalid_token"),
        ("Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig and-more", "invalid_token"),
        ("Bearer !!!!.????.####", "invalid_token"),
        ("Bearer " + "a" * 20000 + ".b.c", "invalid_token"),
    ],
)
def test_malformed_authorization_headers(
    oidc_issuer: FakeIssuer, header: str | None, error_code: str | None
) -> None:
    error = refuse(oidc(oidc_issuer), header)

    assert error.error == error_code
    assert oidc_issuer.hits[oidc_issuer.jwks_path] == 0


@pytest.mark.parametrize("part", ["header", "payload"])
def test_deeply_nested_json_is_refused_not_crashed_on(oidc_issuer: FakeIssuer, part: str) -> None:
    nested = b64url(b"[" * 5000 + b"]" * 5000)
    header = b64url(json.dumps({"alg": "RS256", "kid": oidc_issuer.kid}).encode())
    token = f"{nested}.{b64url(b'{}')}.sig" if part == "header" else f"{header}.{nested}.sig"
    assert "well-formed" in str(refuse(oidc(oidc_issuer), bearer(token)))


@pytest.mark.parametrize("deep", [False, True])
def test_a_jwks_of_deeply_nested_json_is_unusable(oidc_issuer: FakeIssuer, deep: bool) -> None:
    if deep:
        oidc_issuer.documents[oidc_issuer.jwks_path] = b"[" * 100_000 + b"]" * 100_000
    authenticator = oidc(oidc_issuer)
    if deep:
        assert "try again" in str(refuse(authenticator, bearer(oidc_issuer.token())))
    else:
        assert authenticator.authenticate(bearer(oidc_issuer.token())).user == "sub-alice"


def test_a_valid_token_with_trailing_text_is_refused(oidc_issuer: FakeIssuer) -> None:
    refuse(oidc(oidc_issuer), f"Bearer {oidc_issuer.token()} extra")


def test_www_authenticate_follows_rfc_6750() -> None:
    assert AuthError("sign in first", error=None).www_authenticate == 'Bearer realm="r2o"'
    assert AuthError('the "token" expired\n').www_authenticate == (
        'Bearer realm="r2o", error="invalid_token", error_description="the ?token? expired?"'
    )


# --- configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"issuer": "", "audience": "app"},
        {"issuer": "cognito-idp.us-east-1.amazonaws.com/pool", "audience": "app"},
        {"issuer": "https://issuer.example", "audience": ""},
        {"issuer": "https://issuer.example", "audience": "app", "admin_group": ""},
        {"issuer": "https://issuer.example", "audience": "app", "leeway_s": -1},
        {"issuer": "https://issuer.example", "audience": "app", "http_timeout_s": 0},
        # keys over plain HTTP could be swapped on the way: only HTTPS, or HTTP to this machine
        {"issuer": "http://issuer.example", "audience": "app"},
        {"issuer": "https://issuer.example", "audience": "app", "jwks_url": "http://10.0.0.5/jwks.json"},
        {"issuer": "https://issuer.example", "audience": "app", "jwks_url": "file:///etc/passwd"},
    ],
)
def test_bad_oidc_configuration_is_a_usage_error(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        OidcAuth(**options)


def test_configuration_fetches_nothing_until_a_request(oidc_issuer: FakeIssuer) -> None:
    OidcAuth(issuer="https://issuer.example", audience="app", jwks_url="https://issuer.example/k.json")
    oidc(oidc_issuer)
    assert oidc_issuer.hits.total() == 0


# --- auth none and the bind check --------------------------------------------------------------------


def test_no_auth_makes_everyone_the_local_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module.getpass, "getuser", lambda: "ana")
    no_auth = NoAuth()

    expected = Identity(user="local", name="ana", groups=(), admin=True, token_use=None)
    assert no_auth.authenticate(None) == expected
    assert no_auth.authenticate("Bearer whatever") == expected


def test_no_auth_without_a_user_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr(auth_module.getpass, "getuser", no_user)
    assert NoAuth().authenticate(None).name == "local"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "127.255.255.254",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "localhost",
        "LOCALHOST",
    ],
)
def test_auth_none_binds_to_loopback(host: str) -> None:
    check_bind(host, "none")
    check_bind(host, "oidc")


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "[::]",
        "",
        "10.0.0.5",
        "192.168.1.20",
        "::ffff:10.0.0.5",
        "fe80::1",
        "128.0.0.1",
        "0",  # inet_aton would read it as 0.0.0.0
        "127.1",  # and this as 127.0.0.1, but a bind of it is not ours to guess
        "example.org",
        "localhost.",  # a name other than exactly localhost is not looked up
        "localhost.example.org",
        "evil-localhost",
    ],
)
def test_auth_none_refuses_any_other_bind(host: str) -> None:
    with pytest.raises(UsageError, match="loopback") as caught:
        check_bind(host, "none")
    assert caught.value.exit_code == 2

    check_bind(host, "oidc")


def test_localhost_counts_only_if_it_resolves_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    def resolve(host: str, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0))]

    monkeypatch.setattr(auth_module.socket, "getaddrinfo", resolve)
    assert not is_loopback("localhost")


def test_an_unknown_auth_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        check_bind("127.0.0.1", "basic")


# --- tokens from a real Cognito (moto) ---------------------------------------------------------------

REGION = "us-east-1"
PASSWORD = "Correct-Horse-9-Battery"


def cognito(moto_url: str) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def user_pool(client: Any, name: str, users: dict[str, list[str]]) -> tuple[str, str]:
    """A pool with an app client allowing USER_PASSWORD_AUTH, an admins group and users in groups."""
    pool = client.create_user_pool(PoolName=name)["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool,
        ClientName=f"{name}-web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    client.create_group(UserPoolId=pool, GroupName="admins")
    for user, groups in users.items():
        client.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=pool, Username=user, Password=PASSWORD, Permanent=True)
        for group in groups:
            client.admin_add_user_to_group(UserPoolId=pool, Username=user, GroupName=group)
    return pool, app


def sign_in(client: Any, app: str, user: str) -> dict[str, str]:
    result = client.initiate_auth(
        ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    return {"id": result["IdToken"], "access": result["AccessToken"]}


def moto_oidc(moto_url: str, pool: str, app: str) -> OidcAuth:
    # moto signs with the iss of real Cognito, and serves the JWKS under its own address
    return OidcAuth(
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{pool}",
        audience=app,
        jwks_url=f"{moto_url}/{pool}/.well-known/jwks.json",
    )


def test_cognito_tokens_from_moto(moto_url: str) -> None:
    client = cognito(moto_url)
    pool, app = user_pool(client, "r2o-users", {"alice": ["admins"], "bob": []})
    authenticator = moto_oidc(moto_url, pool, app)
    alice, bob = sign_in(client, app, "alice"), sign_in(client, app, "bob")
    alice_sub = jwt.decode(alice["id"], options={"verify_signature": False})["sub"]

    for token_use in ("id", "access"):
        assert authenticator.authenticate(bearer(alice[token_use])) == Identity(
            user=alice_sub, name="alice", groups=("admins",), admin=True, token_use=token_use
        )
        identity = authenticator.authenticate(bearer(bob[token_use]))
        assert (identity.name, identity.groups, identity.admin) == ("bob", (), False)
        assert identity.user != alice_sub

    # the access token really is Cognito's shape: client_id, no aud
    access = jwt.decode(alice["access"], options={"verify_signature": False})
    assert "aud" not in access and access["client_id"] == app and access["token_use"] == "access"


def test_cognito_tokens_of_another_pool_or_app_are_refused(moto_url: str) -> None:
    client = cognito(moto_url)
    pool, app = user_pool(client, "r2o-users", {"alice": ["admins"]})
    other_pool, other_pool_app = user_pool(client, "another-service", {"alice": ["admins"]})
    other_app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="another-app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    authenticator = moto_oidc(moto_url, pool, app)
    # every moto pool signs with the same key: the other pool's token verifies, its issuer does not match
    from_other_pool = sign_in(client, other_pool_app, "alice")
    assert (
        jwt.get_unverified_header(from_other_pool["id"])["kid"]
        == jwt.get_unverified_header(sign_in(client, app, "alice")["id"])["kid"]
    )

    for token in from_other_pool.values():
        assert "issuer" in str(refuse(authenticator, bearer(token)))
    for token in sign_in(client, other_app, "alice").values():
        assert "audience" in str(refuse(authenticator, bearer(token)))
    assert moto_oidc(moto_url, other_pool, other_pool_app).authenticate(bearer(from_other_pool["id"])).admin


# --- verified tokens are remembered until they expire ----------------------------------------------


def test_a_verified_token_is_not_verified_again(
    oidc_issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    authenticator = oidc(oidc_issuer)
    token = oidc_issuer.token(groups=["admins"])
    first = authenticator.authenticate(bearer(token))

    def no_more(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("verified again")

    monkeypatch.setattr(auth_module.jwt, "decode", no_more)
    assert authenticator.authenticate(bearer(token)) == first
    with pytest.raises(AssertionError, match="verified again"):  # another token is checked in full
        authenticator.authenticate(bearer(oidc_issuer.token(sub="sub-bob")))


def test_a_remembered_token_still_expires(oidc_issuer: FakeIssuer) -> None:
    authenticator = oidc(oidc_issuer, leeway_s=0)
    token = oidc_issuer.token(exp=int(time.time()) + 2)
    assert authenticator.authenticate(bearer(token)).user == "sub-alice"
    time.sleep(max(0.0, int(time.time()) + 2 - time.time()) + 1.1)
    assert "expired" in str(refuse(authenticator, bearer(token)))


def test_the_remembered_tokens_are_bounded(oidc_issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module, "VERIFIED_CACHE_SIZE", 3)
    authenticator = oidc(oidc_issuer)
    tokens = [oidc_issuer.token(sub=f"sub-{n}") for n in range(5)]
    for token in tokens:
        authenticator.authenticate(bearer(token))
    assert list(authenticator._verified) == tokens[2:]  # the oldest went first
