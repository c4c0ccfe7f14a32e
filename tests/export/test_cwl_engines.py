"""Exported CWL run under engines nobody on the team wrote (cwltool, Toil) in the project's local images,
to the golden expected outputs, and fail where `r2o run` fails (the Docker tier).

Reference values come from the golden cases (components/*/tests/golden/*/expected and each case's
compare: tolerances, read here from case.yaml) and from CONTRIBUTING's exit-code table."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.docker.conftest import EXPECTED_SIZE_4, make_repo, ok, r2o

pytestmark = [pytest.mark.docker, pytest.mark.integration]

BIN = Path(sys.executable).parent
CHAIN_STEPS = "wrf,biogenic,point,area,merge,cmaq"
# workflow step -> (component, golden case) whose expected outputs it must reproduce
GOLDEN = {
    "wrf": ("wrf", "one-day"),
    "biogenic": ("emissions-biogenic", "one-day"),
    "point": ("emissions-point", "one-day"),
    "area": ("emissions-area", "one-day"),
    "merge": ("emissions-merge", "one-day"),
    "cmaq": ("cmaq", "one-day"),
}
DAY = "20240715"


def run(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # The engines call their helpers (Toil: cwl-docker-extract) from PATH: the venv's bin comes first.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def chain_images(engine: object) -> None:
    """The chain's images, built once (a build of an existing content tag is a skip)."""
    components = ["identity-matrix", *(c for c, _ in GOLDEN.values())]
    ok(r2o("build", *components, cwd=REPO_ROOT, timeout=1800))


