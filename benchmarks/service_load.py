"""The product service under load, and killed: `r2o serve` as a real process on a loopback port.

    .venv/bin/python benchmarks/service_load.py [--native] [--quick] [--parts abcd]

Works in a temporary repository (identity-matrix and the base images, as the tests' repo_copy),
with its own stores; every server, container and folder it starts is removed at the end. The server
runs with --auth oidc against an issuer this script serves on loopback, so every request pays for
a real RS256 token check, and users are real users (an admin sees every run, a user their own).

a. Reads: 10,000 runs seeded through the store API (10 users, 4 products, every terminal state and
   some running under another server's lease). `GET /api/v1/runs?limit=50`, first page and deep
   cursor pages, as an admin and as a user, from a small keep-alive HTTP/1.1 client (httpx costs
   milliseconds of CPU a request, and client and server share the two cores): a closed loop of
   --read-clients clients (capacity), and open loops offering 300 and 100 requests/s (a latency
   counts from the request's due time, so a server that falls behind cannot hide its queue). Each
   line also gives the server's CPU time per request (from /proc). Goals: >= 300 requests/s, and
   p99 <= 50 ms at 300 requests/s. Then the same with two servers on the one store, for the record.
b. Submissions: 50 clients (50 users) send 1,000 `validate_only` and 200 real identity-matrix runs
   (each a different size: a different cache key, so each must execute), then poll until every run
   is terminal. Goals: zero errors, zero lost runs, every run terminal and consistent with its
   tasks, no state moving backwards in any poll, every task executed exactly once.
c. The real-run part again while the server is killed with SIGKILL three times at random moments
   (once while runs are being submitted, twice while they execute) and restarted on the same store.
   Same goals; a task whose execution a kill interrupted runs again (nothing of it was recorded),
   but a task never executes again once its result was committed to the task cache. Executions
   are counted outside the server: Docker's event stream (containers started and their exit codes,
   each mapped to its run by its size argument and to its server by its r2o session label);
   natively, the staging folders that appear in the task cache (polled every 20 ms, named with the
   server's pid). A repeat is explained only when the earlier execution's server was killed.
d. POST to the first task starting, with a worker free: 20 runs one after another, time from the
   POST's answer to the task being RUNNING in the API (polled every 10 ms) and, in Docker, to the
   container's start event. Goal: <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from r2o.service import states
from r2o.service.store import RunRecord, SqliteStore, TaskRecord

REPO = Path(__file__).resolve().parents[1]
R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
PRODUCT = "identity-matrix"
AUDIENCE = "r2o-bench"
ADMIN_GROUP = "admins"

P99_GOAL_MS = 50.0
RPS_GOAL = 300.0
FIRST_TASK_GOAL_S = 1.0
RANK = {states.QUEUED: 0, states.INITIALIZING: 1, states.RUNNING: 2, states.CANCELING: 3}
TASK_RANK = {states.QUEUED: 0, states.RUNNING: 1}


def rank(state: str, table: dict[str, int]) -> int:
    return table.get(state, 9)  # every terminal state ranks last: a terminal state never changes


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def say(line: str = "") -> None:
    print(line, flush=True)


# --- the issuer ----------------------------------------------------------------------------------


class Issuer:
    """An OIDC issuer on loopback (its JWKS only), minting Cognito-shaped ID tokens."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks = {
            "keys": [
                {**RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True), "kid": "k1", "alg": "RS256"}
            ]
        }
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path.endswith("/.well-known/jwks.json")
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bench-pool"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @functools.cache  # noqa: B019 (one token per user for the life of the benchmark)
    def headers(self, user: str, admin: bool = False) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": user,
            "aud": AUDIENCE,
            "token_use": "id",
            "iat": now,
            "exp": now + 6 * 3600,
            "cognito:groups": [ADMIN_GROUP] if admin else [],
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `r2o serve` process on a fixed loopback port, restartable on the same store."""

    repo: Path
    db: Path
    issuer: Issuer
    native: bool
    workers: int
    log: Path
    lease_s: float = 30.0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start it and wait until it answers; the seconds that took."""
        args = [*R2O, "--repo", str(self.repo), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--db", str(self.db), "--workers", str(self.workers), "--lease-seconds", str(self.lease_s)]
        args += ["--quota-runs", "10000", "--quota-vcpu-hours", "1000000"]
        if self.native:  # r2o serve runs components natively only for one local user (auth none)
            args += ["--native", "--auth", "none"]
        else:
            args += ["--auth", "oidc", "--issuer", self.issuer.url, "--audience", AUDIENCE]
            args += ["--admin-group", ADMIN_GROUP]
        t0 = time.perf_counter()
        with self.log.open("ab") as fh:
            fh.write(f"--- start {self.starts + 1}\n".encode())
            self.proc = subprocess.Popen(
                args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"r2o serve exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            time.sleep(0.05)
        raise SystemExit(f"r2o serve did not answer within 60 s:\n{self.log.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used (user + system), from /proc."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the repository and the seeded store ---------------------------------------------------------


def make_repo(root: Path) -> Path:
    """identity-matrix and the base images in a git repository (as tests/conftest.py's repo_copy)."""
    ignore = shutil.ignore_patterns("rootfs.tar", "__pycache__")
    shutil.copytree(REPO / "components" / PRODUCT, root / "components" / PRODUCT, ignore=ignore)
    shutil.copytree(REPO / "base-images", root / "base-images", ignore=ignore)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.email=bench@example.invalid", "-c", "user.name=bench", "commit", "-q", "-m", "bench"],
    ):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


SEED_USERS = [f"user-{i:02d}" for i in range(10)]
SEED_PRODUCTS = ["identity-matrix", "aqcast", "wrf", "cmaq"]
SEED_STATES = [
    (states.COMPLETE, 70),
    (states.EXECUTOR_ERROR, 10),
    (states.SYSTEM_ERROR, 5),
    (states.CANCELED, 10),
    (states.RUNNING, 5),  # held by a lease of a server that is not this one, far from expiring
]


def seed(db: Path, count: int, rng: random.Random) -> float:
    """``count`` runs over 30 days through the store API; every 50th pair shares its creation time
    (the cursor's tie-break on id must keep them apart). The seconds it took."""
    store = SqliteStore(db)
    store._db.execute("PRAGMA synchronous=OFF")  # seeding only: 10,000 fsyncs would take a minute
    t0 = time.perf_counter()
    base = time.time() - 30 * 86400
    population = [s for s, _ in SEED_STATES]
    weights = [w for _, w in SEED_STATES]
    created = base
    for i in range(count):
        if i % 50 != 1:
            created += rng.uniform(1, 2 * 30 * 86400 / count)
        state = rng.choices(population, weights)[0]
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        product = rng.choice(SEED_PRODUCTS)
        terminal = state in states.TERMINAL
        run = RunRecord(
            id=run_id,
            user=SEED_USERS[i % len(SEED_USERS)],
            product=product,
            kind="pipeline" if product == "aqcast" else "component",
            name=f"seeded run {i}",
            created=created,
            state=state,
            reason="seeded",
            parameters={"size": rng.randint(1, 5000)} if product == PRODUCT else {"days": 2},
            tags={"campaign": f"c{i % 7}", "seed": "yes"},
            start="2024-07-15" if product == "aqcast" else None,
            days=2 if product == "aqcast" else None,
            tasks_total=1,
            vcpu_hours=0.1,
            cost=0.004,
            started=created + 5,
            finished=created + 65 if terminal else None,
            used_vcpu_hours=0.02 if terminal else 0.0,
            lease_owner=None if terminal else "elsewhere:1:seed",
            lease_expires=0.0 if terminal else time.time() + 86400,
            request={"product": product, "name": f"seeded run {i}"},
        )
        task = TaskRecord(
            run_id,
            product,
            product,
            product,
            None,
            1.0,
            state=state,
            reason="seeded",
        )
        store.create_run(run, [task])
    seconds = time.perf_counter() - t0
    store.close()
    return seconds


# --- read load ------------------------------------------------------------------------------------


@dataclass
class Sample:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        ms = self.latencies_ms
        served = len(ms) or 1
        return (
            f"{self.rps:5.0f} req/s  p50 {pct(ms, 50):6.1f}  p95 {pct(ms, 95):6.1f}  p99 {pct(ms, 99):6.1f}"
            f"  max {max(ms, default=float('nan')):6.1f} ms  errors {self.errors}  "
            f"server CPU {1000 * self.server_cpu_s / served:4.1f} ms/req  "
            f"(client CPU {100 * self.client_cpu_s / self.seconds if self.seconds else 0:.0f}%)"
        )


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs: a load generator costing little CPU, so
    that the server is what is measured (httpx's AsyncClient spends milliseconds of CPU per request,
    and client and server share the machine's two cores)."""

    def __init__(self, server: Server, headers: dict[str, str]) -> None:
        self.port = server.port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.head}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def get(conn: Connection, path: str, sample: Sample, since: float) -> None:
    try:
        status, _ = await conn.get(path)
    except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
        conn.close()
        sample.errors += 1
        return
    sample.latencies_ms.append((time.perf_counter() - since) * 1000)
    sample.errors += status != 200


def cpu(servers: list[Server]) -> float:
    return sum(s.cpu_seconds() for s in servers)


async def closed_loop(
    servers: list[Server], paths: list[str], headers: dict[str, str], clients: int, seconds: float
) -> Sample:
    """``clients`` clients, each sending its next request as soon as the last one is answered."""
    sample = Sample()
    conns = [Connection(servers[n % len(servers)], headers) for n in range(clients)]
    await asyncio.gather(*(c.get(paths[0]) for c in conns))  # connected before the clock starts
    deadline = time.perf_counter() + seconds

    async def one(n: int) -> None:
        i = n
        while time.perf_counter() < deadline:
            await get(conns[n], paths[i % len(paths)], sample, time.perf_counter())
            i += clients

    cpu0, server0, t0 = time.process_time(), cpu(servers), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    sample.seconds = time.perf_counter() - t0
    sample.client_cpu_s = time.process_time() - cpu0
    sample.server_cpu_s = cpu(servers) - server0
    for c in conns:
        c.close()
    return sample


async def open_loop(
    servers: list[Server], paths: list[str], headers: dict[str, str], rate: float, seconds: float
) -> Sample:
    """Requests offered at ``rate`` per second whatever the answers (on as many connections as it
    takes); a latency counts from the moment its request was due, so a server that falls behind
    cannot hide its queue. Requests unanswered 10 s after the last one was due count as errors."""
    sample = Sample()
    idle: list[list[Connection]] = [[Connection(s, headers) for _ in range(8)] for s in servers]
    await asyncio.gather(*(c.get(paths[0]) for pool in idle for c in pool))

    async def one(n: int, path: str, due: float) -> None:
        pool = idle[n % len(servers)]  # requests alternate between the servers
        conn = pool.pop() if pool else Connection(servers[n % len(servers)], headers)
        await get(conn, path, sample, due)
        pool.append(conn)

    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    cpu0, server0, t0 = time.process_time(), cpu(servers), time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, paths[i % len(paths)], due)))
    _, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    sample.errors += len(pending)
    sample.seconds = max(time.perf_counter() - t0, seconds)
    sample.client_cpu_s = time.process_time() - cpu0
    sample.server_cpu_s = cpu(servers) - server0
    for pool in idle:
        for c in pool:
            c.close()
    return sample


