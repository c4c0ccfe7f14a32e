"""Change detection over fixture git repositories: which images a commit affects."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from r2o import changes
from r2o.changes import ADDED, DELETED, MODIFIED, FileChange, Layout
from r2o.errors import GitError, ManifestError, UsageError
from r2o.repo import Repository
from tests.changes.conftest import commit, write, write_component
from tests.conftest import git


def detect(
    root: Path, *, base: str | None = None, head: str | None = None, uncommitted: bool = False
) -> changes.ChangeSet:
    return changes.detect(Repository(root), base=base, head=head, uncommitted=uncommitted)


def test_component_file(monorepo: Path) -> None:
    write(monorepo / "components" / "beta" / "algorithm.py", "print('beta 2')\n")
    commit(monorepo)
    found = detect(monorepo)
    assert found.components_changed == ("beta",)
    assert found.components == ["beta"]
    assert found.images == ["beta"]
    assert found.base_images == [] and not found.components_affected
    assert found.files == (FileChange(MODIFIED, "components/beta/algorithm.py"),)
    assert not found.everything


@pytest.mark.parametrize("rel", ["README.md", "tests/golden/one/case.yaml", "docs/notes.txt"])
def test_every_path_under_a_component_counts(monorepo: Path, rel: str) -> None:
    write(monorepo / "components" / "alpha" / rel, "changed\n")
    commit(monorepo)
    assert detect(monorepo).components == ["alpha"]


def test_base_image_change_reaches_its_dependents(monorepo: Path) -> None:
    write(monorepo / "base-images" / "mid" / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN true\n")
    commit(monorepo)
    found = detect(monorepo)
    assert found.base_images_changed == ("mid",)
    assert found.components_changed == ()
    # gamma builds FROM side, but uses mid as a stage image (build.images): affected too
    assert found.components_affected == {
        "alpha": ("base image mid changed",),
        "beta": ("base image mid changed",),
        "gamma": ("base image mid changed",),
    }
    assert found.images == ["mid", "alpha", "beta", "gamma"]


def test_root_image_change_reaches_everything(monorepo: Path) -> None:
    write(
        monorepo / "base-images" / "root" / "image.yaml",
        (monorepo / "base-images" / "root" / "image.yaml").read_text().replace("A test", "The test"),
    )
    commit(monorepo)
    found = detect(monorepo)
    assert found.base_images_changed == ("root",)
    assert set(found.base_images_affected) == {"mid", "side"}
    assert found.components == ["alpha", "beta", "gamma"]
    assert found.images == ["mid", "root", "side", "alpha", "beta", "gamma"]


def test_side_image_change(monorepo: Path) -> None:
    write(monorepo / "base-images" / "side" / "notes.txt", "x\n")
    commit(monorepo)
    found = detect(monorepo)
    assert found.base_images_changed == ("side",)
    assert found.components == ["gamma"]


def test_lib_change_reaches_the_components_that_include_it(monorepo: Path) -> None:
    write(monorepo / "libs" / "shared" / "shared.py", "X = 2\n")
    write(monorepo / "libs" / "unused" / "unused.py", "Y = 2\n")
    commit(monorepo)
    found = detect(monorepo)
    assert found.libs_changed == ("shared", "unused")
    assert found.components_affected == {"alpha": ("includes libs/shared",)}
    assert found.components == ["alpha"]
    assert found.base_images == []


def test_pipeline_readme_and_tooling_select_no_image(monorepo: Path) -> None:
    write(monorepo / "pipelines" / "aqcast.yaml", "name: aqcast\nsteps: []\n")
    write(monorepo / "README.md", "# monorepo, documented\n")
    write(monorepo / "tools" / "r2o" / "x.py", "pass  # changed\n")
    write(monorepo / "pyproject.toml", "[project]\n")
    commit(monorepo)
    found = detect(monorepo)
    assert found.pipelines_changed == ("aqcast",)
    assert found.other_changed == ("README.md",)
    assert found.tooling_changed == ("pyproject.toml", "tools/r2o/x.py")
    assert found.images == []
    assert "no image is affected" in changes.summary_lines(found)


def test_deleted_component(monorepo: Path) -> None:
    shutil.rmtree(monorepo / "components" / "beta")
    commit(monorepo)
    found = detect(monorepo)
    assert found.components_deleted == ("beta",)
    assert found.components == []
    assert {f.status for f in found.files} == {DELETED}


def test_renamed_component(monorepo: Path) -> None:
    shutil.rmtree(monorepo / "components" / "beta")
    write_component(monorepo, "delta", "mid")
    commit(monorepo)
    found = detect(monorepo)
    assert found.components_deleted == ("beta",)
    assert found.components_changed == ("delta",)
    assert FileChange(ADDED, "components/delta/component.yaml") in found.files


def test_broken_component_folder_is_an_error(monorepo: Path) -> None:
    write(monorepo / "components" / "broken" / "notes.txt", "no manifest here\n")
    commit(monorepo)
    with pytest.raises(ManifestError, match=r"components/broken: component folder has no component\.yaml"):
        detect(monorepo)


def test_invalid_manifest_is_an_error(monorepo: Path) -> None:
    manifest = monorepo / "components" / "beta" / "component.yaml"
    manifest.write_text(manifest.read_text().replace("base: mid", "base: nope"))
    commit(monorepo)
    with pytest.raises(ManifestError, match="no base image named 'nope'"):
        detect(monorepo)


def test_merge_base_ignores_what_landed_on_main_since(monorepo: Path) -> None:
    git(monorepo, "checkout", "-q", "-b", "feature")
    write(monorepo / "components" / "alpha" / "algorithm.py", "print('feature')\n")
    commit(monorepo, "feature work")
    git(monorepo, "checkout", "-q", "main")
    write(monorepo / "components" / "beta" / "algorithm.py", "print('main moved on')\n")
    commit(monorepo, "main work")
    git(monorepo, "checkout", "-q", "feature")
    found = detect(monorepo, base="main")
    assert found.components == ["alpha"]  # beta's change is on main, not on this branch
    assert found.merge_base == git(monorepo, "merge-base", "main", "feature").strip()


def test_base_and_head_revisions(monorepo: Path) -> None:
    first = git(monorepo, "rev-parse", "HEAD").strip()
    write(monorepo / "components" / "alpha" / "algorithm.py", "print(1)\n")
    second = commit(monorepo)
    write(monorepo / "components" / "beta" / "algorithm.py", "print(2)\n")
    commit(monorepo)
    assert detect(monorepo, base=first, head=second).components == ["alpha"]
    assert detect(monorepo, base=first).components == ["alpha", "beta"]
    assert detect(monorepo, base=second).components == ["beta"]


def test_uncommitted_and_untracked(monorepo: Path) -> None:
    write(monorepo / "components" / "alpha" / "algorithm.py", "print('dirty')\n")
    write(monorepo / "components" / "gamma" / "new_file.py", "pass\n")  # untracked
    assert detect(monorepo, base="HEAD").components == []
    found = detect(monorepo, base="HEAD", uncommitted=True)
    assert found.components == ["alpha", "gamma"]
    assert found.head == changes.WORKTREE
    assert FileChange(ADDED, "components/gamma/new_file.py") in found.files


def test_uncommitted_with_another_head_is_a_usage_error(monorepo: Path) -> None:
    write(monorepo / "README.md", "x\n")
    commit(monorepo)
    with pytest.raises(UsageError, match="--uncommitted"):
        detect(monorepo, base="HEAD~1", head="HEAD~1", uncommitted=True)


def test_unknown_base_treats_everything_as_changed(monorepo: Path) -> None:
    found = detect(monorepo, base="no-such-branch")
    assert found.everything
    assert "base revision 'no-such-branch' is unknown" in found.history_missing
    assert found.components == ["alpha", "beta", "gamma"]
    assert found.base_images == ["mid", "root", "side"]
    lines = changes.summary_lines(found)
    assert lines[0].startswith("history is missing") and "every component and base image" in lines[1]


def test_first_commit_has_no_parent(monorepo: Path) -> None:
    found = detect(monorepo)  # HEAD~1 of a one-commit history
    assert found.everything and "HEAD~1" in found.history_missing


def test_shallow_clone(monorepo: Path, shallow_clone: Callable[[int], Path]) -> None:
    write(monorepo / "components" / "alpha" / "algorithm.py", "print(1)\n")
    commit(monorepo)
    write(monorepo / "components" / "beta" / "algorithm.py", "print(2)\n")
    commit(monorepo)
    shallow = shallow_clone(1)
    found = detect(shallow)
    assert found.everything
    assert "shallow clone" in found.history_missing and "git fetch --unshallow" in found.history_missing
    assert found.components == ["alpha", "beta", "gamma"]
    # with enough history, the same question has its precise answer
    assert detect(shallow_clone(2)).components == ["beta"]


def test_not_a_git_checkout(tmp_path: Path) -> None:
    from tests.changes.conftest import write_monorepo

    root = write_monorepo(tmp_path / "plain")
    with pytest.raises(GitError, match="not a git checkout"):
        detect(root)


def test_unknown_head_is_an_error(monorepo: Path) -> None:
    with pytest.raises(GitError, match="unknown head revision 'nope'"):
        detect(monorepo, head="nope")


# --- the pure mapping, without git -----------------------------------------------------------------


LAYOUT = Layout(
    component_bases={"a": "py", "b": "py", "f": "fortran-run"},
    image_parents={"deb": None, "py": "deb", "fortran-run": "deb", "fortran-build": "deb"},
    includes={"a": ("libs/x", "data/tables.csv"), "b": ("libs/x/sub",)},
    stage_images={"f": ("fortran-build",)},
)


def classify(*paths: str) -> changes.ChangeSet:
    return changes.classify(
        [FileChange(MODIFIED, p) for p in paths], LAYOUT, base="b", head="h", merge_base="m"
    )


def test_includes_match_whole_path_components() -> None:
    assert classify("libs/x/sub/mod.py").components == ["a", "b"]
    assert classify("libs/x/top.py").components == ["a"]
    assert classify("libs/xy/top.py").components == []  # libs/xy is not under libs/x
    assert classify("data/tables.csv").components_affected == {"a": ("includes data/tables.csv",)}


def test_stage_image_chain() -> None:
    found = classify("base-images/fortran-build/Dockerfile")
    assert found.components_affected == {"f": ("base image fortran-build changed",)}
    assert found.base_images_affected == {}


def test_direct_change_wins_over_affected() -> None:
    found = classify("components/a/x.py", "libs/x/y.py", "base-images/py/Dockerfile")
    assert found.components_changed == ("a",)
    assert "a" not in found.components_affected
    assert found.components_affected == {"b": ("base image py changed",)}  # libs/x/y.py is not libs/x/sub


def test_deleted_base_image_and_loose_files() -> None:
    found = classify("base-images/gone/Dockerfile", "components/README.md", "buildspec.yml")
    assert found.base_images_deleted == ("gone",)
    assert found.other_changed == ("components/README.md",)
    assert found.tooling_changed == ("buildspec.yml",)
    assert found.images == []


def test_to_dict_is_json_ready() -> None:
    import json

    data = json.loads(json.dumps(classify("components/a/x.py").to_dict()))
    assert data["components"] == ["a"]
    assert data["files"] == [{"status": "M", "path": "components/a/x.py"}]
    assert data["everything"] is False
