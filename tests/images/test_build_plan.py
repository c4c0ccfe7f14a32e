"""Build order and build plans as data, and the executor against a fake engine (unit tier: no Docker)."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import docker.errors
import pytest

from r2o.errors import BuildError, UsageError
from r2o.images import build as builder
from r2o.images.build import BUILD, PUSH, SKIP, BuildEvent, BuildPlan, plan_builds
from r2o.images.engine import Engine, _is_loopback
from r2o.images.plan import ImageGraph, ImageNode
from r2o.repo import Repository
from tests.conftest import REPO_ROOT, make_git_repo
from tests.images.sample_repo import write_sample_repo


@pytest.fixture
def graph(tmp_path: Path) -> ImageGraph:
    return ImageGraph.from_repo(Repository(make_git_repo(write_sample_repo(tmp_path / "repo"))))


def names(nodes: list[ImageNode]) -> list[str]:
    return [n.name for n in nodes]


class Lookups:
    """exists_local / exists_remote stand-ins that remember what they were asked."""

    def __init__(
        self, graph: ImageGraph, local: set[str] = frozenset(), remote: set[str] = frozenset()
    ) -> None:
        self.local_tags = {graph.node(n).tag for n in local}
        self.remote = set(remote)
        self.asked_local: list[str] = []
        self.asked_remote: list[str] = []

    def exists_local(self, tag: str) -> bool:
        self.asked_local.append(tag)
        return tag in self.local_tags

    def exists_remote(self, node: ImageNode) -> bool:
        self.asked_remote.append(node.name)
        return node.name in self.remote


def actions(plan: BuildPlan) -> list[tuple[str, str, bool]]:
    return [(s.node.name, s.action, s.push) for s in plan.steps]


# --- order ----------------------------------------------------------------------------------------


def test_order_puts_ancestors_first_and_each_image_once(graph: ImageGraph) -> None:
    assert names(graph.order(["alpha"])) == ["root", "mid", "alpha"]
    assert names(graph.order(["gamma", "alpha", "beta", "mid"])) == [
        "root",
        "mid",
        "side",
        "alpha",
        "beta",
        "gamma",
    ]
    assert names(graph.order(["root"])) == ["root"]


def test_order_of_everything_builds_every_parent_before_its_children(graph: ImageGraph) -> None:
    order = names(graph.order(graph.nodes))
    assert sorted(order) == sorted(graph.nodes)
    for position, name in enumerate(order):
        parent = graph.node(name).parent
        if parent is not None:
            assert order.index(parent) < position, (parent, name, order)
    kinds = [graph.node(n).kind for n in order]
    assert kinds == sorted(kinds, key=lambda k: k != "base-image")  # base images before components


# --- plans ----------------------------------------------------------------------------------------


def test_nothing_built_builds_the_whole_chain(graph: ImageGraph) -> None:
    look = Lookups(graph)
    plan = plan_builds(graph, ["alpha"], exists_local=look.exists_local)
    assert actions(plan) == [("root", BUILD, False), ("mid", BUILD, False), ("alpha", BUILD, False)]
    assert look.asked_local == [graph.node(n).tag for n in ("root", "mid", "alpha")]
    assert plan.work == list(plan.steps)


def test_existing_tags_are_skipped(graph: ImageGraph) -> None:
    look = Lookups(graph, local={"root", "mid", "beta"})
    plan = plan_builds(graph, ["alpha", "beta"], exists_local=look.exists_local)
    assert actions(plan) == [
        ("root", SKIP, False),
        ("mid", SKIP, False),
        ("alpha", BUILD, False),
        ("beta", SKIP, False),
    ]
    assert [s.node.name for s in plan.work] == ["alpha"]


def test_everything_existing_is_a_plan_of_skips(graph: ImageGraph) -> None:
    look = Lookups(graph, local=set(graph.nodes))
    plan = plan_builds(graph, list(graph.nodes), exists_local=look.exists_local)
    assert {s.action for s in plan.steps} == {SKIP}
    assert plan.work == []
    assert len(plan.steps) == len(graph.nodes)


def test_a_changed_parent_rebuilds_its_dependents(tmp_path: Path) -> None:
    root = make_git_repo(write_sample_repo(tmp_path / "repo"))
    built = {n.tag for n in ImageGraph.from_repo(Repository(root)).nodes.values()}
    dockerfile = root / "base-images/mid/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# changed\n")
    graph = ImageGraph.from_repo(Repository(root))
    plan = plan_builds(graph, list(graph.nodes), exists_local=lambda tag: tag in built)
    assert {s.node.name for s in plan.work} == {"mid", "alpha", "beta"}


def test_push_needs_a_registry(graph: ImageGraph) -> None:
    with pytest.raises(UsageError, match="--push needs --registry"):
        plan_builds(
            graph, ["alpha"], exists_local=lambda tag: False, exists_remote=lambda node: False, push=True
        )


def test_push_skips_what_the_registry_has_and_pushes_what_is_only_local(graph: ImageGraph) -> None:
    look = Lookups(graph, local={"root", "mid"}, remote={"root"})
    plan = plan_builds(
        graph,
        ["alpha"],
        exists_local=look.exists_local,
        exists_remote=look.exists_remote,
        push=True,
        registry="127.0.0.1:5000",
    )
    assert actions(plan) == [("root", SKIP, False), ("mid", PUSH, True), ("alpha", BUILD, True)]
    assert look.asked_remote == ["root", "mid", "alpha"]
    text = plan.describe()
    assert f"skip  {graph.node('root').tag}  ({graph.node('root').tag} is in 127.0.0.1:5000)" in text
    assert f"push  {graph.node('mid').tag}" in text
    assert f"build {graph.node('alpha').tag} and push to 127.0.0.1:5000" in text


def test_describe(graph: ImageGraph) -> None:
    plan = plan_builds(graph, ["gamma"], exists_local=lambda tag: tag.startswith("root:"))
    lines = plan.describe().splitlines()
    assert lines[0] == f"skip  {graph.node('root').tag}  (tag exists locally)"
    assert lines[1] == f"build {graph.node('side').tag}  (tag not built yet)"
    assert BuildPlan((), None).describe() == "nothing to build"


def test_build_args_name_the_parents_content_tag(graph: ImageGraph) -> None:
    assert builder.build_args(graph.node("root"), graph, None) == {}
    assert builder.build_args(graph.node("mid"), graph, None) == {
        "BASE_IMAGE": graph.node("root").tag,
        "PACKAGES": "python3",
    }
    assert builder.build_args(graph.node("side"), graph, "127.0.0.1:5000") == {
        "BASE_IMAGE": graph.node("root").tag,
        "FLAVOR": "plain",
    }
    assert builder.build_args(graph.node("alpha"), graph, None) == {"BASE_IMAGE": graph.node("mid").tag}


def test_build_context_holds_the_folder_and_its_includes(graph: ImageGraph, tmp_path: Path) -> None:
    extra = tmp_path / "rootfs.tar"
    extra.write_bytes(b"tarball")
    buf = io.BytesIO()
    builder._write_context(buf, graph.node("alpha"), graph.root, {"rootfs.tar": extra})
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        members = sorted(tar.getnames())
    assert members == [
        "Dockerfile",
        "algorithm.py",
        "component.yaml",
        "libs/shared/__init__.py",
        "rootfs.tar",
    ]


# --- executing a plan against a fake engine -------------------------------------------------------


class FakeEngine:
    """Records builds, tags and pushes; images it built report an empty ENTRYPOINT."""

    def __init__(
        self, fail_on: str | None = None, entrypoint: list[str] | None = None, local: set[str] = frozenset()
    ) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.contexts: dict[str, list[str]] = {}
        self.buildargs: dict[str, dict[str, str]] = {}
        self.fail_on = fail_on
        self.entrypoint = entrypoint
        self.built: set[str] = set(local)

    def has_local(self, ref: str) -> bool:
        return ref in self.built

    def pull(self, ref: str) -> None:
        self.calls.append(("pull", ref))
        self.built.add(ref)

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
        self.calls.append(("build", tag))
        with tarfile.open(fileobj=context) as tar:
            self.contexts[tag] = sorted(tar.getnames())
        self.buildargs[tag] = buildargs
        assert labels["org.r2o.content-tag"] == tag
        on_line("Step 1/2 : FROM x")
        if self.fail_on and tag.startswith(self.fail_on + ":"):
            raise BuildError(f"building {tag} failed at Step 2/2")
        self.built.add(tag)
        return []

    def image(self, ref: str) -> Any:
        if ref not in self.built:
            return None
        return type("Image", (), {"attrs": {"Config": {"Entrypoint": self.entrypoint}}})()

    def tag(self, source: str, ref: str) -> None:
        self.calls.append(("tag", source, ref))
        if source in self.built:
            self.built.add(ref)

    def push(self, ref: str, on_line: Callable[[str], None]) -> None:
        self.calls.append(("push", ref))

    def remove(self, ref: str) -> None:
        self.calls.append(("remove", ref))
        self.built.discard(ref)


@pytest.fixture
def cache_dir(graph: ImageGraph, tmp_path: Path) -> Path:
    """A cached rootfs for the root image, so executing never runs mmdebstrap."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"rootfs-{graph.node('root').tag_only}.tar").write_bytes(b"cached rootfs")
    return cache