@pytest.fixture(scope="module")
def chain(chain_images: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The exported one-day chain (wrf -> four emissions stages -> cmaq; the pipeline's look-ahead day
    included) and a job file: the wrf golden case's coarse input on day 1, a fresh synoptic file on day 2."""
    root = tmp_path_factory.mktemp("chain")
    ok(
        r2o(
            "export", "cwl", "--pipeline", "aqcast", "--start", "2024-07-15", "--days", "1",
            "--steps", CHAIN_STEPS, "--out", str(root / "cwl"), cwd=REPO_ROOT,
        )
    )  # fmt: skip
    day2 = root / "coarse_2024-07-16.nc"
    synoptic = REPO_ROOT / "components/wrf/synoptic.py"
    subprocess.run([sys.executable, str(synoptic), "--date", "2024-07-16", "--out", str(day2)], check=True)
    coarse = REPO_ROOT / "components/wrf/tests/golden/one-day/inputs/coarse.nc"
    job = root / "job.yml"
    job.write_text(
        yaml.safe_dump(
            {
                f"coarse_{DAY}": {"class": "File", "path": str(coarse)},
                "coarse_20240716": {"class": "File", "path": str(day2)},
            }
        )
    )
    return root / "cwl" / "aqcast.cwl", job


def compare_args(rules: dict[str, Any]) -> list[str]:
    """A golden case's compare: rules for one output as `r2o compare` options."""
    rules = dict(rules)
    args = ["--mode", rules.pop("mode", "numeric")]
    for key in ("rtol", "atol"):
        if key in rules:
            args += [f"--{key}", str(rules.pop(key))]
    for name, tol in rules.pop("variables", {}).items():
        args += ["--var", f"{name}:" + ",".join(f"{k}={v}" for k, v in tol.items())]
    assert not rules, f"rules this test does not translate yet: {rules}"
    return args


def assert_golden(outputs: dict[str, Any], cwd: Path) -> int:
    """Every day-1 output of the chain equals its golden expected file under the case's tolerances."""
    compared = 0
    for step, (component, case) in GOLDEN.items():
        folder = REPO_ROOT / "components" / component / "tests/golden" / case
        manifest = yaml.safe_load((REPO_ROOT / "components" / component / "component.yaml").read_text())
        rules = yaml.safe_load((folder / "case.yaml").read_text()).get("compare", {})
        for out in manifest["outputs"]:
            filename = "stdout.txt" if out["path"] == "stdout" else Path(out["path"]).name
            actual = outputs[f"{step}_{DAY}_{out['name']}"]["path"]
            proc = r2o(
                "compare", str(folder / "expected" / filename), actual,
                *compare_args(rules.get(out["name"], {})), cwd=cwd,
            )  # fmt: skip
            assert proc.returncode == 0, (step, out["name"], proc.stdout, proc.stderr)
            compared += 1
    return compared


def test_cwltool_runs_identity_matrix_to_the_seed_output(chain_images: None, tmp_path: Path) -> None:
    ok(r2o("export", "cwl", "identity-matrix", "--out", str(tmp_path / "cwl"), cwd=REPO_ROOT))
    proc = run(
        [
            str(BIN / "cwltool"),
            "--outdir",
            str(tmp_path / "out"),
            str(tmp_path / "cwl/identity-matrix.cwl"),
            "--size",
            "4",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert Path(result["matrix"]["path"]).read_bytes() == EXPECTED_SIZE_4.read_bytes()
    assert result["matrix"]["format"] == "http://edamontology.org/format_2330"


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def assert_research_object(ro: Path, outputs: dict[str, Any]) -> None:
    """The research object (BagIt bag, RO manifest, PROV; https://w3id.org/cwl/prov) holds every output
    of the run: its checksum, computed here, is listed in the bag's and the RO's manifests, the copy
    in the bag has it, and the workflow's recorded outputs name it."""
    assert (ro / "bagit.txt").is_file()
    assert any((ro / "metadata/provenance").glob("primary.cwlprov.*"))
    bag = set((ro / "manifest-sha1.txt").read_text().splitlines())
    aggregated = {a["uri"] for a in json.loads((ro / "metadata/manifest.json").read_text())["aggregates"]}
    recorded = json.loads((ro / "workflow/primary-output.json").read_text())
    assert sorted(recorded) == sorted(outputs)
    for name, out in outputs.items():
        digest = sha1(Path(out["path"]))
        assert f"{digest}  data/{digest[:2]}/{digest}" in bag, name
        assert f"urn:hash::sha1:{digest}" in aggregated, name
        assert sha1(ro / "data" / digest[:2] / digest) == digest, name
        assert recorded[name]["checksum"] == f"sha1${digest}", name


def test_cwltool_runs_the_one_day_chain_to_the_golden_outputs_with_provenance(
    chain: tuple[Path, Path], tmp_path: Path
) -> None:
    workflow, job = chain
    ro = tmp_path / "ro"
    proc = run(
        [
            str(BIN / "cwltool"), "--strict-memory-limit", "--provenance", str(ro),
            "--outdir", str(tmp_path / "out"), str(workflow), str(job),
        ],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    outputs = json.loads(proc.stdout)
    assert assert_golden(outputs, tmp_path) == 10
    assert len(outputs) == 2 * 10  # the reported day and the look-ahead day
    assert_research_object(ro, outputs)


def test_toil_runs_the_one_day_chain_to_the_golden_outputs(chain: tuple[Path, Path], tmp_path: Path) -> None:
    workflow, job = chain
    proc = run(
        [
            str(BIN / "toil-cwl-runner"), "--batchSystem", "single_machine", "--no-prepull",
            "--jobStore", str(tmp_path / "jobstore"), "--workDir", str(tmp_path),
            "--outdir", str(tmp_path / "out"), str(workflow), str(job),
        ],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert assert_golden(json.loads(proc.stdout), tmp_path) == 10


@pytest.fixture(scope="module")
def hostile(engine: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A repository holding the test-only hostile component, built, and its exported tool."""
    repo = make_repo(tmp_path_factory.mktemp("parity") / "repo", hostile=True)
    ok(r2o("build", "hostile", cwd=repo, timeout=1800))
    ok(r2o("export", "cwl", "hostile", "--out", str(repo / "cwl"), cwd=repo))
    return repo, repo / "cwl" / "hostile.cwl"


@pytest.mark.parametrize(
    ("mode", "r2o_exit", "cwltool_says"),
    [
        ("fail", 7, "permanentFail"),  # exit code 3
        ("oom", 8, "permanentFail"),  # 1024 MiB in a 128 MiB component
        # past timeout_s: test_a_component_past_its_time_limit_fails_cwltool_and_toil_as_r2o_run
    ],
)
def test_a_failing_component_fails_the_cwl_run_as_it_fails_r2o_run(
    hostile: tuple[Path, Path], tmp_path: Path, mode: str, r2o_exit: int, cwltool_says: str
) -> None:
    repo, tool = hostile
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def under_r2o() -> None:
        results["r2o"] = r2o(
            "run", "hostile", "-p", f"mode={mode}", "--output", str(tmp_path / "r2o"), cwd=repo
        )

    # Both runs at once (the machine has few cores; each run is short).
    thread = threading.Thread(target=under_r2o)
    thread.start()
    cwl = run(
        [
            str(BIN / "cwltool"), "--strict-memory-limit", "--outdir", str(tmp_path / "cwl"), str(tool),
            "--mode", mode,
        ],
        cwd=tmp_path,
        timeout=600,
    )  # fmt: skip
    thread.join()
    assert results["r2o"].returncode == r2o_exit, results["r2o"].stderr
    assert cwl.returncode != 0, cwl.stderr
    assert cwltool_says in cwl.stderr, cwl.stderr[-3000:]
    assert "Final process status is permanentFail" in cwl.stderr


def test_a_component_past_its_time_limit_fails_cwltool_and_toil_as_r2o_run(
    hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    """hostile's sleep mode outlives its 60 s timeout_s (the smallest AWS Batch allows). r2o run stops it
    (exit 9, CONTRIBUTING); cwltool 3.3 by itself would let it run its hour and report success, so the
    exported tool stops it in the container (exit 124, coreutils timeout) and both engines fail the run.
    The three run at once: each mostly sleeps."""
    repo, tool = hostile
    manifest = yaml.safe_load((repo / "components/hostile/component.yaml").read_text())
    assert manifest["resources"]["timeout_s"] == 60
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    commands = {
        "cwltool": [
            str(BIN / "cwltool"), "--outdir", str(tmp_path / "cwltool"), str(tool), "--mode", "sleep",
        ],
        "toil": [
            str(BIN / "toil-cwl-runner"), "--batchSystem", "single_machine", "--no-prepull",
            "--jobStore", str(tmp_path / "jobstore"), "--workDir", str(tmp_path),
            "--outdir", str(tmp_path / "toil"), str(tool), "--mode", "sleep",
        ],
    }  # fmt: skip

    def under(engine: str) -> None:
        # An engine that waits for the container would wait for its hour: the timeout fails the test.
        results[engine] = run(commands[engine], cwd=tmp_path, timeout=400)

    threads = [threading.Thread(target=under, args=(engine,)) for engine in commands]
    for thread in threads:
        thread.start()
    results["r2o"] = r2o(
        "run", "hostile", "-p", "mode=sleep", "--output", str(tmp_path / "r2o"), cwd=repo, timeout=400
    )
    for thread in threads:
        thread.join()
    assert results["r2o"].returncode == 9, results["r2o"].stderr
    assert "hostile ran past its timeout of 60 s" in results["r2o"].stderr
    for engine in commands:
        proc = results[engine]
        assert proc.returncode != 0, (engine, proc.stderr[-3000:])
        assert "hostile ran past its timeout of 60 s and was stopped" in proc.stderr, (
            engine,
            proc.stderr[-3000:],
        )
    assert "exited with status: 124" in results["cwltool"].stderr
    assert "Final process status is permanentFail" in results["cwltool"].stderr
