"""Who is calling the service: a user with a bearer JWT from an OIDC issuer, or nobody at all.

Two authenticators share one small interface, :class:`Authenticator`: the API hands each request's
raw ``Authorization`` header to ``authenticate`` and gets an :class:`Identity` or an
:class:`AuthError` (HTTP 401, ``WWW-Authenticate: Bearer``).

- :class:`OidcAuth` (``--auth oidc``) verifies RS256 JWTs against the issuer's JWKS, as Amazon Cognito
  issues them: ID tokens (``aud`` = the app client id, ``token_use: id``) and access tokens (no
  ``aud``; ``client_id`` = the app client id, ``token_use: access``). The algorithm is fixed by the
  service, never chosen by the token.
- :class:`NoAuth` (``--auth none``) makes every caller the local administrator; :func:`check_bind`
  allows it only on a loopback address.

The API calls ``authenticate`` from a thread pool: both classes are thread-safe.
"""

from __future__ import annotations

import getpass
import http.client
import ipaddress
import json
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from r2o.errors import UsageError

log = logging.getLogger(__name__)

#: The one signature algorithm accepted. Cognito signs with RS256; accepting a list the token picks
#: from is how "alg: none" and RS/HS key-confusion attacks get in.
ALGORITHM = "RS256"
TOKEN_USES = frozenset({"id", "access"})
#: Cognito tokens are 1-2 KiB; anything far larger is not a token we issued, so it is refused unparsed.
MAX_TOKEN_CHARS = 16 * 1024
MAX_JWKS_BYTES = 1 << 20
MIN_RSA_BITS = 2048
#: A JWKS older than this is fetched again on the next request (Cognito rotates keys rarely; this
#: bounds how long a key the issuer withdrew stays trusted here).
JWKS_MAX_AGE_S = 3600.0
#: Verified tokens remembered (each until its exp): a user's next requests skip the RSA check.
VERIFIED_CACHE_SIZE = 4096

_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SIGN_IN = "sign in again"
_KEYS_UNREACHABLE = "the service cannot reach the sign-in service's keys right now; try again in a minute"


@dataclass(frozen=True)
class Identity:
    user: str  # stable id: the token's "sub" (or "local" with auth none)
    name: str  # display name: "email" or "cognito:username" or "username" claim, else sub
    groups: tuple[str, ...]
    admin: bool  # member of the configured admin group
    token_use: str | None = None  # "id" | "access" | None (auth none, or an OIDC token without token_use)


class AuthError(Exception):
    """The request is not authenticated: HTTP 401 with the :attr:`www_authenticate` header.

    The message is safe to show the caller: it says what to do and never contains the token or any
    other value taken from it. ``error`` is the RFC 6750 error code, None when the request carried
    no credentials at all (RFC 6750 section 3.1: then the challenge names no error).
    """

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.error = error

    def __str__(self) -> str:
        return self.message

    @property
    def www_authenticate(self) -> str:
        """The value of the ``WWW-Authenticate`` response header (RFC 6750 section 3)."""
        challenge = 'Bearer realm="r2o"'
        if self.error is not None:
            # error_description allows %x20-21 / %x23-5B / %x5D-7E only: no quote, backslash or non-ASCII
            description = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in self.message)
            challenge += f', error="{self.error}", error_description="{description}"'
        return challenge


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> Identity:
        """The caller of a request, from its raw ``Authorization`` header; :class:`AuthError` if none."""
        ...


class NoAuth:
    """``--auth none``: every caller is the local user, an administrator. Loopback binds only."""

    def __init__(self) -> None:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):  # a uid without a passwd entry (containers)
            name = "local"
        self._identity = Identity(user="local", name=name, groups=(), admin=True)

    def authenticate(self, authorization: str | None) -> Identity:
        return self._identity


