"""Run a component in its image with the limits AWS Batch would apply.

The manifest's vCPUs and memory become --cpus and --memory with no extra swap (so a component
that would be OOM-killed on Batch is OOM-killed here); no network unless the manifest declares
it; read-only root with a tmpfs /tmp; uid 1000; every capability dropped; no-new-privileges; a
pids limit; inputs mounted read-only; the timeout enforced by stopping the container. The image's
ENTRYPOINT is kept and the manifest command passed as its arguments, as Batch does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import docker.errors
import requests
from docker.models.containers import Container
from docker.types import Mount as DockerMount

from r2o.errors import EngineError, RunError
from r2o.images.engine import Engine
from r2o.manifest import OUTPUT_ROOT
from r2o.run.plan import RunPlan
from r2o.run.runner import Echo, Execution

CONTAINER_USER = "1000:1000"


def container_options(plan: RunPlan, output_dir: Path) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: the whole hardening, testable without Docker."""
    lim = plan.limits
    mounts = [
        DockerMount(target=m.container, source=str(m.host), type="bind", read_only=True) for m in plan.inputs
    ]
    mounts.append(
        DockerMount(target=OUTPUT_ROOT.as_posix(), source=str(output_dir), type="bind", read_only=False)
    )
    return {
        "image": plan.image,
        "command": list(plan.argv),
        "environment": dict(plan.environment),
        "user": CONTAINER_USER,
        "network_mode": "bridge" if lim.network else "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={lim.tmpfs_mib}m"},
        "mounts": mounts,
        "nano_cpus": int(lim.vcpus * 1e9),
        "mem_limit": f"{lim.memory_mib}m",
        "memswap_limit": f"{lim.memory_mib}m",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": lim.pids,
        "init": True,
        "labels": {"org.r2o.component": plan.component.name},
    }


class DockerExecutor:
    name = "docker"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def execute(self, plan: RunPlan, output_dir: Path, echo: Echo | None) -> Execution:
        if plan.image is None:
            raise RunError(
                f"no image to run {plan.component.name} in", hint=f"run: r2o build {plan.component.name}"
            )
        client = self.engine.client
        try:
            container: Container = client.containers.create(**container_options(plan, output_dir))
        except docker.errors.APIError as exc:
            raise EngineError(
                f"the Docker engine could not create a container for {plan.component.name}: {exc.explanation}"
            ) from exc
        chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        start = time.monotonic()
        try:
            stream = container.attach(stdout=True, stderr=True, stream=True, demux=True, logs=True)
            container.start()
            reader = threading.Thread(target=_pump, args=(stream, chunks, echo), daemon=True)
            reader.start()
            timed_out = False
            try:
                status = container.wait(timeout=plan.limits.timeout_s)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                timed_out = True
                container.kill()
                status = container.wait(timeout=60)
            reader.join(timeout=30)
            container.reload()
            state = container.attrs.get("State", {})
            return Execution(
                exit_code=int(status.get("StatusCode", state.get("ExitCode", -1))),
                stdout=b"".join(chunks["stdout"]),
                stderr=b"".join(chunks["stderr"]),
                seconds=time.monotonic() - start,
                oom_killed=bool(state.get("OOMKilled")),
                timed_out=timed_out,
            )
        except docker.errors.APIError as exc:
            raise EngineError(
                f"the Docker engine failed while running {plan.component.name}: {exc.explanation}"
            ) from exc
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


def _pump(stream: object, chunks: dict[str, list[bytes]], echo: Echo | None) -> None:
    for out, err in stream:  # type: ignore[attr-defined]
        if out:
            chunks["stdout"].append(out)
            if echo is not None:
                echo("stdout", out)
        if err:
            chunks["stderr"].append(err)
            if echo is not None:
                echo("stderr", err)
