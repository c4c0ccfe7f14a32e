"""`r2o ci node`: the plan, decided from the registry and the local engine (fakes here, no Docker)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from r2o.ci import node
from r2o.errors import UsageError
from r2o.images import build as builder
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from tests.changes.conftest import write_monorepo
from tests.test_cli import assert_clean_error, r2o

REGISTRY = "127.0.0.1:5999"


@pytest.fixture
def graph(tmp_path: Path) -> ImageGraph:
    return ImageGraph.from_repo(Repository(write_monorepo(tmp_path / "mono")))


def plan(graph: ImageGraph, name: str, *, local: set[str], remote: set[str]) -> node.NodePlan:
    return node.plan_node(
        graph,
        name,
        registry=REGISTRY,
        exists_local=lambda tag: tag.split(":")[0] in local,
        exists_remote=lambda n: n.name in remote,
    )


def test_up_to_date_when_the_registry_has_the_tag(graph: ImageGraph) -> None:
    calls: list[str] = []

    def local(tag: str) -> bool:
        calls.append(tag)
        return False

    p = node.plan_node(graph, "alpha", registry=REGISTRY, exists_local=local, exists_remote=lambda n: True)
    assert p.up_to_date
    assert calls == []  # an up-to-date node never asks the engine
    assert p.describe() == [f"up to date: {graph.node('alpha').tag} is in {REGISTRY}"]


def test_component_with_bases_in_the_registry_pulls_what_is_not_local(graph: ImageGraph) -> None:
    p = plan(graph, "alpha", local={"root"}, remote={"root", "mid"})
    assert not p.up_to_date
    assert [n.name for n in p.pulls] == ["mid"]
    assert p.ancestors == () and p.build_target and p.runs_tests
    lines = p.describe()
    assert lines[0] == f"pull  {REGISTRY}/{graph.node('mid').tag} (needed by alpha)"
    assert lines[-1].endswith("if every case passes")


def test_missing_ancestors_are_built_or_pushed_first(graph: ImageGraph) -> None:
    p = plan(graph, "gamma", local={"root"}, remote=set())
    # gamma builds FROM side and uses mid as a stage image: every ancestor, parents first
    assert [(s.node.name, s.action, s.push) for s in p.ancestors] == [
        ("root", builder.PUSH, True),
        ("mid", builder.BUILD, True),
        ("side", builder.BUILD, True),
    ]


def test_base_image_node_builds_without_tests(graph: ImageGraph) -> None:
    p = plan(graph, "mid", local={"mid"}, remote={"root"})
    assert not p.runs_tests and not p.build_target
    assert p.describe() == [
        f"reuse {graph.node('mid').tag} (built locally)",
        f"push  {REGISTRY}/{graph.node('mid').tag}",
    ]


def test_registry_is_required(graph: ImageGraph) -> None:
    with pytest.raises(UsageError, match="R2O_REGISTRY"):
        node.plan_node(
            graph, "alpha", registry=None, exists_local=lambda t: False, exists_remote=lambda n: False
        )


def test_unknown_target(graph: ImageGraph) -> None:
    from r2o.errors import NotFoundError

    with pytest.raises(NotFoundError, match="did you mean 'alpha'"):
        plan(graph, "alpah", local=set(), remote=set())


# --- the command, up to the point where Docker would be needed -------------------------------------


class _AllPresent(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def full_registry() -> Iterator[str]:
    """A registry stand-in that holds every tag (HEAD manifests -> 200)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AllPresent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_node_up_to_date_exits_at_once(tmp_path: Path, full_registry: str) -> None:
    root = write_monorepo(tmp_path / "mono")
    proc = r2o("ci", "node", "alpha", "--registry", full_registry, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("up to date: alpha:1.0.0-") and full_registry in proc.stdout


def test_node_needs_a_registry(tmp_path: Path) -> None:
    root = write_monorepo(tmp_path / "mono")
    assert_clean_error(r2o("ci", "node", "alpha", cwd=root), 2, "R2O_REGISTRY")


def test_node_unreachable_registry(tmp_path: Path) -> None:
    root = write_monorepo(tmp_path / "mono")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        assert_clean_error(
            r2o("ci", "node", "alpha", "--registry", f"127.0.0.1:{port}", cwd=root), 5, "cannot be reached"
        )


def test_node_unknown_target(tmp_path: Path, full_registry: str) -> None:
    root = write_monorepo(tmp_path / "mono")
    assert_clean_error(
        r2o("ci", "node", "alpah", "--registry", full_registry, cwd=root), 4, "did you mean 'alpha'?"
    )
