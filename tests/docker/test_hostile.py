"""A hostile component (tests/fixtures/hostile) tries to escape its sandbox; r2o's limits must stop it.

It runs in Docker with the limits AWS Batch would apply and reports, as JSON, what each attempt did:
writing to /, reaching a network, running as root, gaining privileges through a setuid binary, and
using more memory than its manifest allows. Timeouts and plain failures are checked with it too: OOM,
timeout and non-zero exit are three distinct errors, and none leaves an output directory behind.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from r2o.images.engine import Engine
from tests.docker.conftest import failed, make_repo, ok, r2o

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def hostile_repo(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository copy holding the hostile component, built (a skip when its tag exists)."""
    repo = make_repo(tmp_path_factory.mktemp("hostile") / "repo", hostile=True)
    ok(r2o("build", "hostile", cwd=repo))
    return repo


@pytest.fixture(scope="module")
def report(hostile_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("probe")
    secret = base / "secret.txt"
    secret.write_text("do not touch\n")
    out = base / "out"
    proc = ok(r2o("run", "hostile", "--input", f"secret={secret}", "--output", str(out), cwd=hostile_repo))
    data: dict[str, Any] = json.loads(proc.stdout)
    assert json.loads((out / "stdout.txt").read_text()) == data
    assert (out / "marker.txt").read_text() == "hostile was here\n"
    assert secret.read_text() == "do not touch\n"
    return data


def refused(result: dict[str, Any], *errnos: str) -> None:
    assert result["ok"] is False, result
    assert result["errno"] in errnos, result


def test_the_root_filesystem_is_read_only(report: dict[str, Any]) -> None:
    refused(report["write_root"], "EROFS")
    refused(report["write_app"], "EROFS")
    refused(report["write_etc_passwd"], "EROFS")
    refused(report["write_input"], "EROFS")  # inputs are mounted read-only
    assert report["write_tmp"]["ok"] is True and report["tmp_fs"] == "tmpfs"
    assert report["write_output"]["ok"] is True  # the one read-write mount


def test_no_network_interface_but_loopback(report: dict[str, Any]) -> None:
    assert report["sys_class_net"] == ["lo"]
    assert report["proc_net_dev"] == ["lo"]
    refused(report["connect"], "ENETUNREACH", "EHOSTUNREACH", "ECONNREFUSED")
    refused(report["raw_socket"], "EPERM", "EACCES")  # no CAP_NET_RAW


def test_not_root_even_when_the_image_asks_for_it(report: dict[str, Any]) -> None:
    # The hostile Dockerfile ends with USER 0; r2o runs it as uid 1000 anyway.
    assert (report["uid"], report["euid"], report["gid"]) == (1000, 1000, 1000)
    assert 0 not in report["groups"]
    assert report["status"]["Uid"].split() == ["1000"] * 4


def test_no_privileges_can_be_gained(report: dict[str, Any]) -> None:
    status = report["status"]
    assert status["NoNewPrivs"] == "1"
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[field], 16) == 0, (field, status[field])
    refused(report["setuid_0"], "EPERM")
    refused(report["chown_root"], "EPERM")
    # A setuid-root binary in the image runs with the caller's uid under no-new-privileges.
    assert report["suid_binary_euid"] == {"ok": True, "value": 1000}


def test_the_manifest_limits_reach_the_cgroup(report: dict[str, Any]) -> None:
    memory = 128 * 1024 * 1024
    assert int(report["memory_limit"]) == memory
    # memory+swap equals memory (cgroup v1), or no swap at all (cgroup v2): no extra swap.
    assert report["memory_swap_limit"] in (str(memory), "0")
    assert report["pids_limit"] == "512"
    quota = report["cpu_quota"].split()
    assert quota in (["100000"], ["100000", "100000"])  # 1 vCPU: a full period's quota


def test_exceeding_memory_is_an_out_of_memory_error(hostile_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stderr = failed(
        r2o(
            "run", "hostile", "-p", "mode=oom", "-p", "megabytes=1024", "--output", str(out), cwd=hostile_repo
        ),
        8,
        "hostile was killed at its memory limit of 128 MiB (docker)",
        "| hostile: holding 16 MiB",
    )
    assert "the memory limit did not stop me" not in stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging directory left either


def test_a_timeout_stops_the_container(engine: Engine, hostile_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    start = time.monotonic()
    failed(
        r2o("run", "hostile", "-p", "mode=sleep", "--timeout", "2", "--output", str(out), cwd=hostile_repo),
        9,
        "hostile ran past its timeout of 2 s (docker) and was stopped",
        "| hostile: still here",
    )
    assert time.monotonic() - start < 60
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    left = engine.client.containers.list(all=True, filters={"label": "org.r2o.component=hostile"})
    assert left == []


def test_a_non_zero_exit_is_a_run_error(hostile_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.txt").write_text("an earlier, finished run\n")
    failed(
        r2o("run", "hostile", "-p", "mode=fail", "--output", str(out), cwd=hostile_repo),
        7,
        "hostile exited with code 3 (docker)",
        "| hostile: failing on purpose with exit code 3",
    )
    assert (out / "marker.txt").read_text() == "an earlier, finished run\n"  # the earlier run is untouched
    assert [p.name for p in out.iterdir()] == ["marker.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_parameters_are_checked_before_anything_runs(hostile_repo: Path) -> None:
    failed(r2o("run", "hostile", "-p", "mode=escape", cwd=hostile_repo), 2, "'escape' is not one of")
    failed(r2o("run", "hostile", "-p", "megabytes=0", cwd=hostile_repo), 2, "below the minimum 1")
