"""Which content tags a registry holds, asked for many images at once (the planner's question).

Each question is the one ``r2o ci node`` asks (:func:`r2o.images.engine.registry_has`: HEAD on
the manifest, the credential ``docker login`` saved), so the planner and the builds it starts
agree on what "in the registry" means. The first image is asked alone: a registry that cannot
answer (unreachable, refusing the credentials, answering neither 200 nor 404) fails the plan once,
with the registry's own reason, before a thousand requests are sent. The others are asked by a
pool of threads. A question that fails is asked once more (a dropped connection, a 5xx); when it
fails again the whole plan fails and nothing is started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from r2o.errors import EngineError
from r2o.images.engine import registry_has
from r2o.images.plan import ImageNode

WORKERS = 32
ATTEMPTS = 2
RETRY_PAUSE_S = 0.3

Has = Callable[[str, str, str], bool]
"""(registry, repository, tag) -> whether the registry holds it; raises EngineError when it cannot tell."""


def holds(
    registry: str,
    nodes: Sequence[ImageNode],
    *,
    workers: int = WORKERS,
    has: Has = registry_has,
) -> Mapping[str, bool]:
    """Image name -> whether ``registry`` holds its content tag, for every node.

    Raises EngineError (naming the registry, the image and the registry's answer) when any
    question cannot be answered.
    """

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
