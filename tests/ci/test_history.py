"""The minutes past builds took (.r2o/cache/build-minutes.json): the planner's estimate when a
manifest declares none."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from r2o.ci import history
from tests.changes.conftest import write, write_monorepo
from tests.ci.fakes import FakeRegistry, fake_registry
from tests.conftest import make_git_repo
from tests.test_cli import assert_clean_error, r2o


def test_nothing_recorded_is_empty(tmp_path: Path) -> None:
    assert history.load(history.path_in(tmp_path)) == {}


def test_record_then_load_keeps_other_entries(tmp_path: Path) -> None:
    path = history.path_in(tmp_path)
    history.record(path, {"alpha": ("alpha:1.0.0-aaa", 3.256), "beta": ("beta:1.0.0-bbb", 7.0)})
    history.record(path, {"alpha": ("alpha:1.0.0-ccc", 4.0)})
    assert history.load(path) == {"alpha": 4.0, "beta": 7.0}
    assert json.loads(path.read_text())["images"]["alpha"]["tag"] == "alpha:1.0.0-ccc"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"version": 99, "images": {"alpha": {"minutes": 3}}}',
        '{"version": 1, "images": {"alpha": {"minutes": -1}, "beta": {"minutes": true}, "c": 5}}',
    ],
)
def test_a_damaged_or_foreign_file_is_ignored(tmp_path: Path, content: str) -> None:
    path = write(history.path_in(tmp_path), content)
    assert history.load(path) == {}


def test_builds_finishing_together_lose_nothing(tmp_path: Path) -> None:
    path = history.path_in(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: history.record(path, {f"c{i}": (f"c{i}:1", float(i + 1))}), range(40)))
    assert history.load(path) == {f"c{i}": float(i + 1) for i in range(40)}


def test_the_planner_uses_recorded_minutes(tmp_path: Path) -> None:
    root = make_git_repo(write_monorepo(tmp_path / "mono"))
    history.record(history.path_in(root), {"gamma": ("gamma:x", 17.5)})
    with fake_registry(FakeRegistry()) as reg:
        proc = r2o("ci", "plan", "--registry", reg.address, "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    by_name = {i["name"]: i for i in json.loads(proc.stdout)["images"]}
    assert (by_name["gamma"]["minutes"], by_name["gamma"]["minutes_from"]) == (17.5, "history")
    assert by_name["beta"]["minutes_from"] == "default"


def test_bad_build_minutes_in_an_image_is_a_manifest_error(tmp_path: Path) -> None:
    root = make_git_repo(write_monorepo(tmp_path / "mono"))
    image = root / "base-images" / "mid" / "image.yaml"
    image.write_text(image.read_text() + "build: {minutes: -2}\n")
    proc = r2o("ci", "plan", "--registry", "127.0.0.1:9", cwd=root)
    assert_clean_error(proc, 3, "base-images/mid/image.yaml", "minutes")


def test_build_minutes_in_an_image_is_read(tmp_path: Path) -> None:
    from r2o.ci import plan
    from r2o.repo import Repository

    root = write_monorepo(tmp_path / "mono")
    image = root / "base-images" / "mid" / "image.yaml"
    image.write_text(image.read_text() + "build: {minutes: 42}\n")
    assert plan.declared_minutes(Repository(root)) == {"mid": 42.0}