def run_plan(plan: BuildPlan, graph: ImageGraph, engine: FakeEngine, cache_dir: Path) -> list[BuildEvent]:
    events: list[BuildEvent] = []
    builder.execute(plan, graph, engine, report=events.append, cache_dir=cache_dir)  # type: ignore[arg-type]
    return events


def test_execute_builds_parents_first_with_their_tags(graph: ImageGraph, cache_dir: Path) -> None:
    engine = FakeEngine()
    plan = plan_builds(graph, ["alpha"], exists_local=lambda tag: False)
    events = run_plan(plan, graph, engine, cache_dir)
    tag = {n: graph.node(n).tag for n in graph.nodes}
    assert engine.calls == [("build", tag["root"]), ("build", tag["mid"]), ("build", tag["alpha"])]
    assert "rootfs.tar" in engine.contexts[tag["root"]]  # the cached rootfs, not a new mmdebstrap run
    assert engine.buildargs[tag["mid"]]["BASE_IMAGE"] == tag["root"]
    assert engine.buildargs[tag["alpha"]] == {"BASE_IMAGE": tag["mid"]}
    assert [(e.step.node.name, e.kind) for e in events] == [
        ("root", "start"),
        ("root", "line"),
        ("root", "done"),
        ("mid", "start"),
        ("mid", "line"),
        ("mid", "done"),
        ("alpha", "start"),
        ("alpha", "line"),
        ("alpha", "done"),
    ]
    assert events[1].text == "Step 1/2 : FROM x"


