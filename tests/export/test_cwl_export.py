"""`r2o export cwl`: every exported file is CWL v1.2 that cwltool validates and cwl-utils loads; the
tools say what the manifests say (checked against the manifests' own text and CWL's vocabulary)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cwl_utils.parser import load_document_by_uri

from tests.conftest import REPO_ROOT

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
CWLTOOL = Path(sys.executable).parent / "cwltool"
CHAIN = "wrf,biogenic,point,area,merge,cmaq"


def r2o(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*R2O, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def export(out: Path, *args: str) -> dict[str, Path]:
    proc = r2o("export", "cwl", *args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return {p.name: p for p in sorted(out.iterdir())}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return export(tmp_path_factory.mktemp("tools"))


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return export(
        tmp_path_factory.mktemp("wf"), "--pipeline", "aqcast", "--start", "2024-07-15", "--days", "2"
    )


def test_one_tool_per_component(tools: dict[str, Path]) -> None:
    components = sorted(p.parent.name for p in (REPO_ROOT / "components").glob("*/component.yaml"))
    assert sorted(tools) == [f"{c}.cwl" for c in components]


@pytest.mark.slow  # ten cwltool processes: about 20 s
def test_cwltool_validates_and_cwl_utils_loads_every_file(
    tools: dict[str, Path], workflow: dict[str, Path]
) -> None:
    files = [*tools.values(), *(p for p in workflow.values() if p.suffix == ".cwl")]
    # One cwltool process per file: a document it rejects is named in the failure.
    for path in files:
        proc = subprocess.run(
            [str(CWLTOOL), "--validate", str(path)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0 and "is valid CWL" in proc.stdout + proc.stderr, (path, proc.stderr)
        doc = load_document_by_uri(path)
        assert doc.cwlVersion == "v1.2"
        assert type(doc).__name__ == ("Workflow" if path.name == "aqcast.cwl" else "CommandLineTool")


def test_an_export_is_byte_identical_twice(tmp_path: Path) -> None:
    args = ("--pipeline", "aqcast", "--start", "2024-07-15", "--days", "3")
    first, second = export(tmp_path / "a", *args), export(tmp_path / "b", *args)
    assert list(first) == list(second)
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
    again = export(tmp_path / "c")
    assert all(again[n].read_bytes() == p.read_bytes() for n, p in first.items() if n in again)


def test_cmaq_tool_says_what_its_manifest_says(tools: dict[str, Path]) -> None:
    # The values below are copied from components/cmaq/component.yaml and CWL v1.2's vocabulary.
    doc = load(tools["cmaq.cwl"])
    assert doc["cwlVersion"] == "v1.2" and doc["class"] == "CommandLineTool"
    req = doc["requirements"]
    assert re.fullmatch(r"cmaq:1\.0\.0-[0-9a-f]{12}", req["DockerRequirement"]["dockerPull"])
    assert req["DockerRequirement"]["dockerOutputDirectory"] == "/data/output"
    staged = {e["entryname"]: e["entry"] for e in req["InitialWorkDirRequirement"]["listing"]}
    assert staged == {
        "/data/input/wrfout_d01.nc": "$(inputs.wrfout)",
        "/data/input/emis_merged.nc": "$(inputs.emissions)",
        "/data/input/CGRID.nc": "$(inputs.restart)",
    }
    assert req["ResourceRequirement"] == {"coresMin": 1, "ramMin": 512}
    assert req["ToolTimeLimit"] == {"timelimit": 900}
    assert req["NetworkAccess"] == {"networkAccess": False}
    assert req["EnvVarRequirement"]["envDef"] == [{"envName": "PYTHONPATH", "envValue": "/app/libs"}]
    # sh runs the manifest's command under timeout(1) with the manifest's 900 s (see test_time_limit_*)
    assert doc["arguments"][:2] == ["sh", "-c"]
    assert doc["arguments"][3:11] == [
        "r2o-time-limit", "cmaq", "900", "10", "python3", "/app/ctm.py", "--date", "$(inputs.date)",
    ]  # fmt: skip
    assert "$(inputs.o3_background)" in doc["arguments"] and "$(inputs.hours)" in doc["arguments"]
    assert "Time limit: 900 s" in doc["doc"]
    inputs = doc["inputs"]
    assert inputs["date"]["type"] == "string" and inputs["date"]["default"] == "2024-07-15"
    # a number is its decimal text (cwltool --provenance cannot record YAML floats), what r2o run passes
    assert inputs["o3_background"]["type"] == "string" and inputs["o3_background"]["default"] == "0.04"
    assert "a number, as its decimal text, from 0.0 to 0.2" in inputs["o3_background"]["doc"]
    assert inputs["hours"]["type"] == "int" and inputs["hours"]["default"] == 24
    assert inputs["restart"]["type"] == "File?" and inputs["wrfout"]["type"] == "File"
    netcdf = "edam:format_3650"  # EDAM: netCDF
    assert doc["outputs"]["conc"] == {**doc["outputs"]["conc"], "type": "File", "format": netcdf}
    assert doc["outputs"]["conc"]["outputBinding"] == {"glob": "CONC.nc"}
    assert doc["outputs"]["cgrid"]["outputBinding"] == {"glob": "CGRID.nc"}
    assert doc["$namespaces"]["edam"] == "http://edamontology.org/"
    assert doc["s:author"] == [{"s:name": "aq-science"}]
    assert doc["doc"].startswith("Compact chemical transport model")


def test_stdout_outputs_and_enum_parameters(tmp_path: Path) -> None:
    identity = load(export(tmp_path / "a", "identity-matrix")["identity-matrix.cwl"])
    assert identity["stdout"] == "stdout.txt"
    assert identity["outputs"]["matrix"] == {**identity["outputs"]["matrix"], "type": "stdout"}
    assert identity["outputs"]["matrix"]["format"] == "edam:format_2330"  # EDAM: textual format
    assert identity["arguments"] == ["$(inputs.size)"]  # the image's ENTRYPOINT runs the algorithm
    # so CWL cannot put timeout(1) in front of it: the limit is the engine's alone, and the doc says so
    assert identity["requirements"]["ToolTimeLimit"] == {"timelimit": 600}  # its component.yaml
    assert "left to the engine" in identity["doc"]
    assert identity["inputs"]["size"]["type"] == "int" and identity["inputs"]["size"]["default"] == 2
    assert "InitialWorkDirRequirement" not in identity["requirements"]
    assert "outdirMin" not in identity["requirements"]["ResourceRequirement"]


def test_the_workflow_is_the_task_graph(workflow: dict[str, Path]) -> None:
    wf = load(workflow["aqcast.cwl"])
    assert wf["class"] == "Workflow"
    steps = wf["steps"]
    # 2 reported days + 1 look-ahead day (pipelines/aqcast.yaml), 6 per-day steps, then compliance.
    days = ["20240715", "20240716", "20240717"]
    per_day = ["wrf", "biogenic", "point", "area", "merge", "cmaq"]
    assert sorted(steps) == sorted(
        [f"{s}_{d}" for s in per_day for d in days] + ["compliance", "compliance_conc"]
    )
    # fan-in: a folder of every day's CONC file named CONC_<day>.nc, as the local executor lays it out
    gather = steps["compliance_conc"]
    assert gather["run"]["class"] == "ExpressionTool"
    assert gather["in"]["files"]["source"] == [f"cmaq_{d}/conc" for d in days]
    assert gather["in"]["names"]["default"] == [
        "CONC_2024-07-15.nc",
        "CONC_2024-07-16.nc",
        "CONC_2024-07-17.nc",
    ]
    assert steps["compliance"]["in"]["conc"] == "compliance_conc/dir"
    assert steps["compliance"]["in"]["lookahead_days"] == {"default": 1}
    assert steps["cmaq_20240715"]["in"].keys() == {"date", "wrfout", "emissions"}  # no restart on day 1
    assert steps["cmaq_20240716"]["in"]["restart"] == "cmaq_20240715/cgrid"
    assert steps["cmaq_20240717"]["in"]["restart"] == "cmaq_20240716/cgrid"
    assert steps["cmaq_20240716"]["in"]["emissions"] == "merge_20240716/emis_merged"
    assert steps["merge_20240717"]["in"]["point"] == "point_20240717/emis_point"
    assert steps["wrf_20240716"]["in"]["coarse"] == "coarse_20240716"
    assert steps["wrf_20240716"]["in"]["date"] == {"default": "2024-07-16"}
    assert steps["cmaq_20240716"]["run"] == "cmaq.cwl"
    job = load(workflow["aqcast.job.yml"])
    assert sorted(job) == [f"coarse_{d}" for d in days]
    assert all(v["class"] == "File" for v in job.values())
    located = (workflow["aqcast.job.yml"].parent / job["coarse_20240716"]["path"]).resolve()
    assert located == (REPO_ROOT / ".r2o/inputs/coarse/coarse_2024-07-16.nc").resolve()


def test_steps_select_a_sub_chain(tmp_path: Path) -> None:
    files = export(tmp_path, "--pipeline", "aqcast", "--start", "2024-07-15", "--days", "1", "--steps", CHAIN)
    assert sorted(files) == sorted(
        ["aqcast.cwl", "aqcast.job.yml"]
        + [f"{c}.cwl" for c in ("wrf", "emissions-biogenic", "emissions-point", "emissions-area")]
        + ["emissions-merge.cwl", "cmaq.cwl"]
    )
    assert "compliance" not in load(files["aqcast.cwl"])["steps"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("no-such-thing",), 4, "no-such-thing"),
        (("--pipeline", "aqcast", "--start", "2024-13-01"), 2, "is not a date"),
        (("--pipeline", "aqcast"), 2, "--pipeline needs --start"),
        (("--pipeline", "aqcast", "--start", "2024-07-15", "--days", "0"), 2, "--days 0"),
        (("--pipeline", "nope", "--start", "2024-07-15"), 4, "nope"),
        (("--pipeline", "aqcast", "--start", "2024-07-15", "--steps", "cmaq"), 2, "add wrf to --steps"),
        (("--pipeline", "aqcast", "--start", "2024-07-15", "--steps", "cmaqq"), 2, "no step 'cmaqq'"),
        (("identity-matrix", "--pipeline", "aqcast", "--start", "2024-07-15"), 2, "not both"),
        (("--start", "2024-07-15"), 2, "go with --pipeline"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: tuple[str, ...], code: int, needle: str) -> None:
    proc = r2o("export", "cwl", *args, "--out", str(tmp_path / "out"))
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_unwritable_out_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder\n")
    proc = r2o("export", "cwl", "identity-matrix", "--out", str(blocker / "sub"))
    assert proc.returncode == 2, proc.stderr
    assert f"cannot write to --out {blocker / 'sub'}" in proc.stderr and "Traceback" not in proc.stderr


def limited(tool: Path, *command: str, grace: str | None = None) -> subprocess.CompletedProcess[str]:
    """The exported tool's time-limit wrapper (its arguments before the manifest's command) around
    ``command``, run by this machine's sh and coreutils timeout, as the container's would run it."""
    arguments = load(tool)["arguments"]
    assert arguments[:2] == ["sh", "-c"]
    script, name = arguments[2], arguments[4]
    assert arguments[6] == "10"  # the grace between SIGTERM and SIGKILL
    return subprocess.run(  # a limit of 1 s instead of the manifest's
        ["sh", "-c", script, "r2o-time-limit", name, "1", grace or arguments[6], *command],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_time_limit_wrapper_stops_a_run_past_the_limit(tools: dict[str, Path]) -> None:
    proc = limited(tools["cmaq.cwl"], "sleep", "30")
    assert proc.returncode == 124  # coreutils timeout: "the command timed out"
    assert "cmaq ran past its timeout of 1 s and was stopped" in proc.stderr
    assert "sending signal TERM" in proc.stderr


def test_time_limit_wrapper_kills_a_run_that_ignores_sigterm(tools: dict[str, Path]) -> None:
    proc = limited(tools["cmaq.cwl"], "sh", "-c", "trap '' TERM; sleep 30", grace="1")
    assert proc.returncode == 128 + 9  # killed by SIGKILL, as the shell reports it
    assert "sending signal KILL" in proc.stderr


def test_time_limit_wrapper_passes_a_run_through(tools: dict[str, Path], tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("import sys\nprint('out:', sys.argv[1:])\nprint('err', file=sys.stderr)\nsys.exit(3)\n")
    proc = limited(tools["wrf.cwl"], sys.executable, str(script), "a b", "$HOME", "--x=1")
    assert proc.returncode == 3
    assert proc.stdout == "out: ['a b', '$HOME', '--x=1']\n"  # arguments arrive verbatim
    assert proc.stderr == "err\n"


def test_every_tool_without_an_entrypoint_is_time_limited(tools: dict[str, Path]) -> None:
    for name, path in tools.items():
        folder = REPO_ROOT / "components" / name.removesuffix(".cwl")
        manifest = yaml.safe_load((folder / "component.yaml").read_text())
        doc = load(path)
        limit = manifest["resources"]["timeout_s"]
        assert doc["requirements"]["ToolTimeLimit"] == {"timelimit": limit}, name
        if "entrypoint" in manifest:
            assert doc["arguments"][0] != "sh", name
            continue
        assert doc["arguments"][3:6] == ["r2o-time-limit", manifest["name"], str(limit)], name
        command = [f"$(inputs.{a[5:]})" if a.startswith("Ref::") else a for a in manifest["command"]]
        assert doc["arguments"][7:] == command, name
