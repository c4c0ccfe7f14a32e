"""Content-addressed tags, computed from the tree without building (unit tier: no Docker)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from r2o.errors import ManifestError, NotFoundError
from r2o.images import tags
from r2o.images.plan import BASE, COMPONENT, ImageGraph
from r2o.repo import Repository
from tests.conftest import git, make_git_repo
from tests.images.sample_repo import tags_of, write_file, write_sample_repo

TAG_RE = re.compile(r"^(?P<name>[a-z][a-z0-9-]*):(?P<version>\d+\.\d+\.\d+)-(?P<hex>[0-9a-f]{12})$")
EVERYTHING = {"root", "mid", "side", "alpha", "beta", "gamma"}


@pytest.fixture(params=["git", "plain"])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The sample repository, as a git checkout and as a plain folder (both must give the same tags)."""
    root = write_sample_repo(tmp_path / "repo")
    if request.param == "git":
        make_git_repo(root)
    return root


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


def change_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    # In a manifest, a byte of the description (the last byte is a newline YAML needs).
    at = data.index(b"component.") + len("component") if path.suffix == ".yaml" else -1
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_tags_have_the_content_address_format(sample: Path) -> None:
    graph = ImageGraph.from_repo(Repository(sample))
    assert set(graph.nodes) == EVERYTHING
    for name, node in graph.nodes.items():
        match = TAG_RE.match(node.tag)
        assert match, node.tag
        assert match["name"] == name
        assert "latest" not in node.tag
    assert graph.node("root").tag.startswith("root:12.0.0-")
    assert graph.node("side").tag.startswith("side:2.1.0-")
    assert graph.node("alpha").repository == "alpha"
    assert graph.node("alpha").tag_only == graph.node("alpha").tag.split(":")[1]
    assert graph.node("alpha").ref("127.0.0.1:5000/") == f"127.0.0.1:5000/{graph.node('alpha').tag}"


def test_same_tree_same_tags(sample: Path, tmp_path: Path) -> None:
    first = tags_of(sample)
    assert tags_of(sample) == first
    # Paths enter the hash relative to the repository root: another checkout gives the same tags.
    elsewhere = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(sample, elsewhere)
    assert tags_of(elsewhere) == first


def test_git_checkout_and_plain_folder_agree(tmp_path: Path) -> None:
    plain = write_sample_repo(tmp_path / "plain")
    checkout = make_git_repo(write_sample_repo(tmp_path / "checkout"))
    assert tags_of(plain) == tags_of(checkout)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("components/alpha/algorithm.py", {"alpha"}),
        ("components/beta/Dockerfile", {"beta"}),
        ("components/gamma/component.yaml", {"gamma"}),
        ("libs/shared/__init__.py", {"alpha"}),  # an include changes only the components including it
        ("libs/unused/__init__.py", set()),
        ("base-images/side/Dockerfile", {"side", "gamma"}),
        ("base-images/mid/Dockerfile", {"mid", "alpha", "beta"}),  # a parent changes every dependent
        ("base-images/root/Dockerfile", EVERYTHING),  # ... recursively
    ],
)
def test_one_byte_changes_exactly_the_dependent_tags(sample: Path, path: str, expected: set[str]) -> None:
    before = tags_of(sample)
    change_one_byte(sample / path)
    assert changed(before, tags_of(sample)) == expected


def test_a_new_file_changes_the_tag_before_it_is_committed(sample: Path) -> None:
    before = tags_of(sample)
    write_file(sample / "components" / "beta" / "data" / "table.csv", "a,b\n1,2\n")
    assert changed(before, tags_of(sample)) == {"beta"}


def test_renaming_a_file_changes_the_tag(sample: Path) -> None:
    before = tags_of(sample)
    os.rename(sample / "components/gamma/algorithm.py", sample / "components/gamma/algorithm2.py")
    assert changed(before, tags_of(sample)) == {"gamma"}


