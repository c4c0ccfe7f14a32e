"""Local services the Docker tier starts as plain processes on loopback ports (never pulled images)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REGISTRY_BINARY = Path("/usr/bin/docker-registry")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def answering(
    command: list[str],
    log: Path,
    probe: str,
    what: str,
    *,
    timeout: float = 60,
    cwd: Path | None = None,
    stop: int = signal.SIGINT,
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` in a process of its own (output to ``log``), yielded once ``probe`` (a URL) answers
    200; stopped with ``stop`` (killed if it has not ended 30 s later). A process that exits or does not
    answer within ``timeout`` fails the test with the end of its log."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{what} did not answer {probe} within {timeout:.0f} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(address: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"docker-registry exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"docker-registry did not answer on {address} within {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def local_registry(folder: Path) -> Iterator[tuple[str, Path]]:
    """Debian's docker-registry on 127.0.0.1:<free port>, storage in ``folder``; yields (address, storage).

    The engine treats loopback registries as plain HTTP, so no TLS is needed.
    """
    if not REGISTRY_BINARY.is_file():
        pytest.fail(f"{REGISTRY_BINARY} is missing; run: bash ci/engine.sh (installs docker-registry)")
    folder.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    storage = folder / "storage"
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '{address}'}}\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(REGISTRY_BINARY), "serve", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_until_up(address, proc, log)
        yield address, storage
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
