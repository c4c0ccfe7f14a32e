"""Containment through the real CLI: what a component writes, and how r2o stops, never reach the host.

The hostile component (tests/fixtures/hostile) attacks what r2o does *after* its container writes:
links and FIFOs where outputs belong, floods of output, a full disk. Each test performs the attack
with the real `r2o` command, then asserts the exit code, the message, and that nothing leaked into
the host or was left behind (outputs, staging folders, containers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from r2o.images.engine import Engine
from tests.docker.conftest import R2O, failed, make_repo, ok, r2o

pytestmark = pytest.mark.docker

SECRET = "root:$6$not-for-components\n"


@pytest.fixture(scope="module")
def repo(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("containment") / "repo", hostile=True)
    ok(r2o("build", "hostile", "identity-matrix", cwd=root))
    return root


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def containers(engine: Engine, repo: Path, *, running: bool = False) -> list[object]:
    filters: dict[str, object] = {"label": [f"org.r2o.repo={repo}", "org.r2o.component=hostile"]}
    if running:
        filters["status"] = "running"
    return list(engine.client.containers.list(all=True, filters=filters))


def nothing_holds(root: Path, text: str) -> bool:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if text in path.read_text(errors="replace"):
                    return False
            except OSError:
                continue
    return True


def add_case(repo: Path, name: str, parameters: str) -> Path:
    case = repo / "components" / "hostile" / "tests" / "golden" / name
    case.mkdir(parents=True, exist_ok=True)
    (case / "case.yaml").write_text(f"description: {name}\nparameters: {parameters}\n")
    return case


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# --- 1, 2: links, FIFOs and folders where outputs belong --------------------------------------------


@pytest.mark.parametrize("target", ["/etc/shadow", "SECRET"])
def test_a_symlinked_output_is_refused(repo: Path, tmp_path: Path, secret: Path, target: str) -> None:
    target = str(secret) if target == "SECRET" else target
    out = tmp_path / "out"
    failed(
        r2o("run", "hostile", "-p", "mode=link", "-p", f"target={target}", "--output", str(out), cwd=repo),
        14,
        f"marker.txt: a symbolic link to {target}",
        "nothing was promoted",
    )
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shadow"]  # no staging folder either
    assert secret.read_text() == SECRET


def test_golden_record_never_copies_a_linked_host_file(repo: Path, secret: Path) -> None:
    case = add_case(repo, "steal", f"{{mode: link, target: '{secret}'}}")
    try:
        failed(
            r2o("golden", "record", "hostile", "--case", "steal", cwd=repo),
            14,
            f"marker.txt: a symbolic link to {secret}",
        )
        assert not (case / "expected").exists()
        assert sorted(p.name for p in case.iterdir()) == ["case.yaml"]  # no staging left in the case
        assert nothing_holds(repo, SECRET.strip())
    finally:
        subprocess.run(["rm", "-rf", str(case)], check=True)


def test_a_fifo_output_fails_the_run_and_never_hangs_a_test(repo: Path, tmp_path: Path) -> None:
    failed(
        r2o("run", "hostile", "-p", "mode=fifo", "--output", str(tmp_path / "out"), cwd=repo, timeout=120),
        14,
        "marker.txt: a FIFO",
    )
    case = add_case(repo, "fifo", "{mode: fifo}")
    try:
        (case / "expected").mkdir()
        (case / "expected" / "marker.txt").write_text("hostile was here\n")
        (case / "expected" / "stdout.txt").write_text('{"mode": "fifo"}\n')
        proc = r2o("test", "hostile", "--case", "fifo", cwd=repo, timeout=120)
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        assert "ERROR hostile/fifo" in proc.stdout and "marker.txt: a FIFO" in proc.stdout
    finally:
        subprocess.run(["rm", "-rf", str(case)], check=True)


def test_a_folder_where_a_file_is_declared_is_refused(repo: Path, tmp_path: Path) -> None:
    failed(
        r2o("run", "hostile", "-p", "mode=folder", "--output", str(tmp_path / "out"), cwd=repo),
        14,
        "marker (/data/output/marker.txt) is a folder, declared a file",
    )
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_a_fifo_with_exit_10(repo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.nc"
    os.mkfifo(fifo)
    (tmp_path / "a.nc").write_bytes(b"CDF\x01")
    failed(r2o("compare", str(tmp_path / "a.nc"), str(fifo), cwd=repo, timeout=60), 10, "is a FIFO")


# --- 3, 4, 5: size, logs, undeclared outputs --------------------------------------------------------


@pytest.mark.parametrize("mode", ["fill", "bigfile"])
def test_writing_past_the_storage_limit_is_stopped(repo: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    stderr = failed(
        r2o("run", "hostile", "-p", f"mode={mode}", "-p", "megabytes=512", "--output", str(out), cwd=repo),
        15,
        "hostile was killed at its storage limit of 64 MiB (docker)",
        "raise resources.storage_mib",
    )
    assert "the storage limit did not stop me" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_undeclared_outputs_are_reported_and_not_promoted(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = ok(r2o("run", "hostile", "-p", "mode=extra", "--output", str(out), cwd=repo))
    assert "wrote files no output declares: scratch" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["marker.txt", "stdout.txt"]


def test_a_log_flood_streams_through(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [*R2O, "run", "hostile", "-p", "mode=flood", "-p", "megabytes=32", "--output", str(out)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the echo of 32 MiB of log
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0
    assert (out / "marker.txt").read_text() == "hostile was here\n"


# --- 6, 7: signals and crashes leave nothing behind -------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_stops_and_removes_everything(
    engine: Engine, repo: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*R2O, "run", "hostile", "-p", "mode=sleep", "--output", str(out)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: bool(containers(engine, repo, running=True)), "the container to start")
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".out.partial-")]
    assert len(staging) == 1 and (staging[0].stat().st_mode & 0o777) == 0o700  # never world-writable
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, (stdout, stderr)
    assert "Traceback" not in stderr
    assert containers(engine, repo) == []
    assert list(tmp_path.iterdir()) == []


def test_after_kill_9_the_next_command_removes_the_orphans(
    engine: Engine, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*R2O, "run", "hostile", "-p", "mode=sleep", "--output", str(out)],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: bool(containers(engine, repo, running=True)), "the container to start")
    proc.kill()
    proc.wait()
    assert containers(engine, repo), "the orphan container outlives a SIGKILLed r2o"
    assert any(p.name.startswith(".out.partial-") for p in tmp_path.iterdir())
    # The next command that runs anything in the repository cleans what the dead one owned.
    ok(r2o("run", "identity-matrix", "-p", "size=2", "--output", str(tmp_path / "im"), cwd=repo))
    assert containers(engine, repo) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["im"]
    assert not any((repo / ".r2o" / "tmp").glob("*/"))  # no session of a dead process is left


def test_after_kill_9_of_golden_record_no_staging_is_left(engine: Engine, repo: Path) -> None:
    case = add_case(repo, "sleepy", "{mode: sleep}")
    try:
        proc = subprocess.Popen(
            [*R2O, "golden", "record", "hostile", "--case", "sleepy"],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: bool(containers(engine, repo, running=True)), "the container to start")
        proc.kill()
        proc.wait()
        sessions = [p for p in (repo / ".r2o" / "tmp").iterdir() if p.is_dir()]
        assert sessions, "the killed recording had a session folder"
        ok(r2o("test", "identity-matrix", "--case", "size-4", cwd=repo))
        assert containers(engine, repo) == []
        assert not [p for p in (repo / ".r2o" / "tmp").iterdir() if p.is_dir() and p in sessions]
        assert sorted(p.name for p in case.iterdir()) == ["case.yaml"]
    finally:
        subprocess.run(["rm", "-rf", str(case)], check=True)


def test_concurrent_recordings_of_one_case_one_wins(repo: Path) -> None:
    case = add_case(repo, "slow", "{mode: slow}")
    try:
        first = subprocess.Popen(
            [*R2O, "golden", "record", "hostile", "--case", "slow", "--force"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lock = repo / ".r2o" / "locks" / "golden" / "hostile" / "slow.lock"
        wait_for(lock.exists, "the first recording to take the case")
        time.sleep(0.5)
        failed(
            r2o("golden", "record", "hostile", "--case", "slow", "--force", cwd=repo),
            16,
            "golden case hostile/slow is in use by another r2o process",
        )
        stdout, stderr = first.communicate(timeout=300)
        assert first.returncode == 0, (stdout, stderr)
        assert (case / "expected" / "marker.txt").read_text() == "hostile was here\n"
        assert sorted(p.name for p in case.iterdir()) == ["case.yaml", "expected"]
    finally:
        subprocess.run(["rm", "-rf", str(case)], check=True)
