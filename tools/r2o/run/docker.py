"""Run a component in its image with the limits AWS Batch would apply.

The manifest's vCPUs and memory become --cpus and --memory with no extra swap (so a component
that would be OOM-killed on Batch is OOM-killed here); no network unless the manifest declares
it; read-only root with a bounded tmpfs /tmp; uid 1000 (r2o's own uid when r2o is not root); every
capability dropped; no-new-privileges; a pids limit; no file larger than the storage limit
(RLIMIT_FSIZE); inputs mounted read-only. Output is streamed from an attach socket (Docker keeps no
log of it: a flood of output must not fill the engine's disk). The runner enforces the timeout and
the storage limit by calling :meth:`Process.kill`. The image's ENTRYPOINT is kept and the manifest
command passed as its arguments, as Batch does. Containers carry labels naming the repository and
the r2o session that started them, so that the next r2o command removes those of a killed r2o.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docker.errors
import requests
from docker.models.containers import Container
from docker.types import LogConfig, Ulimit
from docker.types import Mount as DockerMount

from r2o import workspace
from r2o.errors import EngineError, RunError
from r2o.images.engine import Engine
from r2o.manifest import OUTPUT_ROOT
from r2o.run.plan import RunPlan
from r2o.run.runner import Outcome, Sink, container_uid

WAIT_CHUNK_S = 3600  # wait in hour-long requests (the client's default read timeout is 300 s)


def container_options(
    plan: RunPlan, output_dir: Path, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: the whole hardening, testable without Docker."""
    lim = plan.limits
    mounts = [
        DockerMount(target=m.container, source=str(m.host), type="bind", read_only=True) for m in plan.inputs
    ]
    mounts.append(
        DockerMount(target=OUTPUT_ROOT.as_posix(), source=str(output_dir), type="bind", read_only=False)
    )
    uid = container_uid()
    file_cap = lim.storage_mib << 20
    return {
        "image": plan.image,
        "command": list(plan.argv),
        "environment": {**plan.environment, **plan.secrets},
        "user": f"{uid}:{uid}",
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
        "ulimits": [Ulimit(name="fsize", soft=file_cap, hard=file_cap)],
        "log_config": LogConfig(type="none"),
        "init": True,
        "labels": {workspace.LABEL_COMPONENT: plan.component.name, **(labels or {})},
    }


class DockerExecutor:
    name = "docker"

    def __init__(self, engine: Engine, session: workspace.Session | None = None) -> None:
        self.engine = engine
        self.session = session
        if session is not None and engine.client is not None:
            workspace.sweep_containers(engine.client, session)

    def start(self, plan: RunPlan, output_dir: Path, sink: Sink) -> DockerProcess:
        if plan.image is None:
            raise RunError(
                f"no image to run {plan.component.name} in", hint=f"run: r2o build {plan.component.name}"
            )
        labels = self.session.labels if self.session is not None else {}
        client = self.engine.client
        try:
            container: Container = client.containers.create(**container_options(plan, output_dir, labels))
        except docker.errors.APIError as exc:
            raise EngineError(
                f"the Docker engine could not create a container for {plan.component.name}: {exc.explanation}"
            ) from exc
        try:
            return DockerProcess(container, sink, plan.component.name)
        except BaseException:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
            raise


class DockerProcess:
    """A started container: one thread streams its output to the sink, one waits for its end."""

    def __init__(self, container: Container, sink: Sink, name: str) -> None:
        self.container = container
        self.name = name
        self._status: dict[str, Any] | None = None
        self._exited = threading.Event()
        try:
            # Attached before start, as `docker run` does: nothing the component prints is missed.
            stream = container.attach(stdout=True, stderr=True, stream=True, demux=True, logs=False)
            container.start()
            container.reload()
        except docker.errors.APIError as exc:
            raise EngineError(
                f"the Docker engine failed to start {name}: {exc.explanation}",
            ) from exc
        self._pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        self._pump = threading.Thread(target=_pump, args=(stream, sink), daemon=True, name=f"r2o-out-{name}")
        self._pump.start()
        self._waiter = threading.Thread(target=self._wait_forever, daemon=True, name=f"r2o-wait-{name}")
        self._waiter.start()

    def _wait_forever(self) -> None:
        while True:
            try:
                self._status = dict(self.container.wait(timeout=WAIT_CHUNK_S))
                break
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                continue
            except docker.errors.APIError:
                break  # removed under us: outcome() reads what the engine still knows
        self._exited.set()

    def wait(self, timeout: float) -> bool:
        if not self._exited.wait(timeout):
            return False
        self._pump.join(timeout=30)  # the stream closes when the container's init exits
        return True

    def kill(self) -> None:
        # The engine's kill call takes up to a second under heavy writes, while the component goes
        # on writing (hundreds of MB past a storage limit). Killing the container's init ourselves
        # stops it at once (its PID namespace dies with it); the engine call then makes sure.
        self._kill_init()
        with contextlib.suppress(docker.errors.APIError):
            self.container.kill()

    def _kill_init(self) -> None:
        """SIGKILL the container's init directly, when it is still this container's process and we
        may signal it (r2o as root, or the container runs as r2o's own user)."""
        if not self._pid or self.container.id is None:
            return
        try:
            cgroup = Path(f"/proc/{self._pid}/cgroup").read_text()
        except OSError:
            return
        if self.container.id in cgroup:  # not a recycled pid of another process
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self._pid, signal.SIGKILL)

    def outcome(self) -> Outcome:
        state: dict[str, Any] = {}
        with contextlib.suppress(docker.errors.APIError):
            self.container.reload()
            state = self.container.attrs.get("State", {})
        code = (self._status or {}).get("StatusCode", state.get("ExitCode", -1))
        return Outcome(exit_code=int(code), oom_killed=bool(state.get("OOMKilled")))

    def close(self) -> None:
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            self.container.remove(force=True)


def _pump(stream: Iterator[tuple[bytes | None, bytes | None]], sink: Sink) -> None:
    try:
        with contextlib.suppress(requests.exceptions.RequestException, OSError):
            for out, err in stream:
                if out:
                    sink("stdout", out)
                if err:
                    sink("stderr", err)
    finally:
        close = getattr(stream, "close", None)  # docker's CancellableStream holds the attach socket
        if close is not None:
            with contextlib.suppress(Exception):
                close()
