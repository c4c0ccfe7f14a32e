"""A push/pull round trip through a local registry (Debian's docker-registry on a loopback port)."""

from __future__ import annotations

from pathlib import Path

import pytest

from r2o.images.engine import Engine, registry_catalog, registry_has
from tests.docker.conftest import EXPECTED_SIZE_4, Registry, failed, images_json, ok, r2o, salt

pytestmark = pytest.mark.docker

CHAIN = ("debian", "python-sci", "identity-matrix")


def test_push_pull_round_trip(
    engine: Engine, registry: Registry, repo_copy: Path, tmp_path: Path, scratch_images: list[str]
) -> None:
    host = registry.address
    tag = salt(repo_copy)  # a tag, and a layer, no other test has
    tags = {name: row["tag"] for name, row in images_json(repo_copy, "--offline").items()}
    scratch_images.append(tag)
    scratch_images.extend(f"{host}/{tags[name]}" for name in CHAIN)
    before = images_json(repo_copy, "--registry", host)
    assert before["identity-matrix"]["registry"] is False
    missing = sum(1 for name in CHAIN if not before[name]["registry"])

    dry = ok(r2o("build", "identity-matrix", "--push", "--registry", host, "--dry-run", cwd=repo_copy))
    assert dry.stdout.split("\n")[2].startswith(f"build {tag} and push to {host}")
    proc = ok(r2o("build", "identity-matrix", "--push", "--registry", host, cwd=repo_copy))
    assert "Step 1/" in proc.stderr  # live progress of the component's build
    assert f"r2o: {missing} built or pushed, {3 - missing} up to date" in proc.stderr
    assert set(CHAIN) <= set(registry_catalog(host))
    rows = images_json(repo_copy, "--registry", host)
    for name in CHAIN:
        assert rows[name]["registry"] is True and rows[name]["local"] is True, rows[name]
        repository, _, version = tags[name].partition(":")
        assert registry_has(host, repository, version)
    assert not registry_has(host, "identity-matrix", "latest")
    table = ok(r2o("images", "--registry", host, cwd=repo_copy, env={"COLUMNS": "200"})).stdout
    row_line = next(line for line in table.splitlines() if line.split()[:1] == ["identity-matrix"])
    assert row_line.split()[2:] == [tag, "yes", "yes"]

    # Drop the component from the engine, then get it back from the registry only.
    engine.remove(tag)
    engine.remove(f"{host}/{tag}")
    assert not engine.has_local(tag)
    row = images_json(repo_copy, "--registry", host)["identity-matrix"]
    assert (row["local"], row["registry"]) == (False, True)
    failed(r2o("run", "identity-matrix", cwd=repo_copy), 4, "is not built")
    engine.pull(f"{host}/{tag}")
    engine.tag(f"{host}/{tag}", tag)
    pulled = engine.image(tag)
    assert pulled is not None and pulled.labels["org.r2o.content-tag"] == tag
    run = ok(r2o("run", "identity-matrix", "-p", "size=4", "--output", str(tmp_path / "out"), cwd=repo_copy))
    assert run.stdout == EXPECTED_SIZE_4.read_text()

    # Everything is in the registry now: a second push is all skips.
    again = ok(r2o("build", "identity-matrix", "--push", "--registry", host, cwd=repo_copy))
    for name in CHAIN:
        assert f"up to date  {tags[name]}" in again.stderr
    assert "r2o: 0 built or pushed, 3 up to date" in again.stderr


def test_an_unreachable_registry_is_an_engine_error(engine: Engine, repo_copy: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    failed(
        r2o("images", "--registry", "127.0.0.1:9", cwd=repo_copy), 5, "registry 127.0.0.1:9 cannot be reached"
    )
    failed(
        r2o("build", "identity-matrix", "--push", "--registry", "127.0.0.1:9", cwd=repo_copy),
        5,
        "cannot be reached",
    )


def test_a_fresh_engine_builds_on_base_images_from_the_registry(
    engine: Engine, registry: Registry, repo_copy: Path, scratch_images: list[str]
) -> None:
    """CodeBuild's case: the base images are in the registry but not in this engine; a changed
    component is built on them (pulled from the registry), not refused."""
    host = registry.address
    base = salt(repo_copy, "python-sci", "Dockerfile")  # a python-sci tag only this test has
    first = str(images_json(repo_copy, "--offline")["identity-matrix"]["tag"])
    scratch_images.extend([base, f"{host}/{base}", first, f"{host}/{first}"])
    ok(r2o("build", "identity-matrix", "--push", "--registry", host, cwd=repo_copy))
    for ref in (first, f"{host}/{first}", base, f"{host}/{base}"):
        engine.remove(ref)
    assert not engine.has_local(base)

    tag = salt(repo_copy)
    scratch_images.extend([tag, f"{host}/{tag}"])
    dry = ok(r2o("build", "identity-matrix", "--push", "--registry", host, "--dry-run", cwd=repo_copy))
    assert [line.split()[0] for line in dry.stdout.splitlines()] == ["skip", "skip", "build"]
    proc = ok(r2o("build", "identity-matrix", "--push", "--registry", host, "--verbose", cwd=repo_copy))
    assert f"pulling {host}/{base}" in proc.stderr
    assert "r2o: 1 built or pushed, 2 up to date" in proc.stderr
    assert engine.has_local(tag) and engine.has_local(base)
    repository, _, version = tag.partition(":")
    assert registry_has(host, repository, version)
