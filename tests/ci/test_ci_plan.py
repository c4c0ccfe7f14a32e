"""`r2o ci plan`: which images a commit needs, packed into a few builds (packing, order, skip).

Packing is checked against rules written here, not against the packer's own arithmetic: every
image in exactly one build, at most ``max_builds`` builds, every base image built before the
images built FROM it (earlier in the same build, or in a build this one waits for).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from r2o.ci import plan, registry
from r2o.ci.plan import Bin, Item, pack
from r2o.errors import EngineError, InputError
from r2o.images.plan import BASE, COMPONENT, ImageGraph, ImageNode
from r2o.repo import Repository
from tests.changes.conftest import write, write_monorepo
from tests.ci.fakes import FakeRegistry, fake_registry
from tests.test_cli import assert_clean_error, r2o

# The fixture monorepo of tests/changes: what each image builds FROM (directly or through a parent).
NEEDS = {
    "root": set(),
    "mid": {"root"},
    "side": {"root"},
    "alpha": {"root", "mid"},
    "beta": {"root", "mid"},
    "gamma": {"root", "side", "mid"},
}


def check_packing(items: Sequence[Item], bins: Sequence[Bin], max_builds: int) -> None:
    """The packing rules, independent of how ``pack`` reaches them."""
    assert 1 <= len(bins) <= max_builds
    placed = [name for b in bins for name in b.images]
    assert sorted(placed) == sorted(i.name for i in items), "each image in exactly one build"
    where = {name: (i, b.images.index(name)) for i, b in enumerate(bins) for name in b.images}
    for i, b in enumerate(bins):
        assert all(d < i for d in b.depend_on), "a build waits only for earlier builds"

    def waits_for(i: int) -> set[int]:
        out: set[int] = set()
        todo = list(bins[i].depend_on)
        while todo:
            d = todo.pop()
            if d not in out:
                out.add(d)
                todo.extend(bins[d].depend_on)
        return out

    for item in items:
        at, index = where[item.name]
        for need in item.needs:
            need_at, need_index = where[need]
            same_build_earlier = need_at == at and need_index < index
            assert same_build_earlier or need_at in waits_for(at), f"{need} is not built before {item.name}"


def test_nothing_to_pack() -> None:
    assert pack([], 20) == []


def test_one_build_holds_everything_in_order() -> None:
    items = [Item("root", (), 8), Item("mid", ("root",), 8), Item("a", ("root", "mid"), 3)]
    assert pack(items, 1) == [Bin(("root", "mid", "a"))]


def test_one_changed_component_is_one_build() -> None:
    assert pack([Item("alpha", (), 3)], 20) == [Bin(("alpha",))]


def test_a_new_base_and_its_only_component_share_one_build() -> None:
    items = [Item("mid", (), 8), Item("alpha", ("mid",), 3)]
    assert pack(items, 20) == [Bin(("mid", "alpha"))]


def test_base_images_first_in_one_build_then_leaves_in_parallel_builds() -> None:
    items = [
        Item("root", (), 8),
        Item("mid", ("root",), 8),
        Item("side", ("root",), 8),
        Item("alpha", ("root", "mid"), 3),
        Item("beta", ("root", "mid"), 3),
        Item("gamma", ("root", "side"), 3),
    ]
    bins = pack(items, 20)
    assert bins[0] == Bin(("root", "mid", "side"))
    # Three 3-minute images, each worth more than a build's overhead: three builds after the first.
    assert sorted(bins[1:], key=lambda b: b.images) == [
        Bin(("alpha",), (0,)),
        Bin(("beta",), (0,)),
        Bin(("gamma",), (0,)),
    ]
    check_packing(items, bins, 20)


def test_longest_first_balances_the_builds() -> None:
    minutes = [10, 9, 8, 1, 1, 1]  # 30 minutes over 3 builds: 10 each is the best any packing can do
    items = [Item(f"c{i}", (), m) for i, m in enumerate(minutes)]
    bins = pack(items, 3)
    check_packing(items, bins, 3)
    load = {i.name: i.minutes for i in items}
    assert sorted(sum(load[n] for n in b.images) for b in bins) == [10, 10, 10]


def test_small_work_is_not_split_over_builds() -> None:
    # Five 12-second images: another build would cost more to start than it saves.
    items = [Item(f"c{i}", (), 0.2) for i in range(5)]
    assert pack(items, 20) == [Bin(tuple(f"c{i}" for i in range(5)))]


def test_an_item_needing_a_later_one_is_refused() -> None:
    with pytest.raises(ValueError, match="b needs a, which is not an earlier item"):
        pack([Item("b", ("a",), 1), Item("a", (), 1)], 5)


def synthetic(components: int, seed: int) -> list[Item]:
    """A root, two bases on it, a third on one of them, and components on any of them."""
    rng = random.Random(seed)
    items = [
        Item("root", (), 8),
        Item("py", ("root",), 6),
        Item("fortran", ("root",), 9),
        Item("fortran-run", ("root", "fortran"), 4),
    ]
    chains = [("root",), ("root", "py"), ("root", "fortran"), ("root", "fortran", "fortran-run")]
    for i in range(components):
        items.append(Item(f"c{i:04d}", rng.choice(chains), rng.choice([0.5, 1, 3, 3, 5, 12, 40])))
    return items


@pytest.mark.parametrize("max_builds", [1, 2, 3, 5, 20, 100])
@pytest.mark.parametrize("components", [0, 1, 7, 1000])
def test_packing_rules_hold_for_any_budget(max_builds: int, components: int) -> None:
    items = synthetic(components, seed=components * 101 + max_builds)
    check_packing(items, pack(items, max_builds), max_builds)


def test_packing_rules_hold_for_components_only_and_bases_only() -> None:
    only_components = [Item(f"c{i}", (), 3) for i in range(50)]
    check_packing(only_components, pack(only_components, 20), 20)
    bases = [Item("root", (), 8), *(Item(f"b{i}", ("root",), 5) for i in range(30))]
    check_packing(bases, pack(bases, 4), 4)


# --- plan_commit on a real image graph ------------------------------------------------------------------


@pytest.fixture
def graph(tmp_path: Path) -> ImageGraph:
    return ImageGraph.from_repo(Repository(write_monorepo(tmp_path / "mono")))


def holding(names: set[str]) -> plan.Present:
    def present(nodes: Sequence[ImageNode]) -> Mapping[str, bool]:
        return {n.name: n.name in names for n in nodes}

    return present


def commit_plan(graph: ImageGraph, held: set[str], max_builds: int = 20) -> plan.CommitPlan:
    return plan.plan_commit(
        graph, registry="127.0.0.1:5000", commit="0" * 40, present=holding(held), max_builds=max_builds
    )


def test_every_image_in_the_registry_plans_nothing(graph: ImageGraph) -> None:
    result = commit_plan(graph, set(NEEDS))
    assert result.empty and result.builds == () and result.images == ()
    assert sorted(result.skipped) == sorted(NEEDS)
    assert result.planned.builds == 1  # the planner alone
    assert result.to_json()["builds"] == [] and result.to_json()["skipped"] == 6


def test_one_missing_component_is_one_build_of_one_image(graph: ImageGraph) -> None:
    result = commit_plan(graph, set(NEEDS) - {"beta"})
    assert [b.images for b in result.builds] == [("beta",)]
    assert result.builds[0].depend_on == ()
    assert len(result.skipped) == 5
    assert result.planned.builds == 2


@pytest.mark.parametrize("max_builds", [1, 2, 3, 20])
def test_a_root_change_builds_every_image_once_in_order(graph: ImageGraph, max_builds: int) -> None:
    result = commit_plan(graph, set(), max_builds)
    items = [Item(i.name, tuple(NEEDS[i.name])) for i in result.images]
    ids = [b.identifier for b in result.builds]
    bins = [Bin(b.images, tuple(ids.index(d) for d in b.depend_on)) for b in result.builds]
    check_packing(items, bins, max_builds)
    assert sorted(i.name for i in result.images) == sorted(NEEDS)
    assert {i.name: i.build for i in result.images} == {
        n: b.identifier for b in result.builds for n in b.images
    }


def test_the_reason_for_each_image_without_a_change_set(graph: ImageGraph) -> None:
    result = commit_plan(graph, set(NEEDS) - {"gamma"})
    assert [(i.name, i.reason) for i in result.images] == [
        ("gamma", "its content tag is not in the registry")
    ]


def test_a_registry_that_cannot_answer_plans_nothing(graph: ImageGraph) -> None:
    def broken(nodes: Sequence[ImageNode]) -> Mapping[str, bool]:
        raise EngineError("registry 127.0.0.1:5000 cannot be reached: refused", hint="start it")

    with pytest.raises(EngineError, match="plans and starts nothing") as caught:
        plan.plan_commit(graph, registry="127.0.0.1:5000", commit="0" * 40, present=broken)
    assert "cannot be reached: refused" in caught.value.message and caught.value.hint == "start it"


@pytest.mark.parametrize("max_builds", [0, 101])
def test_max_builds_outside_codebuilds_limit(graph: ImageGraph, max_builds: int) -> None:
    with pytest.raises(InputError, match="outside 1-100"):
        commit_plan(graph, set(), max_builds)


def test_minutes_come_from_the_manifest_then_history_then_a_default(graph: ImageGraph) -> None:
    nodes = list(graph.nodes.values())
    costs = plan.costs(nodes, {"alpha": 12.0}, {"alpha": 1.0, "beta": 4.5})
    assert costs["alpha"] == (12.0, plan.MANIFEST)
    assert costs["beta"] == (4.5, plan.HISTORY)
    assert costs["gamma"] == (plan.DEFAULT_MINUTES[COMPONENT], plan.DEFAULT)
    assert costs["root"] == (plan.DEFAULT_MINUTES[BASE], plan.DEFAULT)
    assert plan.DEFAULT_MINUTES[BASE] > plan.DEFAULT_MINUTES[COMPONENT] > 0


# --- the registry's answers ------------------------------------------------------------------------------


def test_holds_asks_every_image_once(graph: ImageGraph) -> None:
    asked: list[str] = []

    def has(where: str, repository: str, tag: str) -> bool:
        asked.append(repository)
        return repository != "alpha"

    answer = registry.holds("r:1", list(graph.nodes.values()), has=has)
    assert answer == {n: n != "alpha" for n in NEEDS}
    assert sorted(asked) == sorted(NEEDS)


def test_holds_fails_once_for_an_unreachable_registry(graph: ImageGraph) -> None:
    asked: list[str] = []

    def has(where: str, repository: str, tag: str) -> bool:
        asked.append(repository)
        raise EngineError(f"registry {where} cannot be reached")

    with pytest.raises(EngineError, match="cannot be reached"):
        registry.holds("r:1", list(graph.nodes.values()), has=has)
    assert len(asked) == registry.ATTEMPTS  # the first image, asked twice; the others never


def test_holds_asks_again_after_one_dropped_answer(graph: ImageGraph) -> None:
    failures = {"beta": 1}

    def has(where: str, repository: str, tag: str) -> bool:
        if failures.get(repository):
            failures[repository] -= 1
            raise EngineError("connection reset")
        return True

    assert all(registry.holds("r:1", list(graph.nodes.values()), has=has).values())


@pytest.mark.parametrize("keep_alive", [True, False])
def test_holds_asks_a_real_http_registry(graph: ImageGraph, keep_alive: bool) -> None:
    nodes = list(graph.nodes.values())
    held = {(n.repository, n.tag_only) for n in nodes if n.name != "gamma"}
    with fake_registry(FakeRegistry(held, keep_alive=keep_alive)) as reg:
        answer = registry.holds(reg.address, nodes, workers=2)
    assert answer == {n: n != "gamma" for n in NEEDS}
    assert len(reg.asked) == 6
    # Kept-alive connections are reused: at most one per worker thread and the first question.
    assert len(reg.clients) <= 3 if keep_alive else len(reg.clients) == 6


def test_holds_reports_what_the_registry_answered(graph: ImageGraph) -> None:
    refused = pytest.raises(EngineError, match=r"answered 403 for [a-z]+:1\.0\.0-")
    with fake_registry(FakeRegistry(status=403, keep_alive=True)) as reg, refused as caught:
        registry.holds(reg.address, list(graph.nodes.values()))
    assert "docker login" in caught.value.hint


# --- the command -----------------------------------------------------------------------------------------


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    from tests.conftest import make_git_repo

    return make_git_repo(write_monorepo(tmp_path / "mono"))


def tags(root: Path) -> dict[str, tuple[str, str]]:
    graph = ImageGraph.from_repo(Repository(root))
    return {n.name: (n.repository, n.tag_only) for n in graph.nodes.values()}


def test_plan_json_skips_what_the_registry_holds(mono: Path) -> None:
    held = tags(mono)
    with fake_registry(FakeRegistry({held[n] for n in NEEDS if n != "alpha"})) as reg:
        proc = r2o("ci", "plan", "--registry", reg.address, "--base", "HEAD", "--json", cwd=mono)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [(b["images"], b["depend-on"]) for b in data["builds"]] == [(["alpha"], [])]
    assert data["skipped"] == 5
    assert data["images"][0]["name"] == "alpha"
    assert data["images"][0]["tag"] == f"alpha:{held['alpha'][1]}"
    assert "not changed since HEAD" in data["images"][0]["reason"]
    assert len(reg.asked) == 6


def test_plan_with_nothing_to_build_writes_the_plan_but_no_batch(mono: Path, tmp_path: Path) -> None:
    held = tags(mono)
    out, spec = tmp_path / "out" / "plan.json", tmp_path / "out" / "batch.yml"
    with fake_registry(FakeRegistry(set(held.values()))) as reg:
        proc = r2o(
            "ci", "plan", "--registry", reg.address, "--out", str(out), "--buildspec", str(spec), cwd=mono
        )
    assert proc.returncode == 0, proc.stderr
    assert "nothing to build: all 6 images are in the registry" in proc.stdout
    assert json.loads(out.read_text())["builds"] == []
    assert not spec.exists()


def test_plan_reads_build_minutes_from_the_manifest(mono: Path) -> None:
    manifest = mono / "components" / "beta" / "component.yaml"
    manifest.write_text(manifest.read_text().replace("include: []", "include: [], minutes: 25"))
    with fake_registry(FakeRegistry()) as reg:
        proc = r2o("ci", "plan", "--registry", reg.address, "--json", cwd=mono)
    assert proc.returncode == 0, proc.stderr
    beta = next(i for i in json.loads(proc.stdout)["images"] if i["name"] == "beta")
    assert (beta["minutes"], beta["minutes_from"]) == (25, "manifest")


def test_bad_build_minutes_is_a_manifest_error(mono: Path) -> None:
    manifest = mono / "components" / "beta" / "component.yaml"
    manifest.write_text(manifest.read_text().replace("include: []", "include: [], minutes: 0"))
    proc = r2o("ci", "plan", "--registry", "127.0.0.1:9", cwd=mono)
    assert_clean_error(proc, 3, "components/beta/component.yaml", "minutes")


def test_an_unreachable_registry_fails_the_plan_and_writes_nothing(mono: Path, tmp_path: Path) -> None:
    with fake_registry(FakeRegistry()) as reg:
        address = reg.address
    out = tmp_path / "plan.json"
    proc = r2o("ci", "plan", "--registry", address, "--out", str(out), cwd=mono)
    assert_clean_error(
        proc, 5, f"cannot tell which images the registry {address} holds", "plans and starts nothing"
    )
    assert not out.exists()


@pytest.mark.parametrize("status", [401, 500])
def test_a_registry_that_refuses_fails_the_plan(mono: Path, status: int) -> None:
    with fake_registry(FakeRegistry(status=status)) as reg:
        proc = r2o("ci", "plan", "--registry", reg.address, cwd=mono)
    assert_clean_error(proc, 5, f"answered {status}")


def test_plan_needs_a_registry(mono: Path) -> None:
    proc = r2o("ci", "plan", cwd=mono)
    assert_clean_error(proc, 2, "needs the registry", "--registry")


def test_max_builds_is_checked_by_the_command(mono: Path) -> None:
    proc = r2o("ci", "plan", "--registry", "127.0.0.1:9", "--max-builds", "0", cwd=mono)
    assert_clean_error(proc, 2, "--max-builds")


def test_a_broken_component_folder_fails_the_plan(mono: Path) -> None:
    write(mono / "components" / "broken" / "README.md", "# no manifest\n")
    proc = r2o("ci", "plan", "--registry", "127.0.0.1:9", cwd=mono)
    assert_clean_error(proc, 3, "components/broken")
