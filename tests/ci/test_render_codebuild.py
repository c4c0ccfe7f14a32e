"""`r2o render codebuild`: the plan, the rendered buildspec, and the drift check."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jinja2
import pytest

from r2o.ci import buildspec
from r2o.errors import InputError
from r2o.render import codebuild
from r2o.render.templating import render as render_template
from tests.changes.conftest import write_component, write_monorepo
from tests.conftest import REPO_ROOT
from tests.test_cli import assert_clean_error, r2o

PARENTS = {"deb": None, "py-sci": "deb", "fortran": "deb", "fortran-run": "py-sci"}
BASES = {"emissions-point": "py-sci", "cmaq": "fortran-run", "wrf": "py-sci"}


def test_targets_order_and_dependencies() -> None:
    plan = codebuild.targets(PARENTS, BASES, {"cmaq": ["fortran", "py-sci"]})
    assert [t.name for t in plan] == [
        "deb",
        "fortran",
        "py-sci",
        "fortran-run",
        "cmaq",
        "emissions-point",
        "wrf",
    ]
    by = {t.name: t for t in plan}
    assert by["deb"].depend_on == () and by["deb"].kind == codebuild.BASE_IMAGE
    assert by["fortran-run"].depend_on == ("py_sci",)
    assert by["cmaq"].depend_on == ("fortran_run", "fortran", "py_sci")
    assert by["emissions-point"].identifier == "emissions_point"
    assert by["wrf"].kind == codebuild.COMPONENT


def test_identifier_collision_is_an_error() -> None:
    with pytest.raises(InputError, match="'a-b' and 'a_b' both become the CodeBuild identifier 'a_b'"):
        codebuild.targets({"a-b": None}, {"a_b": "a-b"})


def test_identifier_too_long_is_an_error() -> None:
    with pytest.raises(InputError, match="at most 127"):
        codebuild.targets({"x" * 128: None}, {})


def test_identifier_sanitising() -> None:
    assert codebuild.identifier("emissions-point") == "emissions_point"
    assert codebuild.identifier("9lives") == "n_9lives"


@pytest.mark.parametrize("style", [codebuild.GRAPH, codebuild.MATRIX])
def test_rendered_buildspec_passes_the_check(style: str, tmp_path: Path) -> None:
    text = codebuild.render(codebuild.targets(PARENTS, BASES), style=style)
    spec = buildspec.check_text(text, tmp_path / "buildspec.yml")
    assert spec.batch_kind == f"build-{style}"
    assert [n.variables["R2O_TARGET"] for n in spec.nodes] == [
        t.name for t in codebuild.targets(PARENTS, BASES)
    ]
    assert [p.name for p in spec.phases] == ["install", "pre_build", "build"]
    build = spec.phase("build")
    assert build is not None and any('r2o ci node "$R2O_TARGET"' in c for c in build.commands)
    assert spec.reports["r2o-golden"]["file-format"] == "JUNITXML"
    if style == codebuild.GRAPH:
        assert {n.identifier: n.depend_on for n in spec.nodes}["wrf"] == ("py_sci",)
    else:
        assert all(n.depend_on == () for n in spec.nodes)
    assert "CODEBUILD_WEBHOOK_PREV_COMMIT" in text and "CODEBUILD_RESOLVED_SOURCE_VERSION" in text


def test_planner_buildspec_passes_the_check_and_names_no_image(tmp_path: Path) -> None:
    text = codebuild.render(codebuild.targets(PARENTS, BASES), max_builds=7)
    spec = buildspec.check_text(text, tmp_path / "buildspec.yml")
    assert spec.batch_kind is None and spec.nodes == ()  # one build: the planner
    assert spec.variables["R2O_MAX_BUILDS"] == "7"
    build = spec.phase("build")
    assert build is not None
    assert [c.split()[:3] for c in build.commands] == [["r2o", "ci", "plan"], ["r2o", "ci", "start-batch"]]
    assert '--base "$R2O_BASE"' in build.commands[0] and "--out .r2o/plan.json" in build.commands[0]
    assert build.commands[1].endswith(".r2o/plan.json")
    body = text.split("version: 0.2")[1]
    for name in [*PARENTS, *BASES]:
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", body), name
    assert "StartBuildBatch" in text


def test_unknown_style() -> None:
    with pytest.raises(InputError, match="unknown buildspec style"):
        codebuild.render([], style="list")


def test_template_variables_are_strict() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_template(codebuild.TEMPLATE, targets=[], style="graph")  # reports_dir missing


# --- the command and the drift check ----------------------------------------------------------------


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    return write_monorepo(tmp_path / "mono")


def test_render_writes_then_check_passes(mono: Path) -> None:
    proc = r2o("render", "codebuild", cwd=mono)
    assert proc.returncode == 0, proc.stderr
    assert "wrote buildspec.yml (1 build, planner)" in proc.stdout
    assert (mono / "buildspec.yml").stat().st_mode & 0o777 == 0o644
    check = r2o("render", "codebuild", "--check", cwd=mono)
    assert check.returncode == 0, check.stderr
    assert "is up to date" in check.stdout


def test_graph_check_fails_when_a_component_is_added(mono: Path) -> None:
    assert r2o("render", "codebuild", "--style", "graph", cwd=mono).returncode == 0
    write_component(mono, "delta", "side")
    proc = r2o("render", "codebuild", "--style", "graph", "--check", cwd=mono)
    assert proc.returncode == 1
    assert "buildspec.yml is stale" in proc.stderr and "+    - identifier: delta" in proc.stderr
    assert "regenerate it: r2o render codebuild --style graph" in proc.stderr


def test_planner_stays_current_when_a_component_is_added(mono: Path) -> None:
    assert r2o("render", "codebuild", cwd=mono).returncode == 0
    write_component(mono, "delta", "side")
    proc = r2o("render", "codebuild", "--check", cwd=mono)
    assert proc.returncode == 0, proc.stderr
    # The planner buildspec checked against the static graph is stale, and says how to fix it.
    graph = r2o("render", "codebuild", "--style", "graph", "--check", cwd=mono)
    assert graph.returncode == 1 and "regenerate it: r2o render codebuild --style graph" in graph.stderr


def test_check_fails_when_missing_or_edited(mono: Path) -> None:
    proc = r2o("render", "codebuild", "--check", cwd=mono)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert r2o("render", "codebuild", cwd=mono).returncode == 0
    path = mono / "buildspec.yml"
    text = path.read_text()
    assert 'R2O_MAX_BUILDS: "20"' in text
    path.write_text(text.replace('R2O_MAX_BUILDS: "20"', 'R2O_MAX_BUILDS: "50"'))
    proc = r2o("render", "codebuild", "--check", cwd=mono)
    assert proc.returncode == 1 and "buildspec.yml is stale" in proc.stderr
    assert "regenerate it: r2o render codebuild\n" in proc.stderr


def test_matrix_style_and_stdout(mono: Path) -> None:
    proc = r2o("render", "codebuild", "--style", "matrix", "-o", "-", cwd=mono)
    assert proc.returncode == 0, proc.stderr
    assert "build-matrix:" in proc.stdout and "build-graph" not in proc.stdout.split("version: 0.2")[1]
    assert not (mono / "buildspec.yml").exists()


def test_render_refuses_a_broken_repository(mono: Path) -> None:
    (mono / "components" / "broken").mkdir()
    assert_clean_error(r2o("render", "codebuild", cwd=mono), 3, "components/broken")
    assert not (mono / "buildspec.yml").exists()


def test_committed_buildspec_is_current() -> None:
    """The drift check on this repository: buildspec.yml must match a fresh render of the manifests."""
    proc = r2o("render", "codebuild", "--check", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_real_components_render(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT / "base-images", root / "base-images", ignore=shutil.ignore_patterns("rootfs.tar")
    )
    shutil.copytree(REPO_ROOT / "components" / "identity-matrix", root / "components" / "identity-matrix")
    proc = r2o("render", "codebuild", "--style", "graph", "-o", "-", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "- identifier: python_sci\n      depend-on:\n        - debian" in proc.stdout
