"""The one runner every backend shares: staging, failures, untrusted outputs, limits, atomic promotion."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from r2o.errors import (
    OutOfMemoryError,
    RunError,
    RunTimeoutError,
    StorageLimitError,
    UnsafeOutputError,
    UsageError,
)
from r2o.manifest import Component
from r2o.run.plan import RunPlan, make_plan
from r2o.run.runner import Outcome, Sink, run

LOG = b"".join(f"log line {i}\n".encode() for i in range(50))
MIB = 1 << 20
OK = Outcome(0)


class FakeProcess:
    """A process that has already written its files and printed its output when it starts, unless
    ``forever``: then it keeps ``step`` running (in a thread) until killed."""

    def __init__(
        self,
        outcome: Outcome,
        stdout: bytes,
        stderr: bytes,
        sink: Sink,
        forever: Callable[[], None] | None = None,
    ) -> None:
        self._outcome = outcome
        self.killed = threading.Event()
        self.closed = False
        if stdout:
            sink("stdout", stdout)
        if stderr:
            sink("stderr", stderr)
        self._thread: threading.Thread | None = None
        if forever is not None:

            def loop() -> None:
                while not self.killed.is_set():
                    forever()

            self._thread = threading.Thread(target=loop, daemon=True)
            self._thread.start()

    def wait(self, timeout: float) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def kill(self) -> None:
        self.killed.set()
        if self._thread is not None:
            self._thread.join()

    def outcome(self) -> Outcome:
        return Outcome(137) if self.killed.is_set() else self._outcome

    def close(self) -> None:
        self.closed = True


class FakeExecutor:
    """Writes files into the folder it is given, prints, and reports ``outcome``."""

    name = "fake"

    def __init__(
        self,
        outcome: Outcome = OK,
        write: Callable[[Path], None] | None = None,
        *,
        stdout: bytes = b"hello\n",
        stderr: bytes = b"",
        forever: Callable[[Path], None] | None = None,
    ) -> None:
        self.outcome = outcome
        self.write = write
        self.stdout, self.stderr = stdout, stderr
        self.forever = forever
        self.staging: Path | None = None
        self.staging_mode = 0
        self.parent_mode = 0
        self.process: FakeProcess | None = None

    def start(self, plan: RunPlan, output_dir: Path, sink: Sink) -> FakeProcess:
        self.staging = output_dir
        self.staging_mode = stat.S_IMODE(output_dir.stat().st_mode)
        self.parent_mode = stat.S_IMODE(output_dir.parent.stat().st_mode)
        assert output_dir.is_dir() and not any(output_dir.iterdir())
        if self.write is not None:
            self.write(output_dir)
        forever = self.forever
        step = (lambda: forever(output_dir)) if forever is not None else None
        self.process = FakeProcess(self.outcome, self.stdout, self.stderr, sink, step)
        return self.process


def write_outputs(stage: Path) -> None:
    (stage / "result.txt").write_text("new result\n")
    (stage / "sub").mkdir()
    (stage / "sub" / "extra.csv").write_text("k,v\n")


@pytest.fixture
def plan(component: Component, grid: Path, tmp_path: Path) -> RunPlan:
    return make_plan(
        component,
        parameters={"date": "2024-07-15"},
        inputs={"grid": grid},
        output_dir=tmp_path / "results" / "probe",
    )


def with_limits(plan: RunPlan, **changes: int) -> RunPlan:
    return dataclasses.replace(plan, limits=dataclasses.replace(plan.limits, **changes))


@pytest.fixture
def old_output(plan: RunPlan) -> Path:
    """A finished earlier run in the destination, which a failure must leave untouched."""
    dest = plan.output_dir
    (dest / "sub").mkdir(parents=True)
    (dest / "result.txt").write_text("old result\n")
    (dest / "sub" / "stale.csv").write_text("from an earlier run\n")
    (dest / "stdout.txt").write_text("old stdout\n")
    return dest


def siblings(plan: RunPlan) -> list[str]:
    return sorted(p.name for p in plan.output_dir.parent.iterdir())


def assert_untouched(old_output: Path, plan: RunPlan) -> None:
    assert (old_output / "result.txt").read_text() == "old result\n"
    assert (old_output / "sub" / "stale.csv").exists()
    assert siblings(plan) == ["probe"]


def test_success_promotes_the_staging_directory(plan: RunPlan) -> None:
    executor = FakeExecutor(Outcome(0), write_outputs)
    result = run(plan, executor)
    dest = plan.output_dir
    assert result.output_dir == dest and result.backend == "fake"
    # Staged beside the destination (same filesystem, so the promotion is a rename), inside a folder
    # only r2o may enter; the output folder itself is writable by the container user only.
    assert executor.staging is not None and executor.staging.parent.parent == dest.parent
    assert executor.staging.parent.name.startswith(".probe.partial-")
    assert executor.parent_mode == 0o700
    assert executor.staging_mode == 0o700
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == [
        "result.txt",
        "stdout.txt",
        "sub",
        "sub/extra.csv",
    ]
    assert (dest / "stdout.txt").read_bytes() == b"hello\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert siblings(plan) == ["probe"]  # no staging or trash left behind
    assert executor.process is not None and executor.process.closed


def test_the_container_user_owns_the_output_folder_when_r2o_is_root(plan: RunPlan) -> None:
    owners: list[int] = []

    def write(stage: Path) -> None:
        owners.append(stage.stat().st_uid)
        write_outputs(stage)

    run(plan, FakeExecutor(OK, write))
    assert owners == [1000 if os.geteuid() == 0 else os.geteuid()]


def test_success_replaces_an_earlier_run_entirely(plan: RunPlan, old_output: Path) -> None:
    run(plan, FakeExecutor(Outcome(0), write_outputs))
    assert (old_output / "result.txt").read_text() == "new result\n"
    assert not (old_output / "sub" / "stale.csv").exists()  # the new tree, not a mix of old and new
    assert siblings(plan) == ["probe"]


@pytest.mark.parametrize(
    ("outcome", "error", "code", "needle"),
    [
        (Outcome(3), RunError, 7, "probe exited with code 3 (fake)"),
        (Outcome(137, oom_killed=True), OutOfMemoryError, 8, "killed at its memory limit of 768 MiB (fake)"),
    ],
)
def test_distinct_failures_with_the_log_tail(
    plan: RunPlan, old_output: Path, outcome: Outcome, error: type[RunError], code: int, needle: str
) -> None:
    with pytest.raises(RunError) as info:
        run(plan, FakeExecutor(outcome, write_outputs, stdout=b"", stderr=LOG))
    assert type(info.value) is error
    assert info.value.exit_code == code
    assert info.value.status == outcome.exit_code  # the component's own status, as a field
    message = str(info.value)
    assert needle in message
    assert "| log line 49" in message and "| log line 30" in message
    assert "log line 29" not in message  # the last 20 lines only
    assert_untouched(old_output, plan)


def test_a_run_past_its_timeout_is_killed(plan: RunPlan, old_output: Path) -> None:
    short = with_limits(plan, timeout_s=1)
    executor = FakeExecutor(Outcome(0), stderr=b"napping\n", forever=lambda stage: time.sleep(0.01))
    start = time.monotonic()
    with pytest.raises(RunTimeoutError) as info:
        run(short, executor)
    assert time.monotonic() - start < 10
    assert info.value.exit_code == 9
    assert "ran past its timeout of 1 s (fake)" in str(info.value) and "| napping" in str(info.value)
    assert executor.process is not None and executor.process.killed.is_set() and executor.process.closed
    assert_untouched(old_output, plan)


def test_a_failure_without_earlier_output_leaves_nothing(plan: RunPlan) -> None:
    with pytest.raises(RunError):
        run(plan, FakeExecutor(Outcome(1), write_outputs, stdout=b"only stdout\n"))
    assert not plan.output_dir.exists()
    assert siblings(plan) == []


def test_the_log_tail_shows_stdout_too_and_says_when_empty(plan: RunPlan) -> None:
    with pytest.raises(RunError, match=r"\| only stdout"):
        run(plan, FakeExecutor(Outcome(1), stdout=b"only stdout\n"))
    with pytest.raises(RunError, match=r"\(no output\)"):
        run(plan, FakeExecutor(Outcome(1), stdout=b""))


def test_the_log_is_kept_where_asked_whatever_the_outcome(plan: RunPlan, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "probe.log"
    with pytest.raises(RunError):
        run(plan, FakeExecutor(Outcome(2), stdout=b"out\n", stderr=b"err\n"), log_path=log)
    assert log.read_bytes() == b"out\nerr\n"


def test_a_missing_declared_output_fails_the_run(plan: RunPlan, old_output: Path) -> None:
    def only_result(stage: Path) -> None:
        (stage / "result.txt").write_text("new result\n")

    with pytest.raises(RunError) as info:
        run(plan, FakeExecutor(Outcome(0), only_result))
    assert "exited 0 but did not write its declared output(s): extra (/data/output/sub/extra.csv)" in str(
        info.value
    )
    assert info.value.exit_code == 7
    assert_untouched(old_output, plan)


def test_an_executor_exception_cleans_the_staging_directory(plan: RunPlan) -> None:
    class Exploding(FakeExecutor):
        def start(self, plan: RunPlan, output_dir: Path, sink: Sink) -> FakeProcess:
            write_outputs(output_dir)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(plan, Exploding())
    assert siblings(plan) == []


def test_a_stop_request_kills_the_process_and_leaves_nothing(plan: RunPlan) -> None:
    stop = threading.Event()
    executor = FakeExecutor(Outcome(0), write_outputs, forever=lambda stage: time.sleep(0.01))
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(KeyboardInterrupt):
        run(plan, executor, stop=stop)
    assert executor.process is not None and executor.process.killed.is_set() and executor.process.closed
    assert siblings(plan) == []


def test_a_directory_with_foreign_files_is_never_replaced(plan: RunPlan, old_output: Path) -> None:
    # `r2o run NAME --output .` must not delete the working directory on success.
    (old_output / "thesis.tex").write_text("precious\n")
    executor = FakeExecutor(Outcome(0), write_outputs)
    with pytest.raises(UsageError) as info:
        run(plan, executor)
    assert "holds files that are not outputs of probe (thesis.tex)" in str(info.value)
    assert executor.staging is None  # refused before anything ran
    assert (old_output / "thesis.tex").read_text() == "precious\n"
    assert siblings(plan) == ["probe"]


def test_an_output_path_that_is_a_file_or_a_link_is_refused(plan: RunPlan, tmp_path: Path) -> None:
    plan.output_dir.parent.mkdir(parents=True)
    plan.output_dir.write_text("a file\n")
    with pytest.raises(UsageError, match="exists and is not a directory"):
        run(plan, FakeExecutor(Outcome(0), write_outputs))
    assert plan.output_dir.read_text() == "a file\n"
    plan.output_dir.unlink()
    (tmp_path / "elsewhere").mkdir()
    plan.output_dir.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="is a symbolic link"):
        run(plan, FakeExecutor(Outcome(0), write_outputs))
    assert not any((tmp_path / "elsewhere").iterdir())


# --- what a container writes is untrusted ---------------------------------------------------------


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "host-secret"
    secret.write_text("root:$6$hash\n")
    secret.chmod(0o600)
    return secret


def _link_result(target: Path) -> Callable[[Path], None]:
    def write(stage: Path) -> None:
        write_outputs(stage)
        (stage / "result.txt").unlink()
        (stage / "result.txt").symlink_to(target)

    return write


def _fifo_result(stage: Path) -> None:
    write_outputs(stage)
    (stage / "result.txt").unlink()
    os.mkfifo(stage / "result.txt")


def _socket_extra(stage: Path) -> None:
    write_outputs(stage)
    here = os.getcwd()
    os.chdir(stage / "sub")  # a socket path is limited to 107 bytes: bind by a relative name
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind("listening.sock")
    finally:
        os.chdir(here)


def _link_in_subfolder(stage: Path) -> None:
    write_outputs(stage)
    (stage / "sub" / "shadow").symlink_to("/etc/shadow")


def _link_folder(stage: Path) -> None:
    (stage / "result.txt").write_text("new result\n")
    (stage / "sub").symlink_to("/root")


@pytest.mark.parametrize(
    ("write", "needle"),
    [
        (_fifo_result, "result.txt: a FIFO"),
        (_socket_extra, "sub/listening.sock: a socket"),
        (_link_in_subfolder, "sub/shadow: a symbolic link to /etc/shadow"),
        (_link_folder, "sub: a symbolic link to /root"),
    ],
)
def test_links_fifos_and_sockets_fail_the_run_and_nothing_is_promoted(
    plan: RunPlan, old_output: Path, write: Callable[[Path], None], needle: str
) -> None:
    with pytest.raises(UnsafeOutputError) as info:
        run(plan, FakeExecutor(Outcome(0), write))
    assert info.value.exit_code == 14
    assert needle in str(info.value) and "nothing was promoted" in str(info.value)
    assert_untouched(old_output, plan)


def test_a_symlink_to_a_host_file_is_never_followed(plan: RunPlan, old_output: Path, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    with pytest.raises(UnsafeOutputError, match=f"result.txt: a symbolic link to {secret}"):
        run(plan, FakeExecutor(Outcome(0), _link_result(secret)))
    assert secret.read_text() == "root:$6$hash\n"  # neither read into the outputs nor changed
    assert_untouched(old_output, plan)
    assert "root:$6$hash" not in "".join(p.read_text() for p in old_output.rglob("*") if p.is_file())


def test_a_hard_link_to_a_file_outside_is_refused(plan: RunPlan, old_output: Path, tmp_path: Path) -> None:
    outside = tmp_path / "results" / "outside.txt"  # same filesystem as the staging folder
    outside.write_text("not the component's\n")

    def write(stage: Path) -> None:
        write_outputs(stage)
        os.link(outside, stage / "sub" / "stolen.txt")

    with pytest.raises(UnsafeOutputError, match=r"sub/stolen\.txt: a hard link to a file with 1 other name"):
        run(plan, FakeExecutor(Outcome(0), write))
    outside.unlink()
    assert_untouched(old_output, plan)


def test_hard_links_within_the_output_folder_are_fine(plan: RunPlan) -> None:
    def write(stage: Path) -> None:
        write_outputs(stage)
        os.link(stage / "result.txt", stage / "sub" / "same.txt")

    result = run(plan, FakeExecutor(Outcome(0), write))
    assert result.extra_outputs == ("sub/same.txt",)  # undeclared, so reported and dropped


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_refused(plan: RunPlan, old_output: Path) -> None:
    def write(stage: Path) -> None:
        write_outputs(stage)
        os.mknod(stage / "sub" / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))

    with pytest.raises(UnsafeOutputError, match="sub/zero: a character device"):
        run(plan, FakeExecutor(Outcome(0), write))
    assert_untouched(old_output, plan)


def test_a_declared_file_output_that_is_a_folder_is_refused(plan: RunPlan, old_output: Path) -> None:
    def write(stage: Path) -> None:
        write_outputs(stage)
        (stage / "result.txt").unlink()
        (stage / "result.txt").mkdir()

    declared = r"result \(/data/output/result\.txt\) is a folder, declared a file"
    with pytest.raises(UnsafeOutputError, match=declared):
        run(plan, FakeExecutor(Outcome(0), write))
    assert_untouched(old_output, plan)


def test_the_stdout_file_cannot_be_planted(plan: RunPlan, tmp_path: Path) -> None:
    secret = _secret(tmp_path)

    def write(stage: Path) -> None:
        write_outputs(stage)
        (stage / "stdout.txt").symlink_to(secret)

    with pytest.raises(UnsafeOutputError):
        run(plan, FakeExecutor(Outcome(0), write, stdout=b"overwrite?\n"))
    assert secret.read_text() == "root:$6$hash\n"

    def plant(stage: Path) -> None:
        write_outputs(stage)
        (stage / "stdout.txt").write_text("forged\n")

    with pytest.raises(UnsafeOutputError, match="the file r2o keeps its stdout output in"):
        run(plan, FakeExecutor(Outcome(0), plant))


def test_promoted_files_lose_setuid_and_world_write(plan: RunPlan) -> None:
    def write(stage: Path) -> None:
        write_outputs(stage)
        os.chmod(stage / "result.txt", 0o4777)
        os.chmod(stage / "sub", 0o777)

    run(plan, FakeExecutor(Outcome(0), write))
    assert stat.S_IMODE((plan.output_dir / "result.txt").stat().st_mode) == 0o755
    assert stat.S_IMODE((plan.output_dir / "sub").stat().st_mode) == 0o755


def test_undeclared_outputs_are_reported_and_dropped(plan: RunPlan) -> None:
    def write(stage: Path) -> None:
        write_outputs(stage)
        (stage / "scratch").mkdir()
        (stage / "scratch" / "big.tmp").write_bytes(b"x" * 100)
        (stage / "sub" / "debug.log").write_text("noise\n")

    result = run(plan, FakeExecutor(Outcome(0), write))
    assert result.extra_outputs == ("scratch", "sub/debug.log")
    assert not (plan.output_dir / "scratch").exists() and not (plan.output_dir / "sub" / "debug.log").exists()
    assert (plan.output_dir / "sub" / "extra.csv").exists()


def test_undeclared_outputs_are_kept_when_the_manifest_says_so(plan: RunPlan) -> None:
    keep = dataclasses.replace(plan, component=dataclasses.replace(plan.component, outputs_extra="keep"))

    def write(stage: Path) -> None:
        write_outputs(stage)
        (stage / "scratch.txt").write_text("kept\n")

    result = run(keep, FakeExecutor(Outcome(0), write))
    assert result.extra_outputs == ("scratch.txt",)
    assert (plan.output_dir / "scratch.txt").read_text() == "kept\n"


# --- storage --------------------------------------------------------------------------------------


def test_a_run_writing_past_its_storage_limit_is_killed(plan: RunPlan, old_output: Path) -> None:
    small = with_limits(plan, storage_mib=4)
    counter = iter(range(1_000_000))

    def flood(stage: Path) -> None:
        (stage / f"chunk{next(counter)}.bin").write_bytes(b"\0" * (256 * 1024))

    executor = FakeExecutor(Outcome(0), write_outputs, forever=flood)
    with pytest.raises(StorageLimitError) as info:
        run(small, executor)
    assert info.value.exit_code == 15
    assert "killed at its storage limit of 4 MiB (fake)" in str(info.value)
    assert executor.process is not None and executor.process.killed.is_set()
    assert_untouched(old_output, plan)


def test_a_full_file_that_fails_the_component_is_the_storage_limit(plan: RunPlan) -> None:
    small = with_limits(plan, storage_mib=1)

    def fill(stage: Path) -> None:  # what RLIMIT_FSIZE leaves: one file at the cap, then exit 1
        write_outputs(stage)
        (stage / "big.bin").write_bytes(b"\0" * MIB)

    with pytest.raises(StorageLimitError):
        run(small, FakeExecutor(Outcome(1), fill))


def test_the_stdout_output_counts_against_the_storage_limit(plan: RunPlan) -> None:
    small = with_limits(plan, storage_mib=1)
    with pytest.raises(StorageLimitError):
        run(small, FakeExecutor(Outcome(0), write_outputs, stdout=b"y" * (2 * MIB)))
    assert siblings(plan) == []