def test_execute_skips_and_pushes(graph: ImageGraph, cache_dir: Path) -> None:
    engine = FakeEngine(local={graph.node("root").tag, graph.node("mid").tag})
    registry = "127.0.0.1:5000"
    plan = plan_builds(
        graph,
        ["beta"],
        exists_local=lambda tag: not tag.startswith("beta:"),
        exists_remote=lambda node: node.name == "root",
        push=True,
        registry=registry,
    )
    run_plan(plan, graph, engine, cache_dir)
    mid, beta = graph.node("mid").tag, graph.node("beta").tag
    assert engine.calls == [
        ("tag", mid, f"{registry}/{mid}"),
        ("push", f"{registry}/{mid}"),
        ("build", beta),
        ("tag", beta, f"{registry}/{beta}"),
        ("push", f"{registry}/{beta}"),
    ]


def test_a_fresh_engine_pulls_the_base_images_the_registry_has(graph: ImageGraph, cache_dir: Path) -> None:
    # CodeBuild: a new engine, base images in the registry, a changed component.
    engine = FakeEngine()
    registry = "127.0.0.1:5000"
    plan = plan_builds(
        graph,
        ["alpha"],
        exists_local=engine.has_local,
        exists_remote=lambda node: node.name != "alpha",
        push=True,
        registry=registry,
    )
    assert [s.action for s in plan.steps] == [SKIP, SKIP, BUILD]
    run_plan(plan, graph, engine, cache_dir)
    mid, alpha = graph.node("mid").tag, graph.node("alpha").tag
    assert engine.calls == [
        ("pull", f"{registry}/{mid}"),
        ("tag", f"{registry}/{mid}", mid),  # the build names its parent by the local tag
        ("build", alpha),
        ("tag", alpha, f"{registry}/{alpha}"),
        ("push", f"{registry}/{alpha}"),
    ]
    assert engine.buildargs[alpha]["BASE_IMAGE"] == mid


def test_a_missing_parent_without_a_registry_says_what_to_build(graph: ImageGraph, cache_dir: Path) -> None:
    engine = FakeEngine()
    plan = BuildPlan((builder.BuildStep(graph.node("beta"), BUILD, "tag not built yet"),), None)
    with pytest.raises(BuildError, match="run: r2o build mid"):
        run_plan(plan, graph, engine, cache_dir)
    assert engine.calls == []


def test_a_failed_build_stops_the_plan(graph: ImageGraph, cache_dir: Path) -> None:
    engine = FakeEngine(fail_on="mid")
    plan = plan_builds(graph, ["alpha", "gamma"], exists_local=lambda tag: False)
    with pytest.raises(BuildError, match="failed at Step 2/2"):
        run_plan(plan, graph, engine, cache_dir)
    assert [c[1].split(":")[0] for c in engine.calls] == ["root", "mid"]