class OidcAuth:
    """``--auth oidc``: bearer JWTs signed RS256 by ``issuer``, for the app client ``audience``.

    Keys come from ``jwks_url`` (default ``<issuer>/.well-known/jwks.json``, where Cognito serves
    them; if that answers 404, from the ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration``).
    They are cached in memory and fetched again when a token names an unknown key id, at most once
    every ``jwks_min_refresh_s`` (so tokens with made-up key ids cannot make the service hammer the
    issuer), and after :data:`JWKS_MAX_AGE_S`; while the issuer is unreachable, cached keys keep
    working. ``clock`` (monotonic seconds) exists for tests of that rate limit.

    Token checks: ``alg`` is RS256 (before any key lookup), the signature, ``iss`` equal to
    ``issuer``, ``exp`` and ``nbf`` and ``iat`` within ``leeway_s``, a non-empty string ``sub``,
    ``token_use`` "id" or "access" when present, and the audience: ``aud`` contains ``audience``
    (ID tokens, and tokens of other OIDC issuers) or, for an access token, ``client_id`` equals it.
    Groups come from ``cognito:groups``, else ``groups``; members of ``admin_group`` are admins.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        admin_group: str = "admins",
        jwks_url: str | None = None,
        leeway_s: float = 30,
        http_timeout_s: float = 5,
        jwks_min_refresh_s: float = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer or urlsplit(issuer).scheme not in ("http", "https") or not urlsplit(issuer).netloc:
            raise UsageError(
                f"--issuer {issuer!r} is not an http(s) URL",
                hint="give the issuer exactly as tokens carry it in 'iss', e.g. "
                "https://cognito-idp.<region>.amazonaws.com/<user pool id>",
            )
        if not audience:
            raise UsageError("--auth oidc needs --audience: the app client id tokens are issued for")
        if not admin_group:
            raise UsageError("--admin-group must not be empty")
        if not 0 <= leeway_s <= 300:
            raise UsageError(f"the clock leeway must be 0-300 s, not {leeway_s}")
        if not http_timeout_s > 0 or not jwks_min_refresh_s >= 0:
            raise UsageError("the JWKS timeout must be positive and its refresh interval not negative")
        self.issuer = issuer
        self.audience = audience
        self.admin_group = admin_group
        self.leeway_s = leeway_s
        self._keys = _KeySet(
            issuer=issuer,
            jwks_url=jwks_url,
            timeout_s=http_timeout_s,
            min_refresh_s=jwks_min_refresh_s,
            clock=clock,
        )
        # Tokens verified already, until they expire: a signed token's claims cannot change, and the
        # RSA check and claim parsing were most of a small request's CPU (benchmarks/service_load.py)
        self._verified: dict[str, tuple[Identity, float]] = {}
        self._verified_lock = threading.Lock()

    def preload(self) -> int:
        """Fetch the issuer's keys now (at startup, to report a wrong issuer early); the key count.

        Raises :class:`AuthError` when they cannot be fetched.
        """
        return self._keys.preload()

    def authenticate(self, authorization: str | None) -> Identity:
        token = _bearer_token(authorization)
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        identity, expires = self._verify(token)
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))  # the oldest entry
            self._verified[token] = (identity, expires)
        return identity

    def _verify(self, token: str) -> tuple[Identity, float]:
        """The token's identity and the time (epoch seconds) until which it stays valid."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, RecursionError) as exc:  # PyJWT wraps most; belt and braces
            raise AuthError(f"the bearer token is not a well-formed JWT; {_SIGN_IN}") from exc
        if header.get("alg") != ALGORITHM:
            raise AuthError(
                f"the token is not signed with {ALGORITHM}, the only algorithm this service accepts"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise AuthError(f"the token names no signing key (kid); {_SIGN_IN}")
        # A token of another issuer is refused before its key id can send us to fetch keys.
        if unverified.get("iss") != self.issuer:
            raise AuthError(
                f"the token was issued by another sign-in service (issuer); sign in to {self.issuer}"
            )
        claims = self._verified_claims(token, self._keys.key(kid))
        return self._identity(claims), float(claims["exp"]) + self.leeway_s

    def _verified_claims(self, token: str, key: RSAPublicKey) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=self.leeway_s,
                # aud and client_id are checked below: Cognito access tokens carry client_id, not aud
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(f"the token has expired; {_SIGN_IN}") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError(
                "the token is not valid yet (nbf or iat in the future); check this server's clock, or "
                + _SIGN_IN
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(
                f"the token was issued by another sign-in service (issuer); sign in to {self.issuer}"
            ) from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError(f"the token's signature does not match the issuer's key; {_SIGN_IN}") from exc
        except jwt.exceptions.InvalidSubjectError as exc:
            raise AuthError(f"the token names no user (sub); {_SIGN_IN}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token has no '{exc.claim}' claim; {_SIGN_IN}") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthError(f"the token is malformed; {_SIGN_IN}") from exc
        return claims

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthError(f"the token names no user (sub); {_SIGN_IN}")
        try:
            backwards = int(claims["iat"]) > int(claims["exp"])
        except (TypeError, ValueError, OverflowError):
            backwards = True  # PyJWT accepted them; an odd type here is still not a token to trust
        if backwards:
            raise AuthError(f"the token is malformed (iat after exp); {_SIGN_IN}")
        token_use = claims.get("token_use")
        if token_use is not None and (not isinstance(token_use, str) or token_use not in TOKEN_USES):
            raise AuthError(f"the token is not an ID or access token (token_use); {_SIGN_IN} to get one")
        self._check_audience(claims, token_use)
        groups = claims.get("cognito:groups", claims.get("groups", []))
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise AuthError(f"the token's groups claim is not a list of names; {_SIGN_IN}")
        name = next(
            (
                value
                for value in (claims.get("email"), claims.get("cognito:username"), claims.get("username"))
                if isinstance(value, str) and value
            ),
            sub,
        )
        return Identity(
            user=sub,
            name=name,
            groups=tuple(groups),
            admin=self.admin_group in groups,
            token_use=token_use,
        )

    def _check_audience(self, claims: Mapping[str, Any], token_use: str | None) -> None:
        refused = AuthError("the token is not for this service (audience); sign in to this service's app")
        aud = claims.get("aud")
        client_id = claims.get("client_id")
        if client_id is not None and client_id != self.audience:
            raise refused
        if aud is not None:
            audiences = [aud] if isinstance(aud, str) else aud
            if not isinstance(audiences, list) or self.audience not in audiences:
                raise refused
            return
        # No aud: only a Cognito access token, which names its app client in client_id instead.
        if token_use != "access" or client_id != self.audience:
            raise refused


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise AuthError(
            "sign in first: this service needs an 'Authorization: Bearer <token>' header", error=None
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":  # auth-scheme names are case-insensitive (RFC 9110 11.1)
        raise AuthError(
            "the Authorization header must use the Bearer scheme: 'Authorization: Bearer <token>'",
            error="invalid_request",
        )
    token = token.strip(" ")
    if not token:
        raise AuthError(
            f"the Authorization header has no token after 'Bearer'; {_SIGN_IN}", error="invalid_request"
        )
    if len(token) > MAX_TOKEN_CHARS or not _JWT_SHAPE.fullmatch(token):
        raise AuthError(f"the bearer token is not a well-formed JWT; {_SIGN_IN}")
    return token


class _Unavailable(Exception):
    """The JWKS could not be fetched or held no usable key (the message goes to the log)."""


class _NotFound(_Unavailable):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The key URL is configuration: a redirect elsewhere is refused rather than followed.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _KeySet:
    """The issuer's RS256 public keys by key id: fetched lazily, cached, refreshed rate-limited."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None,
        timeout_s: float,
        min_refresh_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._issuer = issuer
        self._url = jwks_url or issuer.rstrip("/") + "/.well-known/jwks.json"
        _check_key_url(self._url)
        self._discover = jwks_url is None  # an explicitly configured URL is never second-guessed
        self._timeout_s = timeout_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        # Readers take self._keys without a lock (one reference, replaced whole); fetches, and the
        # rate limit's state, are serialized by _fetch_lock, so concurrent requests for a new key
        # id wait for one fetch instead of each making their own.
        self._keys: Mapping[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._failing = False
        self._fetch_lock = threading.Lock()
        self._opener = urllib.request.build_opener(_NoRedirect())

    def preload(self) -> int:
        with self._fetch_lock:
            self._last_attempt = self._clock()
            try:
                self._keys = self._fetch()
            except _Unavailable as exc:
                self._failing = True
                raise AuthError(
                    f"cannot fetch the sign-in service's keys from {self._url}: {exc}", error=None
                ) from exc
            self._fetched_at = self._last_attempt
            self._failing = False
            return len(self._keys)

    def key(self, kid: str) -> RSAPublicKey:
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        with self._fetch_lock:
            if kid in self._keys and not self._stale():  # another thread fetched while this one waited
                return self._keys[kid]
            now = self._clock()
            if self._last_attempt is None or now - self._last_attempt >= self._min_refresh_s:
                self._last_attempt = now
                try:
                    self._keys = self._fetch()
                    self._fetched_at = now
                    self._failing = False
                except _Unavailable as exc:
                    log.warning("cannot fetch the JWKS of %s from %s: %s", self._issuer, self._url, exc)
                    self._failing = True
            if kid in self._keys:  # possibly stale: better than refusing everyone while the issuer is down
                return self._keys[kid]
            if self._failing:  # the last attempt failed; one may be tried again after min_refresh_s
                raise AuthError(_KEYS_UNREACHABLE, error=None)
            raise AuthError(f"the token's signing key (kid) is not one of the issuer's keys; {_SIGN_IN}")

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= JWKS_MAX_AGE_S

    def _fetch(self) -> dict[str, RSAPublicKey]:
        try:
            document = self._get_json(self._url)
        except _NotFound:
            if not self._discover:
                raise
            self._url = self._discovered_jwks_url()
            document = self._get_json(self._url)
        return _rsa_keys(document)

    def _discovered_jwks_url(self) -> str:
        config = self._get_json(self._issuer.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(config, dict) or config.get("issuer") != self._issuer:
            # OpenID Connect Discovery 1.0 section 4.3: the document's issuer must be ours exactly.
            raise _Unavailable("the openid-configuration names another issuer")
        url = config.get("jwks_uri")
        if not isinstance(url, str):
            raise _Unavailable("the openid-configuration has no jwks_uri")
        try:
            _check_key_url(url)
        except UsageError as exc:
            raise _Unavailable(str(exc)) from exc
        return url

    def _get_json(self, url: str) -> Any:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                body = response.read(MAX_JWKS_BYTES + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 404:
                raise _NotFound(f"{url} answered 404") from exc
            raise _Unavailable(f"{url} answered HTTP {exc.code}") from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, timeouts, resets, bad URLs
            raise _Unavailable(f"{url}: {exc}") from exc
        if len(body) > MAX_JWKS_BYTES:
            raise _Unavailable(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _Unavailable(f"{url} did not answer JSON") from exc


def _rsa_keys(document: Any) -> dict[str, RSAPublicKey]:
    """The usable RS256 signature keys of a JWKS by kid; any other key is skipped, not an error."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _Unavailable("the JWKS has no 'keys' list")
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue
        if (
            entry.get("kty") != "RSA"
            or entry.get("use", "sig") != "sig"
            or entry.get("alg", ALGORITHM) != ALGORITHM
        ):
            continue
        try:
            key = RSAAlgorithm.from_jwk(entry)
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            continue
        if isinstance(key, RSAPrivateKey):  # a JWKS that publishes a private key: use its public half
            key = key.public_key()
        if key.key_size >= MIN_RSA_BITS:
            keys[kid] = key
    if not keys:
        raise _Unavailable(f"the JWKS has no RS256 signing key of at least {MIN_RSA_BITS} bits")
    return keys


def _check_key_url(url: str) -> None:
    """Keys fetched over plain HTTP could be swapped by anyone on the path: HTTPS, or HTTP on loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise UsageError(
        f"the JWKS URL {url!r} is neither https nor http on a loopback address",
        hint="signing keys fetched over plain HTTP could be replaced by anyone on the network path",
    )


def is_loopback(host: str) -> bool:
    """True when binding ``host`` can only accept connections from this machine.

    IP literals are judged as written (``[::1]`` brackets allowed; IPv4-mapped IPv6 as its IPv4).
    Of names, only ``localhost`` is accepted, and only when every address it resolves to (through
    /etc/hosts, without DNS) is loopback; any other name is refused unresolved, since a DNS answer
    could change between this check and the bind.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped.is_loopback
        return address.is_loopback
    if host.lower() != "localhost":
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(is_loopback(str(address)) for address in addresses)


def check_bind(host: str, auth: str) -> None:
    """Refuse ``--auth none`` on any address but loopback: it makes every caller an administrator."""
    if auth == "oidc":
        return
    if auth != "none":
        raise UsageError(
            f"unknown --auth {auth!r}", hint="use --auth oidc, or --auth none on a loopback address"
        )
    if not is_loopback(host):
        raise UsageError(
            f"--auth none serves every caller as an administrator, so it binds only to a loopback address; "
            f"--host {host!r} is not one",
            hint="bind to 127.0.0.1 (the default), ::1 or localhost, or sign users in with "
            "--auth oidc --issuer URL --audience CLIENT_ID",
        )
