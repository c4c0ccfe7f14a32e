"""Stand-ins on loopback ports for what the planner talks to: a registry that answers HEAD requests
for manifests, and CodeBuild's JSON API (three calls). Both run in a thread of the test process;
the r2o under test (a subprocess) reaches them over HTTP as it would the real ones."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeRegistry:
    """Holds ``held`` (repository, tag) pairs; ``status`` other than None answers every HEAD with it."""

    held: set[tuple[str, str]] = field(default_factory=set)
    status: int | None = None
    keep_alive: bool = False  # HTTP/1.1 with connections kept open, as real registries do
    asked: list[str] = field(default_factory=list)
    clients: set[int] = field(default_factory=set)  # the client ports: one per connection
    address: str = ""


@contextmanager
def fake_registry(registry: FakeRegistry) -> Iterator[FakeRegistry]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if registry.keep_alive else "HTTP/1.0"

        def do_HEAD(self) -> None:
            registry.asked.append(self.path)
            registry.clients.add(self.client_address[1])
            parts = self.path.split("/")  # /v2/<repository>/manifests/<tag>
            found = len(parts) == 5 and parts[1] == "v2" and parts[3] == "manifests"
            code = registry.status or (200 if found and (parts[2], parts[4]) in registry.held else 404)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as address:
        registry.address = address
        yield registry


@dataclass
class FakeCodeBuild:
    """StartBuildBatch, BatchGetBuildBatches (IN_PROGRESS once, then ``final``) and StopBuildBatch."""

    final: str = "SUCCEEDED"
    groups: dict[str, str] = field(default_factory=dict)  # identifier -> final build status
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def answer(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((action, body))
        if action == "StartBuildBatch":
            return {"buildBatch": {"id": f"{body['projectName']}:batch-1", "buildBatchStatus": "IN_PROGRESS"}}
        if action == "BatchGetBuildBatches":
            polls = sum(1 for a, _ in self.calls if a == action)
            done = polls > 1
            groups = [
                {
                    "identifier": ident,
                    "currentBuildSummary": {"buildStatus": status if done else "IN_PROGRESS"},
                }
                for ident, status in self.groups.items()
            ]
            status = self.final if done else "IN_PROGRESS"
            return {
                "buildBatches": [{"id": body["ids"][0], "buildBatchStatus": status, "buildGroups": groups}]
            }
        if action == "StopBuildBatch":
            return {"buildBatch": {"id": body["id"], "buildBatchStatus": "STOPPED"}}
        raise AssertionError(f"unexpected CodeBuild call {action}")


@contextmanager
def fake_codebuild(codebuild: FakeCodeBuild) -> Iterator[FakeCodeBuild]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = self.headers.get("X-Amz-Target", "")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            data = json.dumps(codebuild.answer(target.rpartition(".")[2], body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as address:
        codebuild.url = f"http://{address}"
        yield codebuild


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
