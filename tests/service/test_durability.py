"""Durability of `r2o serve` as a real process: killed with SIGKILL mid-way and started again on the same
store, and two servers sharing one store.

Runs execute natively: a ``sleeper`` component sleeps, and notes each start and end in a file outside
its output (native runs may write anywhere; the note is something r2o cannot write for it). What is
checked, against the store as the API shows it and against those notes:

- every run whose POST was answered 201 before the kill exists after it and ends COMPLETE, its task
  COMPLETE too;
- no run and no task ever moved backwards, in states sampled through the API while it all happened;
- a task whose result was committed to the task cache before the kill never starts again (a task the
  kill interrupted runs again: nothing of it was recorded);
- two servers on one store execute each run exactly once (leases).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from r2o.service import states
from tests.conftest import git
from tests.services import free_port

pytestmark = pytest.mark.integration

SLEEPER = '''"""Sleeps; notes its start and end in {marker!r} (a test fixture: native runs only)."""
import os, sys, time

n, seconds = int(sys.argv[1]), float(sys.argv[2])


def note(what):
    with open({marker!r}, "a") as fh:  # one short line per write: appends never interleave
        fh.write(f"{{what}} {{n}} {{os.getpid()}} {{os.getppid()}} {{time.time():.6f}}\\n")


note("start")
time.sleep(seconds)
print(f"task {{n}} slept {{seconds}} s")
note("end")
'''
RUN_RANK = {states.QUEUED: 0, states.INITIALIZING: 1, states.RUNNING: 2, states.CANCELING: 3}
TASK_RANK = {states.QUEUED: 0, states.RUNNING: 1}
WAIT_S = 90  # bounds every wait; runs here take a few seconds


@dataclass(frozen=True)
class Note:
    what: str  # start | end
    n: int
    pid: int
    server: int  # the process that started it (its parent)
    at: float


@dataclass
class Sleepers:
    repo: Path
    marker: Path

    def notes(self) -> list[Note]:
        if not self.marker.exists():
            return []
        out = []
        for line in self.marker.read_text().splitlines():
            what, n, pid, server, at = line.split()
            out.append(Note(what, int(n), int(pid), int(server), float(at)))
        return out

    def committed(self) -> set[int]:
        """The tasks whose result is in the task cache (``<key[:2]>/<key>/``, holding the task's stdout;
        a folder being written is hidden, ``.<key>.partial-*``, until its rename commits it)."""
        found = set()
        for stdout in (self.repo / ".r2o" / "cache" / "tasks").glob("*/[!.]*/stdout.txt"):
            found.add(int(stdout.read_text().split()[1]))
        return found

    def stop_leftovers(self) -> None:
        """Sleepers a killed server left running (they run in their own process groups)."""
        for note in self.notes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(note.pid, signal.SIGKILL)


@pytest.fixture
def sleepers(repo_copy: Path, tmp_path: Path) -> Iterator[Sleepers]:
    marker = tmp_path / "executions.txt"
    folder = repo_copy / "components" / "sleeper"
    folder.mkdir()
    (folder / "algorithm.py").write_text(SLEEPER.format(marker=str(marker)))
    (folder / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nADD algorithm.py /app/\n")
    manifest = {
        "apiVersion": "r2o/v1",
        "name": "sleeper",
        "version": "1.0.0",
        "description": "sleeps, noting each start and end outside its output (a durability fixture)",
        "base": "python-sci",
        "command": ["python3", "/app/algorithm.py", "Ref::n", "Ref::seconds"],
        "parameters": {
            "n": {"type": "integer", "minimum": 0, "maximum": 100000},
            "seconds": {"type": "number", "default": 1, "minimum": 0, "maximum": 60},
        },
        "resources": {"vcpus": 1, "memory_mib": 512, "timeout_s": 600, "retries": 1},
        "outputs": [{"name": "log", "path": "stdout", "format": "text"}],
    }
    (folder / "component.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-q", "-m", "sleeper")
    s = Sleepers(repo_copy, marker)
    try:
        yield s
    finally:
        s.stop_leftovers()


@dataclass
class Server:
    """`r2o serve --native` on a loopback port of its own, on the store ``db``."""

    repo: Path
    db: Path
    log: Path
    lease_s: float
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        r2o = Path(sys.executable).with_name("r2o")
        command = [str(r2o), "--repo", str(self.repo), "serve", "--native", "--port", str(self.port)]
        command += ["--db", str(self.db), "--workers", "2", "--quota-runs", "1000"]
        command += ["--lease-seconds", str(self.lease_s)]
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"r2o serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"r2o serve did not answer within 60 s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no cleanup at all
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def servers(sleepers: Sleepers, tmp_path: Path) -> Iterator[Callable[[float], Server]]:
    """Make servers on one store (started by the test); every one is stopped afterwards."""
    made: list[Server] = []

    def make(lease_s: float) -> Server:
        server = Server(sleepers.repo, tmp_path / "r2o.db", tmp_path / f"serve-{len(made)}.log", lease_s)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


class Sampler:
    """Polls every run's state (the list) and the tasks of runs not ended (each run) while a test
    runs; tolerates a server that is down. ``seen[run]`` is what it saw, in order."""

    def __init__(self, urls: Callable[[], list[str]]) -> None:
        self.urls = urls
        self.seen: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="state-sampler", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.wait(0.05):
                for url in self.urls():
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        runs = client.get(f"{url}/api/v1/runs", params={"limit": 200}).json()["runs"]
                        for run in runs:
                            tasks: tuple[str, ...] = ()
                            if run["state"] not in states.TERMINAL:
                                detail = client.get(f"{url}/api/v1/runs/{run['id']}").json()
                                tasks = tuple(t["state"] for t in detail["tasks"])
                                run = detail
                            self.seen[run["id"]].append((run["state"], tasks))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def backwards(self) -> list[str]:
        """Every sampled move that went backwards (a run or a task)."""
        found = []
        for run_id, seen in self.seen.items():
            for (s0, t0), (s1, t1) in itertools.pairwise(seen):
                if _rank(s1, RUN_RANK) < _rank(s0, RUN_RANK) or (s0 in states.TERMINAL and s1 != s0):
                    found.append(f"run {run_id}: {s0} -> {s1}")
                for a, b in zip(t0, t1, strict=False):
                    if _rank(b, TASK_RANK) < _rank(a, TASK_RANK) or (a in states.TERMINAL and b != a):
                        found.append(f"run {run_id} task: {a} -> {b}")
        return found


def _rank(state: str, table: dict[str, int]) -> int:
    return table.get(state, 9)  # terminal states rank last, and never change


def submit(url: str, n: int, seconds: float) -> str:
    r = httpx.post(
        f"{url}/api/v1/runs",
        json={"product": "sleeper", "name": f"sleeper {n}", "parameters": {"n": n, "seconds": seconds}},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    run_id: str = r.json()["id"]
    return run_id


def runs_now(url: str) -> dict[str, dict[str, object]]:
    runs = httpx.get(f"{url}/api/v1/runs", params={"limit": 200}, timeout=30).json()["runs"]
    return {r["id"]: r for r in runs}


def wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S} s for {what}")
        time.sleep(0.1)


def test_a_server_killed_mid_way_loses_no_run_and_redoes_no_finished_task(
    sleepers: Sleepers, servers: Callable[[float], Server]
) -> None:
    first = servers(3)  # short leases: the restarted server takes the dead one's runs over quickly
    first.start()
    current = [first]
    sampler = Sampler(lambda: [s.url for s in current])
    try:
        answered = {submit(first.url, n, 0.8): n for n in range(14)}  # two at a time: about 6 s of work

        def mid_way() -> bool:
            found = runs_now(first.url)
            done = sum(1 for r in found.values() if r["state"] == states.COMPLETE)
            running = sum(1 for r in found.values() if r["state"] == states.RUNNING)
            return done >= 4 and running >= 1

        wait_for("4 runs done and one running", mid_way)
        first.kill9()
        killed_at = time.time()
        committed = sleepers.committed()  # nothing commits once the server is dead
        in_flight = {n.n for n in sleepers.notes() if n.what == "start"} - committed

        second = servers(3)
        second.port = first.port  # the same address, as a restarted service would have
        second.start()
        current[:] = [second]
        wait_for(
            "every run to end",
            lambda: all(r["state"] in states.TERMINAL for r in runs_now(second.url).values()),
        )
    finally:
        sampler.stop()

    after = runs_now(second.url)
    assert set(answered) <= set(after), "a run answered 201 before the kill is gone"
    for run_id in answered:
        detail = httpx.get(f"{second.url}/api/v1/runs/{run_id}", timeout=30).json()
        assert detail["state"] == states.COMPLETE, detail
        assert [t["state"] for t in detail["tasks"]] == [states.COMPLETE], detail
    assert sampler.backwards() == []
    assert sum(len(v) for v in sampler.seen.values()) > 2 * len(answered)  # the sampler did sample

    notes = sleepers.notes()
    everything = set(answered.values())
    assert 4 <= len(committed) < len(everything), "the kill came mid-way"
    started_after = {n.n for n in notes if n.what == "start" and n.at > killed_at}
    assert started_after & committed == set(), "a task committed before the kill ran again"
    assert in_flight <= started_after, "a task the kill interrupted was not run again"
    assert started_after == everything - committed  # each task not committed ran once more, no other
    assert sleepers.committed() == everything
    assert {n.n for n in notes if n.what == "end"} == everything
    assert second.proc is not None
    assert {n.server for n in notes if n.at > killed_at and n.what == "start"} == {second.proc.pid}


def test_two_servers_on_one_store_execute_each_run_once(
    sleepers: Sleepers, servers: Callable[[float], Server]
) -> None:
    a, b = servers(10), servers(10)
    a.start()
    b.start()
    sampler = Sampler(lambda: [a.url])
    try:
        # alternate: each server's dispatcher wakes for its own submissions and claims from the shared store
        answered = {submit((a, b)[n % 2].url, n, 0.3): n for n in range(16)}
        wait_for(
            "every run to end",
            lambda: all(r["state"] in states.TERMINAL for r in runs_now(a.url).values()),
        )
    finally:
        sampler.stop()
    for run_id in answered:
        detail = httpx.get(f"{b.url}/api/v1/runs/{run_id}", timeout=30).json()
        assert detail["state"] == states.COMPLETE, detail
    notes = sleepers.notes()
    starts = sorted(n.n for n in notes if n.what == "start")
    assert starts == sorted(answered.values()), "a run was executed twice, or not at all"
    assert sorted(n.n for n in notes if n.what == "end") == starts
    assert a.proc is not None and b.proc is not None
    assert {n.server for n in notes} <= {a.proc.pid, b.proc.pid}
    assert sampler.backwards() == []