def test_the_executable_bit_is_content(sample: Path) -> None:
    before = tags_of(sample)
    (sample / "components/alpha/algorithm.py").chmod(0o755)
    assert changed(before, tags_of(sample)) == {"alpha"}


def test_build_args_and_packages_are_content(sample: Path) -> None:
    before = tags_of(sample)
    side = sample / "base-images/side/image.yaml"
    side.write_text(side.read_text().replace("FLAVOR: plain", "FLAVOR: spicy"))
    after_args = tags_of(sample)
    assert changed(before, after_args) == {"side", "gamma"}
    mid = sample / "base-images/mid/image.yaml"
    mid.write_text(mid.read_text().replace("packages: [python3]", "packages: [python3, python3-numpy]"))
    assert changed(after_args, tags_of(sample)) == {"mid", "alpha", "beta"}


def test_a_version_bump_changes_name_and_hex(sample: Path) -> None:
    before = tags_of(sample)
    manifest = sample / "components/beta/component.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", "version: 1.0.1"))
    after = tags_of(sample)
    assert changed(before, after) == {"beta"}
    assert after["beta"].startswith("beta:1.0.1-")
    assert after["beta"].rsplit("-", 1)[1] != before["beta"].rsplit("-", 1)[1]


def test_caches_are_not_content(sample: Path) -> None:
    before = tags_of(sample)
    write_file(sample / "components/alpha/__pycache__/algorithm.cpython-311.pyc", "\0bytecode")
    write_file(sample / "components/alpha/stale.pyc", "\0bytecode")
    write_file(sample / "libs/shared/.mypy_cache/x.json", "{}")
    assert tags_of(sample) == before


def test_git_ignored_and_deleted_files_are_not_content(tmp_path: Path) -> None:
    root = make_git_repo(write_sample_repo(tmp_path / "repo"))
    before = tags_of(root)
    # base-images/root/.gitignore ignores rootfs.tar, which r2o writes beside the Dockerfile.
    write_file(root / "base-images/root/rootfs.tar", "a large tarball")
    assert tags_of(root) == before
    # A file deleted from the work tree but still in git's index is gone as far as the build goes.
    (root / "components/beta/algorithm.py").unlink()
    deleted = tags_of(root)
    git(root, "rm", "-q", "--cached", "components/beta/algorithm.py")
    assert tags_of(root) == deleted
    assert changed(before, deleted) == {"beta"}


def test_content_hash_separates_its_fields(tmp_path: Path) -> None:
    write_file(tmp_path / "components" / "a" / "x", "1")
    write_file(tmp_path / "components" / "b" / "x", "1")
    write_file(tmp_path / "libs" / "l" / "y", "2")
    index = tags.SourceIndex(tmp_path)
    assert index.files == ["components/a/x", "components/b/x", "libs/l/y"]

    def digest(
        name: str,
        parent: str | None,
        args: dict[str, str],
        folder: str = "components/a",
        includes: tuple[str, ...] = ("libs/l",),
    ) -> str:
        return tags.content_hash(
            index=index,
            name=name,
            kind=COMPONENT,
            folder=folder,
            includes=includes,
            parent_tag=parent,
            build_args=args,
        )

    reference = digest("ab", "p:1.0.0-000000000000", {"K": "v"})
    assert len(reference) == 64
    assert digest("ab", "p:1.0.0-000000000000", {"K": "v"}) == reference
    assert digest("a", "bp:1.0.0-000000000000", {"K": "v"}) != reference
    assert digest("ab", None, {"K": "v"}) != reference
    assert digest("ab", "p:1.0.0-000000000000", {"K": "w"}) != reference
    assert digest("ab", "p:1.0.0-000000000000", {"KV": ""}) != reference
    assert digest("ab", "p:1.0.0-000000000000", {}) != reference
    assert digest("ab", "p:1.0.0-000000000000", {"K": "v"}, includes=()) != reference
    # The own folder's files count by their path inside it: the same files elsewhere, the same hash.
    assert digest("ab", "p:1.0.0-000000000000", {"K": "v"}, folder="components/b") == reference
    assert tags.tag("ab", "1.0.0", reference) == f"ab:1.0.0-{reference[:12]}"


