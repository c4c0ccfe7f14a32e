"""Base-image changes reach every dependent through chains deeper than a base and its parent.

base-images/root -> mid -> deep -> deeper (each the parent of the next)
components/top (base mid), components/low (base deep), components/bottom (base deeper)
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from r2o import changes
from r2o.repo import Repository
from tests.changes.conftest import IMAGE_YAML, commit, write, write_component
from tests.conftest import make_git_repo

CHAIN = ("root", "mid", "deep", "deeper")


@pytest.fixture
def deep_repo(tmp_path: Path) -> Path:
    root = tmp_path / "deep"
    base = root / "base-images"
    write(base / "root" / "image.yaml", IMAGE_YAML.format(name="root", extra="rootfs: {suite: bookworm}"))
    write(base / "root" / "Dockerfile", "FROM scratch\nADD rootfs.tar /\n")
    for parent, name in itertools.pairwise(CHAIN):
        write(base / name / "image.yaml", IMAGE_YAML.format(name=name, extra=f"parent: {parent}"))
        write(base / name / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    write_component(root, "top", "mid")
    write_component(root, "low", "deep")
    write_component(root, "bottom", "deeper")
    return make_git_repo(root)


def _touch_image(repo: Path, name: str) -> changes.ChangeSet:
    write(repo / "base-images" / name / "notes.txt", f"{name} changed\n")
    commit(repo)
    return changes.detect(Repository(repo))


def test_the_root_reaches_the_bottom_of_a_four_image_chain(deep_repo: Path) -> None:
    found = _touch_image(deep_repo, "root")
    assert found.base_images_changed == ("root",)
    assert set(found.base_images_affected) == {"mid", "deep", "deeper"}
    assert found.base_images_affected["deeper"] == ("base image root changed",)
    assert found.components_affected == {
        "bottom": ("base image root changed",),
        "low": ("base image root changed",),
        "top": ("base image root changed",),
    }


def test_a_middle_image_reaches_only_what_is_below_it(deep_repo: Path) -> None:
    found = _touch_image(deep_repo, "mid")
    assert set(found.base_images_affected) == {"deep", "deeper"}
    assert set(found.components) == {"top", "low", "bottom"}
    found = _touch_image(deep_repo, "deep")
    assert set(found.base_images_affected) == {"deeper"}
    assert set(found.components) == {"low", "bottom"}
    assert found.components_affected["bottom"] == ("base image deep changed",)
