"""The Docker engine and OCI registries, through the Docker SDK for Python (never shell strings)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
from docker.models.images import Image

from r2o.errors import BuildError, EngineError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ENGINE_HINT = "start one with: bash ci/engine.sh (installs Debian's docker.io and starts dockerd)"
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


class Engine:
    """A connected Docker engine."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    @classmethod
    def connect(cls) -> Engine:
        try:
            client = docker.from_env(timeout=300)
            client.ping()
        except docker.errors.DockerException as exc:
            raise EngineError(f"no Docker engine answers: {exc}", hint=ENGINE_HINT) from exc
        return cls(client)

    def close(self) -> None:
        """Close the engine's connections (a long-lived service connects once per run)."""
        self.client.close()

    def image(self, ref: str) -> Image | None:
        try:
            return self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"the Docker engine failed to look up {ref}: {exc.explanation}") from exc

    def has_local(self, ref: str) -> bool:
        return self.image(ref) is not None

    def build(
        self,
        *,
        context: IO[bytes],
        dockerfile: str,
        tag: str,
        buildargs: dict[str, str],
        labels: dict[str, str],
        on_line: Callable[[str], None],
    ) -> list[str]:
        """Build from a tar ``context``; stream log lines to ``on_line``; return the whole log.

        A failed build raises BuildError naming the failing step and the last lines of its log.
        """
        log: list[str] = []
        step = ""
        try:
            stream: Iterator[dict[str, Any]] = self.client.api.build(
                fileobj=context,
                custom_context=True,
                encoding="identity",
                dockerfile=dockerfile,
                tag=tag,
                buildargs=buildargs,
                labels=labels,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for chunk in stream:
                if "stream" in chunk:
                    for raw in str(chunk["stream"]).splitlines():
                        line = _ANSI.sub("", raw).rstrip()
                        if not line:
                            continue
                        if line.startswith("Step "):
                            step = line
                        log.append(line)
                        on_line(line)
                if "error" in chunk:
                    message = str(chunk.get("error", "")).strip()
                    log.append(message)
                    tail = "\n".join(f"    | {ln}" for ln in log[-25:])
                    raise BuildError(
                        f"building {tag} failed at {step or 'the first step'}:\n    {message}\n"
                        f"  last lines of the build log:\n{tail}",
                        hint="fix the Dockerfile or the step's command; rerun with: r2o build NAME",
                    )
        except docker.errors.APIError as exc:
            raise BuildError(f"the Docker engine refused to build {tag}: {exc.explanation}") from exc
        return log

    def tag(self, source: str, ref: str) -> None:
        image = self.image(source)
        if image is None:
            raise EngineError(f"cannot tag {source}: no such local image")
        repository, _, tag = ref.rpartition(":")
        image.tag(repository, tag)

    def push(self, ref: str, on_line: Callable[[str], None]) -> None:
        repository, _, tag = ref.rpartition(":")
        try:
            for chunk in self.client.images.push(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk:
                    raise BuildError(
                        f"pushing {ref} failed: {chunk['error']}",
                        hint="check the registry is reachable and accepts pushes",
                    )
                status = chunk.get("status")
                if status and "id" not in chunk:
                    on_line(str(status))
        except docker.errors.APIError as exc:
            raise BuildError(f"pushing {ref} failed: {exc.explanation}") from exc

    def pull(self, ref: str) -> None:
        repository, _, tag = ref.rpartition(":")
        try:
            self.client.images.pull(repository, tag=tag)
        except docker.errors.APIError as exc:
            raise EngineError(f"pulling {ref} failed: {exc.explanation}") from exc

    def remove(self, ref: str) -> None:
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.remove(ref, force=True)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(\[[0-9A-Fa-f:.]+\]|{_LABEL}(?:\.{_LABEL})*)"
_REGISTRY = re.compile(_HOST + r"(?::(\d{1,5}))?((?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)")


def registry_problem(value: str) -> str:
    """What is wrong with a registry address given as HOST[:PORT][/PATH] ("" when nothing)."""
    if "://" in value:
        scheme, _, rest = value.partition("://")
        example = rest.rstrip("/")
        return f"'{value}' has a scheme ({scheme}://); give the registry without a scheme, e.g. {example}"
    match = _REGISTRY.fullmatch(value)
    if match is None:
        return (
            f"'{value}' is not a registry address: HOST[:PORT][/PATH] with a host name or address, "
            "no spaces (e.g. 127.0.0.1:5000 or 123456789012.dkr.ecr.us-east-1.amazonaws.com)"
        )
    port = match.group(2)
    if port is not None and not 1 <= int(port) <= 65535:
        return f"'{value}': port {port} is outside 1-65535"
    return ""


def registry_has(registry: str, repository: str, tag: str, *, timeout: float = 10.0) -> bool:
    """Whether ``registry`` (host[:port], plain HTTP for loopback) holds ``repository:tag``.

    Uses the OCI distribution API (HEAD /v2/<name>/manifests/<tag>), so no image is pulled.
    """
    scheme = "http" if _is_loopback(registry) else "https"
    url = f"{scheme}://{registry}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": _MANIFEST_TYPES}
    auth = docker_auth(registry)
    if auth:
        headers["Authorization"] = f"Basic {auth}"
    request = urllib.request.Request(url, method="HEAD", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the response's socket open
        if exc.code == 404:
            return False
        hint = "check the registry address and credentials"
        if exc.code in (401, 403):
            hint = (
                "log docker in to the registry first (for ECR: aws ecr get-login-password | "
                "docker login --username AWS --password-stdin REGISTRY); r2o reads that credential"
            )
        raise EngineError(
            f"registry {registry} answered {exc.code} for {repository}:{tag}", hint=hint
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise EngineError(
            f"registry {registry} cannot be reached: {exc}",
            hint="check --registry HOST[:PORT] and that the registry runs",
        ) from exc


def docker_auth(registry: str) -> str | None:
    """The base64 ``user:password`` that ``docker login REGISTRY`` saved, if it saved one in config.json.

    ECR accepts it as HTTP Basic auth (user AWS, password from ``aws ecr get-login-password``).
    Credentials kept by a credential helper (credsStore) are not read.
    """
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        config = json.loads((config_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    for key in (registry, f"https://{registry}", f"http://{registry}"):
        entry = auths.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str) and entry["auth"]:
            return str(entry["auth"])
    return None


def registry_catalog(registry: str) -> list[str]:
    scheme = "http" if _is_loopback(registry) else "https"
    with urllib.request.urlopen(f"{scheme}://{registry}/v2/_catalog", timeout=10) as response:
        data = json.load(response)
    return list(data.get("repositories", []))


def _is_loopback(registry: str) -> bool:
    host = registry
    if host.startswith("["):  # [IPv6]:port
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        host = host.rsplit(":", 1)[0]
    return host in ("localhost", "::1") or host.startswith("127.")