def test_source_index_under_matches_whole_path_components(tmp_path: Path) -> None:
    for rel in ("libs/a/x.py", "libs/ab/y.py", "libs/a.txt", "libs/a/sub/z.py"):
        write_file(tmp_path / rel, rel)
    index = tags.SourceIndex(tmp_path)
    assert index.under(["libs/a"]) == ["libs/a/sub/z.py", "libs/a/x.py"]
    assert index.under(["libs/a/", "libs/ab"]) == ["libs/a/sub/z.py", "libs/a/x.py", "libs/ab/y.py"]
    assert index.under(["libs/a.txt"]) == ["libs/a.txt"]


def test_graph_order_chain_and_dependents(sample: Path) -> None:
    graph = ImageGraph.from_repo(Repository(sample))
    assert [n.name for n in graph.chain("alpha")] == ["root", "mid", "alpha"]
    assert graph.dependents("root") == ["alpha", "beta", "gamma", "mid", "side"]
    assert graph.dependents("mid") == ["alpha", "beta"]
    assert graph.dependents("gamma") == []
    assert graph.node("mid").kind == BASE and graph.node("alpha").kind == COMPONENT
    assert graph.node("alpha").include == ("libs/shared",)
    assert graph.node("mid").build_args == {"PACKAGES": "python3"}
    assert graph.node("side").build_args == {"FLAVOR": "plain"}


def test_unknown_image_suggests_a_name(sample: Path) -> None:
    graph = ImageGraph.from_repo(Repository(sample))
    with pytest.raises(NotFoundError) as info:
        graph.node("alpah")
    assert "did you mean 'alpha'?" in str(info.value)


def test_a_broken_component_blocks_only_itself(sample: Path) -> None:
    before = tags_of(sample)
    manifest = sample / "components/beta/component.yaml"
    manifest.write_text(manifest.read_text().replace("base: mid", "base: midd"))
    graph = ImageGraph.from_repo(Repository(sample))
    with pytest.raises(ManifestError) as info:
        graph.node("beta")
    assert "components/beta/component.yaml" in str(info.value)
    assert "no base image named 'midd'" in str(info.value)
    assert {n: node.tag for n, node in graph.nodes.items()} == {
        n: t for n, t in before.items() if n != "beta"
    }


def test_cli_images_offline_lists_every_tag(sample: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from r2o.cli.main import main; main()", "images", "--offline", "--json"],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["name"]: r["tag"] for r in rows} == tags_of(sample)
    assert [r["name"] for r in rows][:3] == ["root", "mid", "side"]  # base images first, parents first
    assert all(r["local"] is None and r["registry"] is None for r in rows)


def test_real_repository_tags(repo_copy: Path) -> None:
    graph = ImageGraph.from_repo(Repository(repo_copy))
    assert [n.name for n in graph.chain("identity-matrix")] == ["debian", "python-sci", "identity-matrix"]
    for node in graph.nodes.values():
        assert TAG_RE.match(node.tag), node.tag
    # python-sci's packages reach its Dockerfile as a build arg, so they are part of its tag.
    assert "python3-numpy" in graph.node("python-sci").build_args["PACKAGES"]


def test_extra_stage_images_are_content(sample: Path) -> None:
    manifest = sample / "components/alpha/component.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "include: [libs/shared]}", "include: [libs/shared], images: {RUNTIME_IMAGE: side}}"
        )
    )
    graph = ImageGraph.from_repo(Repository(sample))
    assert graph.node("alpha").build_args["RUNTIME_IMAGE"] == graph.node("side").tag
    assert [n.name for n in graph.order(["alpha"])] == ["root", "mid", "side", "alpha"]
    assert graph.dependents("side") == ["alpha", "gamma"]
    before = tags_of(sample)
    change_one_byte(sample / "base-images/side/Dockerfile")
    assert changed(before, tags_of(sample)) == {"side", "gamma", "alpha"}