def test_an_entrypoint_that_differs_from_the_manifest_is_removed(graph: ImageGraph, cache_dir: Path) -> None:
    engine = FakeEngine(entrypoint=["python3", "/app/other.py"], local={graph.node("mid").tag})
    plan = plan_builds(graph, ["beta"], exists_local=lambda tag: not tag.startswith("beta:"))
    with pytest.raises(BuildError) as info:
        run_plan(plan, graph, engine, cache_dir)
    assert "ENTRYPOINT ['python3', '/app/other.py'] differs from component.yaml's entrypoint []" in str(
        info.value
    )
    assert engine.calls[-1] == ("remove", graph.node("beta").tag)


# --- the engine's build log handling, with a fake Docker client -----------------------------------


class FakeApi:
    def __init__(self, chunks: list[dict[str, Any]] | Exception) -> None:
        self.chunks = chunks

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        assert kwargs["pull"] is False  # nothing is ever pulled from a registry
        assert kwargs["custom_context"] is True
        if isinstance(self.chunks, Exception):
            raise self.chunks
        yield from self.chunks


def fake_engine(chunks: list[dict[str, Any]] | Exception) -> Engine:
    client = type("Client", (), {"api": FakeApi(chunks)})()
    return Engine(client)  # type: ignore[arg-type]


def engine_build(engine: Engine, lines: list[str]) -> list[str]:
    return engine.build(
        context=io.BytesIO(),
        dockerfile="Dockerfile",
        tag="x:1.0.0-000000000000",
        buildargs={},
        labels={},
        on_line=lines.append,
    )


def test_engine_streams_the_build_log() -> None:
    lines: list[str] = []
    log = engine_build(
        fake_engine(
            [
                {"stream": "Step 1/2 : FROM a\n"},
                {"stream": " ---> abc\nStep 2/2 : RUN b\n"},
                {"aux": {"ID": "sha256:1"}},
            ]
        ),
        lines,
    )
    assert lines == ["Step 1/2 : FROM a", " ---> abc", "Step 2/2 : RUN b"]
    assert log == lines


def test_a_failed_build_names_the_step_and_the_log_tail() -> None:
    chunks: list[dict[str, Any]] = [{"stream": "Step 1/3 : FROM a\n"}, {"stream": "Step 2/3 : RUN make\n"}]
    chunks += [{"stream": f"compiler line {i}\n"} for i in range(40)]
    chunks.append({"error": "The command '/bin/sh -c make' returned a non-zero code: 2"})
    with pytest.raises(BuildError) as info:
        engine_build(fake_engine(chunks), [])
    message = str(info.value)
    assert "building x:1.0.0-000000000000 failed at Step 2/3 : RUN make" in message
    assert "returned a non-zero code: 2" in message
    assert "| compiler line 39" in message
    assert "compiler line 10" not in message  # only the last lines
    assert info.value.exit_code == 6


def test_an_engine_refusal_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="the Docker engine refused to build"):
        engine_build(fake_engine(docker.errors.APIError("boom", explanation="no space left")), [])


@pytest.mark.parametrize(
    ("registry", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("localhost:5000", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        ("registry.example:5000", False),
        ("10.0.0.1:5000", False),
    ],
)
def test_loopback_registries_use_plain_http(registry: str, loopback: bool) -> None:
    assert _is_loopback(registry) is loopback


# --- the CLI rejects bad arguments before it needs an engine --------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        ([], 2, "nothing to build"),
        (["--all", "alpha"], 2, "--all"),  # names and --all are exclusive
        (["alpah"], 4, "did you mean 'alpha'?"),
    ],
)
def test_build_cli_bad_arguments(graph: ImageGraph, args: list[str], code: int, needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from r2o.cli.main import main; main()", "build", *args],
        cwd=graph.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


# --- how the engine is driven ---------------------------------------------------------------------


def test_images_and_runs_drive_the_engine_through_the_sdk_not_shell_strings() -> None:
    package = REPO_ROOT / "tools" / "r2o"
    modules = [
        *sorted((package / "images").glob("*.py")),
        *sorted((package / "run").glob("*.py")),
    ]
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(REPO_ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.keyword) and node.arg == "shell":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, where
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                assert node.attr not in ("system", "popen"), where
            if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant):
                assert node.elts[0].value != "docker", f"{where}: runs the docker CLI"
            if path.name in ("engine.py", "docker.py", "build.py", "plan.py"):  # tags.py asks git
                imported = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                assert "subprocess" not in imported, f"{where}: imports subprocess"
