"""identity-matrix builds and runs in Docker; builds skip existing tags and report failures clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from r2o.images.engine import Engine
from tests.docker.conftest import EXPECTED_SIZE_4, failed, images_json, ok, r2o, salt

pytestmark = pytest.mark.docker


def test_build_then_run_prints_exactly_the_expected_matrix(
    engine: Engine, repo_copy: Path, tmp_path: Path
) -> None:
    ok(r2o("build", "identity-matrix", cwd=repo_copy))
    rows = images_json(repo_copy)
    for name in ("debian", "python-sci", "identity-matrix"):
        assert rows[name]["local"] is True, rows[name]
        assert engine.has_local(rows[name]["tag"])
    image = engine.image(rows["identity-matrix"]["tag"])
    assert image is not None
    assert image.labels["org.r2o.content-tag"] == rows["identity-matrix"]["tag"]
    assert not any(t.endswith(":latest") for t in image.tags)

    out = tmp_path / "out"
    proc = ok(r2o("run", "identity-matrix", "-p", "size=4", "--output", str(out), cwd=repo_copy))
    expected = EXPECTED_SIZE_4.read_text()
    assert proc.stdout == expected
    assert (out / "stdout.txt").read_text() == expected
    assert "(docker)" in proc.stderr


def test_a_second_build_is_all_skips(engine: Engine, repo_copy: Path) -> None:
    ok(r2o("build", "identity-matrix", cwd=repo_copy))
    again = ok(r2o("build", "identity-matrix", cwd=repo_copy))
    rows = images_json(repo_copy, "--offline")
    for name in ("debian", "python-sci", "identity-matrix"):
        assert f"up to date  {rows[name]['tag']}" in again.stderr
    assert "r2o: 0 built or pushed, 3 up to date" in again.stderr
    dry = ok(r2o("build", "--dry-run", "identity-matrix", cwd=repo_copy))
    assert [line.split()[0] for line in dry.stdout.splitlines()] == ["skip", "skip", "skip"]


def test_a_changed_component_rebuilds_only_itself_with_live_progress(
    engine: Engine, repo_copy: Path, scratch_images: list[str]
) -> None:
    ok(r2o("build", "identity-matrix", cwd=repo_copy))
    before = images_json(repo_copy, "--offline")
    tag = salt(repo_copy)
    scratch_images.append(tag)
    after = images_json(repo_copy, "--offline")
    assert {n for n in before if before[n]["tag"] != after[n]["tag"]} == {"identity-matrix"}
    dry = ok(r2o("build", "--dry-run", "identity-matrix", cwd=repo_copy))
    assert [line.split()[0] for line in dry.stdout.splitlines()] == ["skip", "skip", "build"]
    proc = ok(r2o("build", "identity-matrix", cwd=repo_copy))
    assert f"build {tag} ..." in proc.stderr
    assert "Step 1/" in proc.stderr  # the build log streams while it runs
    assert f"done  {tag} in " in proc.stderr
    assert "r2o: 1 built or pushed, 2 up to date" in proc.stderr
    assert engine.has_local(tag)


def test_a_failed_build_names_the_step_and_shows_the_log(engine: Engine, repo_copy: Path) -> None:
    dockerfile = repo_copy / "components" / "identity-matrix" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "ADD algorithm.py /app/",
            "ADD algorithm.py /app/\n"
            "RUN echo 'compiling the model' && echo 'fatal: no such grid' >&2 && exit 42",
        )
    )
    tag = images_json(repo_copy, "--offline")["identity-matrix"]["tag"]
    stderr = failed(
        r2o("build", "identity-matrix", cwd=repo_copy),
        6,
        f"building {tag} failed at Step ",
        ": RUN echo 'compiling the model'",
        "returned a non-zero code: 42",
        "compiling the model",
        "fatal: no such grid",
    )
    assert "last lines of the build log" in stderr
    assert not engine.has_local(tag)


def test_running_an_unbuilt_image_says_what_to_build(engine: Engine, repo_copy: Path) -> None:
    tag = salt(repo_copy)
    failed(
        r2o("run", "identity-matrix", cwd=repo_copy),
        4,
        f"image {tag} for identity-matrix is not built",
        "r2o build identity-matrix",
    )


def test_push_needs_a_registry(engine: Engine, repo_copy: Path) -> None:
    failed(
        r2o("build", "identity-matrix", "--push", cwd=repo_copy, env={"R2O_REGISTRY": ""}),
        2,
        "--push needs --registry",
    )
