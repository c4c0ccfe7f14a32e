"""The manifest cache in .r2o/cache: same answers as checking every manifest, only faster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from r2o.repo import CACHE_DIR, ManifestCache, Repository
from tests.changes.conftest import write_monorepo


def test_cache_gives_the_same_components_and_notices_edits(tmp_path: Path) -> None:
    root = write_monorepo(tmp_path / "mono")
    first = Repository(root).loaded
    cache_file = root / CACHE_DIR / ManifestCache.FILE
    assert cache_file.is_file()
    assert (root / CACHE_DIR / ".gitignore").read_text().endswith("*\n")
    second = Repository(root).loaded
    assert second.components == first.components and not second.problems

    manifest = root / "components" / "beta" / "component.yaml"
    manifest.write_text(manifest.read_text().replace("A test component.", "Edited."))
    assert Repository(root).loaded.components["beta"].description == "Edited."
    manifest.write_text(manifest.read_text().replace("memory_mib: 512", "memory_mb: 512"))
    problems = Repository(root).loaded.problems
    assert any("memory_mb" in str(p) for p in problems)  # a broken manifest is checked every time


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    root = write_monorepo(tmp_path / "mono")
    assert Repository(root).loaded.components  # fills the cache
    (root / CACHE_DIR / ManifestCache.FILE).write_bytes(b"not a pickle")
    assert set(Repository(root).loaded.components) == {"alpha", "beta", "gamma"}


def test_stale_code_key_drops_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_monorepo(tmp_path / "mono")
    assert Repository(root).loaded.components  # fills the cache
    monkeypatch.setattr(ManifestCache, "_code_key", staticmethod(lambda: "another r2o"))
    cache = ManifestCache(root / CACHE_DIR / ManifestCache.FILE)
    assert cache.entries == {}


def test_read_only_checkout_still_loads(tmp_path: Path) -> None:
    root = write_monorepo(tmp_path / "mono")
    (root / ".r2o").write_text("a file where the cache folder would go")
    assert set(Repository(root).loaded.components) == {"alpha", "beta", "gamma"}


def test_old_versions_and_deleted_components_drop_out(tmp_path: Path) -> None:
    root = write_monorepo(tmp_path / "mono")
    assert Repository(root).loaded.components
    manifest = root / "components" / "beta" / "component.yaml"
    manifest.write_text(manifest.read_text().replace("A test component.", "Edited."))
    shutil.rmtree(root / "components" / "gamma")
    assert set(Repository(root).loaded.components) == {"alpha", "beta"}
    cache = ManifestCache(root / CACHE_DIR / ManifestCache.FILE)
    assert sorted(Path(path).parent.name for path, _ in cache.entries) == ["alpha", "beta"]