def walk(url: str, headers: dict[str, str]) -> tuple[list[str], list[str]]:
    """Every page of GET /runs (limit 50): the run ids in order, the cursor of each page but the first."""
    ids: list[str] = []
    cursors: list[str] = []
    cursor: str | None = None
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while True:
            params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/runs", params=params)
            page.raise_for_status()
            body = page.json()
            ids += [r["id"] for r in body["runs"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
            cursors.append(cursor)
    assert len(set(ids)) == len(ids), "a run appeared on two pages"
    return ids, cursors


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(
    servers: list[Server], scenarios: list[tuple[str, list[str], dict[str, str]]], args: argparse.Namespace
) -> tuple[float, float, int]:
    """Closed loop (capacity) and open loops at 300 and 100 requests/s for every scenario: the worst
    capacity, the worst p99 at 300 requests/s, the errors."""
    capacity, worst_p99, errors = float("inf"), 0.0, 0
    say(f"  closed loop, {args.read_clients} clients, {args.read_seconds:g} s each ({load()}):")
    for name, paths, headers in scenarios:
        s = asyncio.run(closed_loop(servers, paths, headers, args.read_clients, args.read_seconds))
        errors += s.errors
        capacity = min(capacity, s.rps)
        say(f"    {name:30s} {s.line()}")
    for rate in (RPS_GOAL, RPS_GOAL / 3):
        say(f"  open loop, {rate:.0f} requests/s offered, {args.read_seconds:g} s each ({load()}):")
        for name, paths, headers in scenarios:
            s = asyncio.run(open_loop(servers, paths, headers, rate, args.read_seconds))
            say(f"    {name:30s} {s.line()}")
            if rate == RPS_GOAL:
                errors += s.errors
                worst_p99 = max(worst_p99, pct(s.latencies_ms, 99))
    return capacity, worst_p99, errors


def part_a(tmp: Path, issuer: Issuer, args: argparse.Namespace, results: list[Result]) -> None:
    say(f"== a. GET /api/v1/runs?limit=50 over {args.seed_runs:,} stored runs")
    db = tmp / "a.db"
    rng = random.Random(args.seed)
    seconds = seed(db, args.seed_runs, rng)
    say(f"seeded {args.seed_runs:,} runs through SqliteStore.create_run in {seconds:.1f} s")
    server = Server(tmp / "repo", db, issuer, False, args.workers, tmp / "server-a.log", args.lease)
    say(f"server started in {server.start():.2f} s")
    try:
        admin = issuer.headers("ops-admin", admin=True)
        user = issuer.headers(SEED_USERS[3])
        t0 = time.perf_counter()
        admin_ids, admin_cursors = walk(server.url, admin)
        user_ids, user_cursors = walk(server.url, user)
        say(
            f"walked every page: admin {len(admin_ids):,} runs on {len(admin_cursors) + 1} pages, "
            f"{SEED_USERS[3]} {len(user_ids):,} runs on {len(user_cursors) + 1} pages, "
            f"no run twice ({time.perf_counter() - t0:.1f} s)"
        )
        assert len(admin_ids) == args.seed_runs, f"the admin sees {len(admin_ids)} runs, not {args.seed_runs}"
        base = "/api/v1/runs?limit=50"

        def deep(cursors: list[str], count: int) -> tuple[str, list[str]]:
            """The last ``count`` pages: cursors[i] opens page i + 2."""
            chosen = cursors[-count:]
            first = len(cursors) - len(chosen) + 2
            return f"pages {first}-{len(cursors) + 1}", [f"{base}&cursor={c}" for c in chosen]

        deep_admin = deep(admin_cursors, 50)
        deep_user = deep(user_cursors, 5)
        scenarios = [
            ("admin, first page", [base], admin),
            (f"admin, deep {deep_admin[0]}", deep_admin[1], admin),
            ("user, first page", [base], user),
            (f"user, deep {deep_user[0]}", deep_user[1], user),
        ]
        capacity, worst_p99, errors = measure([server], scenarios, args)
        results.append(
            Result(
                "a. page of 50: requests/s, closed loop (worst of 4)",
                ">= 300",
                f"{capacity:.0f}",
                capacity >= RPS_GOAL,
            )
        )
        results.append(
            Result(
                "a. page of 50: p99 at 300 req/s offered (worst of 4)",
                "<= 50 ms",
                f"{worst_p99:.0f} ms, {errors} errors",
                worst_p99 <= P99_GOAL_MS and errors == 0,
            )
        )
        # One server process holds the GIL on one core; the store already lets several servers share
        # it (leases). What the second core buys, for the record:
        second = Server(server.repo, db, issuer, False, args.workers, tmp / "server-a2.log", args.lease)
        second.start()
        try:
            say("the same, two `r2o serve` processes on the one store, requests alternating between them:")
            capacity2, p99_2, errors2 = measure([server, second], scenarios, args)
        finally:
            second.stop()
        results.append(
            Result(
                "a. (two servers on one store: req/s; p99 at 300)",
                "(figure)",
                f"{capacity2:.0f}; {p99_2:.0f} ms, {errors2} errors",
                True,
            )
        )
    finally:
        server.stop()


# --- executions, counted outside the server -------------------------------------------------------


@dataclass
class Execution:
    key: str | None  # the task cache key (native: from the staging folder's name)
    size: int | None  # identity-matrix's argument (Docker: from the container's command)
    created: float
    server: int | None  # the pid of the `r2o serve` that started it (its r2o session, its staging name)
    started: bool = False  # Docker: a container created by a server killed before it started it never ran
    exit_code: int | None = None


class Executions:
    """What really ran: Docker's events for the repository's containers, and the task cache's
    staging folders and entries (an entry appears when a task's result is committed)."""

    def __init__(self, repo: Path, docker_mode: bool) -> None:
        self.cache = repo / ".r2o" / "cache" / "tasks"
        self.docker_mode = docker_mode
        self.runs: list[Execution] = []
        self.committed: dict[str, float] = {}  # key -> when its entry was first seen
        self._staging: set[str] = set()
        self._by_container: dict[str, Execution] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll_cache, daemon=True)]
        self._events: Any = None
        if docker_mode:
            import docker

            self._client = docker.from_env()
            self._events = self._client.events(
                decode=True, filters={"type": "container", "label": f"org.r2o.repo={repo.resolve()}"}
            )
            self._threads.append(threading.Thread(target=self._watch_docker, daemon=True))
        for t in self._threads:
            t.start()

    def _poll_cache(self) -> None:
        """Entries are ``<key[:2]>/<key>/``; a task being written is ``<key[:2]>/.<key>.partial-*``."""
        while not self._stop.wait(0.02):
            try:
                shards = os.listdir(self.cache)
            except FileNotFoundError:
                continue
            t = time.time()
            for shard in shards:
                try:
                    names = os.listdir(self.cache / shard)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                with self._lock:
                    for name in names:
                        if not name.startswith("."):
                            self.committed.setdefault(name, t)
                        elif ".partial-" in name and name not in self._staging:
                            self._staging.add(name)
                            if not self.docker_mode:  # natively, a staging folder is an execution
                                key, _, rest = name[1:].partition(".partial-")
                                self.runs.append(Execution(key, None, t, int(rest.split("-")[0]), True))

    def _watch_docker(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends when close() closes it
            for event in self._events:
                action = event.get("Action") or event.get("status")
                cid = event.get("id") or event.get("Actor", {}).get("ID")
                t = event.get("timeNano", time.time_ns()) / 1e9
                if action == "create":
                    size = None
                    with contextlib.suppress(Exception):
                        cmd = self._client.api.inspect_container(cid)["Config"]["Cmd"]
                        size = int(cmd[-1])
                    session = event.get("Actor", {}).get("Attributes", {}).get("org.r2o.session", "")
                    server = int(session.split("-")[0]) if session[:1].isdigit() else None
                    with self._lock:
                        self._by_container[cid] = Execution(None, size, t, server)
                        self.runs.append(self._by_container[cid])
                elif action == "start":
                    with self._lock:
                        if cid in self._by_container:
                            self._by_container[cid].started = True
                elif action == "die":
                    with self._lock:
                        found = self._by_container.get(cid)
                        if found is not None:
                            found.exit_code = int(event["Actor"]["Attributes"].get("exitCode", -1))

    def close(self) -> None:
        self._stop.set()
        if self._events is not None:
            self._events.close()
        for t in self._threads:
            t.join(5)


# --- submitting, polling, killing -------------------------------------------------------------------


@dataclass
class Submitted:
    client: int
    name: str
    size: int


@dataclass
class Kill:
    at: float
    when: str  # what the run was doing
    pid: int  # the server killed
    queued: int = 0  # runs no server held at the kill
    held: dict[str, str] = field(default_factory=dict)  # run -> its state, under the killed server's lease
    restart_s: float = 0.0
    moved: dict[str, float] = field(default_factory=dict)  # held run -> seconds until it moved again


@dataclass
class Campaign:
    """One submission campaign's observations."""

    runs: dict[str, Submitted] = field(default_factory=dict)  # answered 201
    samples: dict[str, list[tuple[float, str, tuple[tuple[str, str], ...]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    latest: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    validate_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    refused: int = 0  # requests that met a killed server (retried)
    unanswered_posts: int = 0  # POSTs in flight when the server was killed (retried)
    kills: list[Kill] = field(default_factory=list)
    generation: int = 0  # kills so far
    down: bool = False
    first_post: float = 0.0
    last_terminal: float = 0.0
    deadline: float = float("inf")  # clients stop polling then: the benchmark always ends

    def terminal_count(self) -> int:
        return sum(1 for s in self.latest.values() if s in states.TERMINAL)


class Lost(Exception):
    pass


async def call(
    client: httpx.AsyncClient, c: Campaign, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """One request; retried while the server is down (a kill), counted as an error otherwise."""
    while True:
        generation = c.generation
        try:
            return await client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            by_kill = c.down or c.generation != generation
            if by_kill:
                c.refused += 1
                if method == "POST" and not isinstance(exc, httpx.ConnectError):
                    c.unanswered_posts += 1
            else:
                c.errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.2)


async def client_session(
    n: int, url: str, issuer: Issuer, jobs: asyncio.Queue[dict[str, Any]], c: Campaign, poll_s: float
) -> None:
    headers = issuer.headers(f"client-{n:02d}")
    mine: list[str] = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        while not jobs.empty():
            body = jobs.get_nowait()
            c.first_post = c.first_post or time.time()
            t = time.perf_counter()
            r = await call(client, c, "POST", "/api/v1/runs", json=body)
            ms = (time.perf_counter() - t) * 1000
            if body.get("validate_only"):
                c.validate_ms.append(ms)
                if r.status_code != 200 or not r.json().get("valid"):
                    c.errors.append(f"validate_only: {r.status_code} {r.text[:200]}")
            elif r.status_code == 201:
                c.submit_ms.append(ms)
                run = r.json()
                c.runs[run["id"]] = Submitted(n, body["name"], body["parameters"]["size"])
                c.latest[run["id"]] = run["state"]
                mine.append(run["id"])
            else:
                c.errors.append(f"submit: {r.status_code} {r.text[:200]}")
        while mine and time.time() < c.deadline:
            await asyncio.sleep(poll_s)
            for run_id in list(mine):
                r = await call(client, c, "GET", f"/api/v1/runs/{run_id}")
                if r.status_code != 200:
                    c.errors.append(f"GET run {run_id}: {r.status_code} {r.text[:200]}")
                    mine.remove(run_id)
                    continue
                body = r.json()
                tasks = tuple((t["id"], t["state"]) for t in body["tasks"])
                now = time.time()
                c.samples[run_id].append((now, body["state"], tasks))
                for k in c.kills:
                    if k.held.get(run_id, body["state"]) != body["state"] and run_id not in k.moved:
                        k.moved[run_id] = now - k.at
                c.latest[run_id] = body["state"]
                if body["state"] in states.TERMINAL:
                    mine.remove(run_id)
                    c.last_terminal = max(c.last_terminal, now)


def held_by(db: Path, pid: int, at: float) -> tuple[dict[str, str], int]:
    """The runs a killed server held (under its lease: it claimed them), and the runs nobody held."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as con:
        rows = con.execute("SELECT id, state, lease_owner, lease_expires FROM runs").fetchall()
    active = [r for r in rows if r[1] in states.ACTIVE]
    held = {r[0]: r[1] for r in active if r[2] and r[2].split(":")[1] == str(pid) and r[3] > at}
    return held, sum(1 for r in active if r[0] not in held and r[1] == states.QUEUED)


async def killer(server: Server, c: Campaign, real: int, rng: random.Random) -> None:
    """Three SIGKILLs: one while runs are submitted, two while they execute."""
    plan: list[tuple[str, Callable[[], bool]]] = []
    k1 = rng.randint(real // 5, real * 4 // 5)
    plan.append((f"after {k1} of {real} runs were answered", lambda: len(c.runs) >= k1))
    for lo, hi in ((0.15, 0.45), (0.55, 0.85)):
        k = rng.randint(int(real * lo), int(real * hi))
        plan.append(
            (f"after {k} of {real} runs had ended", functools.partial(lambda k: c.terminal_count() >= k, k))
        )
    for when, ready in plan:
        while not ready() and time.time() < c.deadline:
            await asyncio.sleep(0.02)
        if time.time() >= c.deadline:
            return
        await asyncio.sleep(rng.uniform(0, 0.5))
        assert server.proc is not None
        pid = server.proc.pid
        c.down = True
        c.generation += 1
        server.kill9()
        kill = Kill(time.time(), when, pid)
        kill.held, kill.queued = held_by(server.db, pid, kill.at)
        c.kills.append(kill)
        kill.restart_s = await asyncio.to_thread(server.start)
        c.down = False


def campaign(
    server: Server,
    issuer: Issuer,
    *,
    validate: int,
    sizes: list[int],
    clients: int,
    rng: random.Random,
    kills: bool,
    poll_s: float,
    timeout_s: float,
) -> Campaign:
    c = Campaign(deadline=time.time() + timeout_s)
    bodies: list[dict[str, Any]] = [
        {"product": PRODUCT, "parameters": {"size": rng.randint(1, 5000)}, "validate_only": True}
        for _ in range(validate)
    ]
    bodies += [
        {"product": PRODUCT, "name": f"bench size {s}", "parameters": {"size": s}, "tags": {"bench": "yes"}}
        for s in sizes
    ]
    rng.shuffle(bodies)

    async def main() -> None:
        jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for b in bodies:
            jobs.put_nowait(b)
        work = [client_session(n, server.url, issuer, jobs, c, poll_s) for n in range(clients)]
        if kills:
            await asyncio.gather(killer(server, c, len(sizes), rng), *work)
        else:
            await asyncio.gather(*work)

    asyncio.run(main())
    return c


def check_campaign(
    server: Server, issuer: Issuer, c: Campaign, ex: Executions, sizes: list[int], label: str
) -> tuple[bool, list[str]]:
    """Every check of a campaign, printed; whether all passed, and the problems."""
    problems: list[str] = list(c.errors)
    admin = issuer.headers("ops-admin", admin=True)
    with httpx.Client(base_url=server.url, headers=admin, timeout=60) as client:
        stored: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            body = client.get(
                "/api/v1/runs", params={"limit": "200", **({"cursor": cursor} if cursor else {})}
            ).json()
            for r in body["runs"]:
                stored[r["id"]] = r
            cursor = body["next_cursor"]
            if not cursor:
                break
        details = {run_id: client.get(f"/api/v1/runs/{run_id}").json() for run_id in stored}
    lost = [r for r in c.runs if r not in stored]
    extra = [r for r in stored if r not in c.runs]  # created by a POST whose answer a kill swallowed
    problems += [f"run {r} was answered 201 and is gone" for r in lost]
    by_state = Counter(d["state"] for d in details.values())
    for run_id, d in details.items():
        tasks = [t["state"] for t in d["tasks"]]
        if d["state"] not in states.TERMINAL:
            problems.append(f"run {run_id} is not terminal: {d['state']} ({d['reason']})")
        elif d["state"] == states.COMPLETE and any(t != states.COMPLETE for t in tasks):
            problems.append(f"run {run_id} is COMPLETE with tasks {tasks}")
        elif d["state"] != states.COMPLETE:
            problems.append(f"run {run_id} ended {d['state']}: {d['reason']}")  # identity-matrix never fails
        if d["state"] in states.TERMINAL and any(t in (states.QUEUED, states.RUNNING) for t in tasks):
            problems.append(f"run {run_id} is {d['state']} with tasks still {tasks}")
    backwards = 0
    for run_id, seen in c.samples.items():
        for (_, s0, t0), (_, s1, t1) in itertools.pairwise(seen):
            moved_back = rank(s1, RANK) < rank(s0, RANK) or (s0 in states.TERMINAL and s1 != s0)
            old = dict(t0)
            for task, ts in t1:
                prev = old.get(task)
                if prev is not None and (
                    rank(ts, TASK_RANK) < rank(prev, TASK_RANK) or (rank(prev, TASK_RANK) == 9 and ts != prev)
                ):
                    moved_back = True
            if moved_back:
                backwards += 1
                problems.append(f"run {run_id} moved backwards: {s0} {t0} -> {s1} {t1}")
    samples = sum(len(s) for s in c.samples.values())

    # executions: the task cache key of each size, from the runs' provenance
    runs_dir = server.repo / ".r2o" / "service" / "runs"
    key_of: dict[int, str] = {}
    for run_id in stored:
        prov = runs_dir / run_id / PRODUCT / "provenance.json"
        if prov.is_file():
            data = json.loads(prov.read_text())
            key_of[int(data["parameters"]["size"])] = data["cache_key"]
    size_of = {k: s for s, k in key_of.items()}
    killed = {k.pid for k in c.kills}
    per_size: dict[int, list[Execution]] = defaultdict(list)
    unknown = never_started = 0
    for e in ex.runs:
        size = e.size if e.size is not None else size_of.get(e.key or "")
        if size is None:
            unknown += 1
        elif not e.started:  # created by a server killed before it could start the container
            never_started += 1
        else:
            per_size[size].append(e)
    never = [s for s in sizes if not per_size.get(s)]
    twice = {s: es for s, es in per_size.items() if len(es) > 1}
    after_commit = 0
    unexplained = 0
    for size, es in per_size.items():
        committed = ex.committed.get(key_of.get(size, ""), float("inf"))
        for e in es:
            if e.created > committed:  # the entry was seen before this execution began
                after_commit += 1
                problems.append(f"size {size}: executed again after its result was committed to the cache")
        # every execution but the last must be one a kill cut short: started by a server that was killed
        for e in sorted(es, key=lambda e: e.created)[:-1]:
            if e.server not in killed:
                unexplained += 1
                problems.append(
                    f"size {size}: executed {len(es)} times, once by a server never killed ({e.server})"
                )
    problems += [f"size {s}: never executed" for s in never]
    if unknown:
        problems.append(f"{unknown} execution(s) could not be matched to a run")
    succeeded_twice = sum(1 for es in twice.values() if sum(1 for e in es if e.exit_code == 0) > 1)

    wall = c.last_terminal - c.first_post
    say(
        f"runs answered 201: {len(c.runs)}; in the store: {len(stored)} "
        f"({len(extra)} made by POSTs a kill left unanswered)"
    )
    say(f"states: {dict(by_state)}; lost: {len(lost)}; errors: {len(c.errors)}")
    say(
        f"state samples: {samples:,}; backwards moves: {backwards}; "
        f"requests refused while the server was down: {c.refused} "
        f"(POSTs left unanswered: {c.unanswered_posts})"
    )
    how = "Docker events" if ex.docker_mode else "task-cache staging folders"
    say(
        f"executions ({how}): {len(ex.runs)} for {len(sizes)} tasks; never executed: {len(never)}; "
        f"executed again after a kill cut them short: {len(twice)}"
        + (f" (of which both exited 0: {succeeded_twice})" if ex.docker_mode else "")
        + f"; executed after their result was committed: {after_commit}; repeated by a server never killed: "
        f"{unexplained}; containers a killed server created but never started: {never_started}"
    )
    say(
        f"wall {wall:.1f} s from the first POST to the last run ending: {len(sizes) / wall:.2f} real runs/s; "
        f"POST latency validate_only p50 {pct(c.validate_ms, 50):.0f} / p99 {pct(c.validate_ms, 99):.0f} ms, "
        f"submit p50 {pct(c.submit_ms, 50):.0f} / p99 {pct(c.submit_ms, 99):.0f} ms"
    )
    for i, k in enumerate(c.kills, 1):
        moved = sorted(k.moved.values())
        resumed = (
            f"they moved on {moved[0]:.1f}-{moved[-1]:.1f} s after the kill (when its lease ran out)"
            if moved
            else "-"
        )
        say(
            f"kill {i}: {k.when}; it held {len(k.held)} run(s), {k.queued} waited unclaimed; "
            f"restarted in {k.restart_s:.1f} s; {resumed}"
        )
    say(
        "problems: request errors, runs lost, runs not ended or not COMPLETE with every task COMPLETE, "
        "backward moves, tasks never executed, executed after their result was committed, or repeated "
        f"with no kill to explain it: {len(problems)}"
    )
    for p in problems[:20]:
        say(f"  PROBLEM: {p}")
    answered_sizes = {s.size for s in c.runs.values()}
    problems += [f"size {s}: no POST was answered" for s in sizes if s not in answered_sizes]
    return not problems, problems


def part_bc(
    tmp: Path, issuer: Issuer, args: argparse.Namespace, results: list[Result], *, kills: bool
) -> None:
    part = "c" if kills else "b"
    validate = 0 if kills else args.validate
    first = 1 + (args.real if kills else 0)
    sizes = list(range(first, first + args.real))
    say()
    say(
        f"== {part}. {args.clients} clients submit {validate:,} validate_only and {args.real} real runs"
        + (", the server killed (SIGKILL) three times" if kills else "")
    )
    rng = random.Random(args.seed + (2 if kills else 1))
    server = Server(
        tmp / "repo",
        tmp / f"{part}.db",
        issuer,
        args.native,
        args.workers,
        tmp / f"server-{part}.log",
        args.lease,
    )
    say(f"server: --workers {args.workers}, --lease-seconds {args.lease:g}")
    server.start()
    ex = Executions(server.repo, docker_mode=not args.native)
    try:
        c = campaign(
            server,
            issuer,
            validate=validate,
            sizes=sizes,
            clients=args.clients,
            rng=rng,
            kills=kills,
            poll_s=args.poll,
            timeout_s=args.timeout,
        )
        time.sleep(0.5)  # the last container's exit event
        ex.close()
        ok, problems = check_campaign(server, issuer, c, ex, sizes, part)
    finally:
        ex.close()
        server.stop()
    wall = c.last_terminal - c.first_post
    label = "c. the same, server killed x3" if kills else f"b. {validate:,} validate_only + {args.real} runs"
    results.append(
        Result(f"{label}: wall; runs/s", "(figure)", f"{wall:.0f} s; {args.real / wall:.2f}/s", True)
    )
    results.append(Result(f"{label}: problems (see the list)", "0", f"{len(problems)}", ok))


def part_d(tmp: Path, issuer: Issuer, args: argparse.Namespace, results: list[Result]) -> None:
    say()
    say(f"== d. POST to the first task starting, a worker free ({args.latency_runs} runs, one at a time)")
    server = Server(
        tmp / "repo", tmp / "d.db", issuer, args.native, args.workers, tmp / "server-d.log", args.lease
    )
    server.start()
    ex = Executions(server.repo, docker_mode=not args.native)
    to_running: list[float] = []
    to_container: list[float] = []
    try:
        headers = issuer.headers("latency-user")
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for size in range(1001, 1001 + args.latency_runs):
                body = {"product": PRODUCT, "name": f"latency {size}", "parameters": {"size": size}}
                r = client.post("/api/v1/runs", json=body)
                answered = time.time()
                r.raise_for_status()
                run_id = r.json()["id"]
                started = None
                while True:
                    d = client.get(f"/api/v1/runs/{run_id}").json()
                    if started is None and d["tasks"][0]["state"] != states.QUEUED:
                        started = time.time()
                        to_running.append(started - answered)
                    if d["state"] in states.TERMINAL:
                        break
                    time.sleep(0.01)
                if not args.native:
                    time.sleep(0.2)
                    with ex._lock:
                        created = [e.created for e in ex.runs if e.size == size]
                    if created:
                        to_container.append(min(created) - answered)
    finally:
        ex.close()
        server.stop()
    say(
        f"POST answered -> task RUNNING in the API: p50 {pct(to_running, 50) * 1000:.0f} ms, "
        f"max {max(to_running) * 1000:.0f} ms"
    )
    if to_container:
        say(
            f"POST answered -> container created (Docker event): p50 {pct(to_container, 50) * 1000:.0f} ms, "
            f"max {max(to_container) * 1000:.0f} ms"
        )
    worst = max(to_running + to_container)
    results.append(
        Result(
            "d. POST -> first task started (max)",
            "<= 1 s",
            f"{worst * 1000:.0f} ms",
            worst <= FIRST_TASK_GOAL_S,
        )
    )


# --- main -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    goal: str
    target: str
    measured: str
    met: bool


def cleanup_containers(repo: Path) -> None:
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": f"org.r2o.repo={repo.resolve()}"}):
            c.remove(force=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--native", action="store_true", help="run components natively instead of in Docker")
    ap.add_argument("--parts", default="abcd", help="which parts to run (default abcd)")
    ap.add_argument("--quick", action="store_true", help="smaller numbers, to try the script")
    ap.add_argument("--seed-runs", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients (b, c) [50]")
    ap.add_argument("--read-clients", type=int, default=10, help="closed-loop readers (a) [10]")
    ap.add_argument("--read-seconds", type=float, default=5.0)
    ap.add_argument("--validate", type=int, default=1000)
    ap.add_argument("--real", type=int, default=200)
    ap.add_argument("--latency-runs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="the server's --workers")
    ap.add_argument("--timeout", type=float, default=1800, help="give up on unfinished runs after [1800 s]")
    ap.add_argument("--lease", type=float, default=30.0, help="the servers' --lease-seconds [30]")
    ap.add_argument("--poll", type=float, default=1.0, help="seconds between a client's polls of its runs")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="random seed (printed)")
    args = ap.parse_args()
    if args.quick:
        args.seed_runs, args.validate, args.real, args.latency_runs, args.read_seconds = 2000, 100, 20, 5, 2.0
    say(
        f"r2o service load: {os.cpu_count()} cores, {'native' if args.native else 'Docker'} runs, "
        f"server --workers {args.workers}, seed {args.seed}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="r2o-bench-service-"))
    repo = make_repo(tmp / "repo")
    issuer = Issuer()
    results: list[Result] = []
    t0 = time.perf_counter()
    try:
        if not args.native and set(args.parts) & set("bcd"):
            subprocess.run([*R2O, "--repo", str(repo), "build", PRODUCT], check=True, capture_output=True)
        if "a" in args.parts:
            part_a(tmp, issuer, args, results)
        if "b" in args.parts:
            part_bc(tmp, issuer, args, results, kills=False)
        if "c" in args.parts:
            part_bc(tmp, issuer, args, results, kills=True)
        if "d" in args.parts:
            part_d(tmp, issuer, args, results)
    finally:
        issuer.close()
        cleanup_containers(repo)
        shutil.rmtree(tmp, ignore_errors=True)
    say()
    say(f"== summary ({time.perf_counter() - t0:.0f} s)")
    width = max(len(r.goal) for r in results) if results else 10
    say(f"{'goal':{width}s}  {'target':>10s}  {'measured':>22s}  met")
    for r in results:
        say(f"{r.goal:{width}s}  {r.target:>10s}  {r.measured:>22s}  {'yes' if r.met else 'NO'}")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
