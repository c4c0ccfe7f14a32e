"""Which content tags a registry holds, asked for many images at once (the planner's question).

Each question is the one ``r2o ci node`` asks (:func:`r2o.images.engine.registry_has`: HEAD on
the manifest, the credential ``docker login`` saved), so the planner and the builds it starts
agree on what "in the registry" means. The first image is asked alone: a registry that cannot
answer (unreachable, refusing the credentials, answering neither 200 nor 404) fails the plan once,
with the registry's own reason, before a thousand requests are sent. The others are asked by a
pool of threads. A question that fails is asked once more (a dropped connection, a 5xx); when it
fails again the whole plan fails and nothing is started.

A thousand questions are a thousand HEAD requests; opening a connection (and, for ECR, a TLS
session) for each would cost more than the answers. :class:`Prober` keeps one HTTP/1.1 connection
per worker thread and asks the same question ``registry_has`` asks (the same path, Accept and
Authorization headers). Any answer but 200 or 404 is asked again through ``registry_has`` itself,
so redirects, refusals and their messages are exactly those of ``r2o ci node``.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from r2o.errors import EngineError
from r2o.images import engine
from r2o.images.engine import docker_auth, registry_has
from r2o.images.plan import ImageNode

WORKERS = 16
ATTEMPTS = 2
RETRY_PAUSE_S = 0.3
TIMEOUT_S = 10.0

Has = Callable[[str, str, str], bool]
"""(registry, repository, tag) -> whether the registry holds it; raises EngineError when it cannot tell."""


def _loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    return host in ("localhost", "[::1]", "::1") or host.startswith("127.")


class Prober:
    """``registry_has`` over kept-alive connections, one per thread (see the module docstring)."""

    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.headers = {"Accept": engine._MANIFEST_TYPES}  # the manifest types registry_has accepts
        auth = docker_auth(registry)
        if auth:
            self.headers["Authorization"] = f"Basic {auth}"
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPConnection if _loopback(self.registry) else http.client.HTTPSConnection
            conn = kind(self.registry, timeout=TIMEOUT_S)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def has(self, registry: str, repository: str, tag: str) -> bool:
        path = f"/v2/{repository}/manifests/{tag}"
        try:
            conn = self._connection()
            conn.request("HEAD", path, headers=self.headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                self._drop()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise EngineError(
                f"registry {registry} cannot be reached: {exc}",
                hint="check --registry HOST[:PORT] and that the registry runs",
            ) from exc
        if status in (200, 404):
            return status == 200
        return registry_has(registry, repository, tag, timeout=TIMEOUT_S)  # its answer, its message

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


def holds(
    registry: str,
    nodes: Sequence[ImageNode],
    *,
    workers: int = WORKERS,
    has: Has | None = None,
) -> Mapping[str, bool]:
    """Image name -> whether ``registry`` holds its content tag, for every node.

    Raises EngineError (naming the registry, the image and the registry's answer) when any
    question cannot be answered. ``has`` replaces the question (tests); by default a
    :class:`Prober` asks it.
    """
    if has is None:
        prober = Prober(registry)
        try:
            return holds(registry, nodes, workers=workers, has=prober.has)
        finally:
            prober.close()

    def ask(node: ImageNode) -> bool:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return has(registry, node.repository, node.tag_only)
            except EngineError:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(RETRY_PAUSE_S)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    if not nodes:
        return {}
    out = {nodes[0].name: ask(nodes[0])}
    rest = list(nodes[1:])
    if not rest:
        return out
    threads = max(1, min(workers, len(rest)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="r2o-head") as pool:
        futures = {pool.submit(ask, node): node for node in rest}
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in done:
            exc = future.exception()
            if exc is not None:
                raise exc
            out[futures[future].name] = bool(future.result())
    return out
