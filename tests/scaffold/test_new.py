"""`r2o new`: templates render valid components; bad requests fail cleanly and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r2o import manifest, scaffold
from r2o.errors import BuildError, InputError, UsageError
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from r2o.run.backend import Backend
from tests.test_cli import assert_clean_error
from tests.test_cli import r2o_process as r2o  # Docker builds and runs: a real process


@pytest.mark.parametrize("template", scaffold.TEMPLATES)
def test_templates_render_valid_manifests(tmp_path: Path, template: str) -> None:
    folder = tmp_path / "components" / "new-thing"
    request = scaffold.NewComponent(
        "new-thing",
        template,
        scaffold.DEFAULT_BASE[template],
        "A new thing.",
        vcpus=2 if template == "fortran" else 1,
    )
    written = scaffold.render_into(folder, request)
    component = manifest.load(folder)
    assert component.name == "new-thing"
    assert len(component.inputs) == 1 and component.inputs[0].required
    assert any(o.format == "netcdf" for o in component.outputs)
    assert (folder / "Dockerfile").is_file() and (folder / "README.md").is_file()
    case = folder / "tests" / "golden" / "example"
    assert (case / "case.yaml").is_file() and any((case / "inputs").iterdir())
    assert all(p.read_text().endswith("\n") for p in written)  # keep_trailing_newline


def test_fortran_runs_under_mpirun_only_with_several_vcpus(tmp_path: Path) -> None:
    for vcpus, expect in ((1, "/app/advect"), (4, "mpirun")):
        folder = tmp_path / str(vcpus) / "components" / "adv"
        scaffold.render_into(folder, scaffold.NewComponent("adv", "fortran", "fortran", "x", vcpus=vcpus))
        component = manifest.load(folder)
        assert component.command[0] == expect
        assert component.resources.vcpus == vcpus
        if vcpus > 1:
            assert component.command[1:3] == ("-np", str(vcpus))


@pytest.mark.parametrize(
    "name", ["Bad_Name", "1st", "trailing-", "double--hyphen", "x", "with space", "a" * 62]
)
def test_bad_names(repo_copy: Path, name: str) -> None:
    assert_clean_error(r2o("new", name, cwd=repo_copy), 2, "not a valid component name")


def test_existing_folder(repo_copy: Path) -> None:
    assert_clean_error(r2o("new", "identity-matrix", cwd=repo_copy), 3, "already exists")


def test_unknown_base(repo_copy: Path) -> None:
    assert_clean_error(r2o("new", "thing", "--base", "pyhton-sci", cwd=repo_copy), 2, "no base image named")


def test_failure_leaves_nothing(repo_copy: Path) -> None:
    repo = Repository(repo_copy)
    before = sorted(p.name for p in (repo_copy / "components").iterdir())

    def failing(graph: ImageGraph, name: str) -> Backend:
        assert graph.node(name).tag.startswith(f"{name}:0.1.0-")
        raise BuildError("simulated build failure")

    with pytest.raises(BuildError):
        scaffold.create(
            repo, scaffold.NewComponent("thing", "python", "python-sci", "x"), backend_for=failing
        )
    assert sorted(p.name for p in (repo_copy / "components").iterdir()) == before


def test_check_request_rejects_multiline_description(repo_copy: Path) -> None:
    with pytest.raises(UsageError):
        scaffold.check_request(
            Repository(repo_copy), scaffold.NewComponent("tt", "python", "python-sci", "a\nb")
        )
    with pytest.raises(InputError):
        scaffold.check_request(
            Repository(repo_copy), scaffold.NewComponent("identity-matrix", "python", "python-sci", "a")
        )


@pytest.mark.docker
@pytest.mark.parametrize("template", scaffold.TEMPLATES)
def test_new_component_works_out_of_the_box(engine: object, repo_copy: Path, template: str) -> None:
    name = f"my-{template}-model"
    proc = r2o("new", name, "--template", template, "--description", "A model.", cwd=repo_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = repo_copy / "components" / name
    assert (folder / "tests/golden/example/expected").is_dir()
    for args in (["validate"], ["build", name], ["test", name, "--repeat", "2"]):
        proc = r2o(*args, cwd=repo_copy)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert not list((repo_copy / "components").glob(".new-*"))
    # CodeBuild would rebuild it: `r2o changed` lists the new, uncommitted folder.
    proc = r2o("changed", "--base", "HEAD", "--uncommitted", "--json", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["components_changed"] == [name]
    # Its AWS Batch job definition renders and passes botocore's validation.
    out = repo_copy / "batch"
    proc = r2o(
        "render",
        "batch",
        name,
        "--registry",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "--efs-file-system-id",
        "fs-12345678",
        "--out",
        str(out),
        cwd=repo_copy,
    )
    assert proc.returncode == 0, proc.stderr
    definition = json.loads((out / f"r2o-{name}.json").read_text())
    assert definition["jobDefinitionName"] == f"r2o-{name}"
