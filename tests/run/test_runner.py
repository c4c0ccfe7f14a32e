"""The one runner every backend shares: staging, three distinct failures, atomic promotion."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from r2o.errors import OutOfMemoryError, RunError, RunTimeoutError, UsageError
from r2o.manifest import Component
from r2o.run.plan import RunPlan, make_plan
from r2o.run.runner import Echo, Execution, run

LOG = b"".join(f"log line {i}\n".encode() for i in range(50))


class FakeExecutor:
    """Writes files into the staging directory it is given, then reports ``execution``."""

    name = "fake"

    def __init__(self, execution: Execution, write: Callable[[Path], None] | None = None) -> None:
        self.execution = execution
        self.write = write
        self.staging: Path | None = None
        self.staging_mode = 0

    def execute(self, plan: RunPlan, output_dir: Path, echo: Echo | None) -> Execution:
        self.staging = output_dir
        self.staging_mode = stat.S_IMODE(output_dir.stat().st_mode)
        assert output_dir.is_dir() and not any(output_dir.iterdir())
        if self.write is not None:
            self.write(output_dir)
        return self.execution


def write_outputs(stage: Path) -> None:
    (stage / "result.txt").write_text("new result\n")
    (stage / "sub").mkdir()
    (stage / "sub" / "extra.csv").write_text("k,v\n")


def ok(stdout: bytes = b"hello\n") -> Execution:
    return Execution(exit_code=0, stdout=stdout, stderr=b"", seconds=0.1)


@pytest.fixture
def plan(component: Component, grid: Path, tmp_path: Path) -> RunPlan:
    return make_plan(
        component,
        parameters={"date": "2024-07-15"},
        inputs={"grid": grid},
        output_dir=tmp_path / "results" / "probe",
    )


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


def test_success_promotes_the_staging_directory(plan: RunPlan) -> None:
    executor = FakeExecutor(ok(), write_outputs)
    result = run(plan, executor)
    dest = plan.output_dir
    assert result.output_dir == dest and result.backend == "fake"
    # Staged beside the destination (same filesystem, so the promotion is a rename), writable by uid 1000.
    assert executor.staging is not None and executor.staging.parent == dest.parent
    assert executor.staging.name.startswith(".probe.partial-")
    assert executor.staging_mode == 0o777
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == [
        "result.txt",
        "stdout.txt",
        "sub",
        "sub/extra.csv",
    ]
    assert (dest / "stdout.txt").read_bytes() == b"hello\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert siblings(plan) == ["probe"]  # no staging or trash left behind


def test_success_replaces_an_earlier_run_entirely(plan: RunPlan, old_output: Path) -> None:
    run(plan, FakeExecutor(ok(), write_outputs))
    assert (old_output / "result.txt").read_text() == "new result\n"
    assert not (old_output / "sub" / "stale.csv").exists()  # the new tree, not a mix of old and new
    assert siblings(plan) == ["probe"]


@pytest.mark.parametrize(
    ("execution", "error", "code", "needle"),
    [
        (
            Execution(exit_code=3, stdout=b"", stderr=LOG, seconds=1),
            RunError,
            7,
            "probe exited with code 3 (fake)",
        ),
        (
            Execution(exit_code=137, stdout=b"", stderr=LOG, seconds=1, oom_killed=True),
            OutOfMemoryError,
            8,
            "probe was killed at its memory limit of 768 MiB (fake)",
        ),
        (
            Execution(exit_code=137, stdout=b"", stderr=LOG, seconds=1, timed_out=True),
            RunTimeoutError,
            9,
            "probe ran past its timeout of 120 s (fake)",
        ),
    ],
)
def test_three_distinct_failures_with_the_log_tail(
    plan: RunPlan, old_output: Path, execution: Execution, error: type[RunError], code: int, needle: str
) -> None:
    with pytest.raises(RunError) as info:
        run(plan, FakeExecutor(execution, write_outputs))
    assert type(info.value) is error
    assert info.value.exit_code == code
    message = str(info.value)
    assert needle in message
    assert "| log line 49" in message and "| log line 30" in message
    assert "log line 29" not in message  # the last 20 lines only
    # The earlier run is untouched and nothing partial is left beside it.
    assert (old_output / "result.txt").read_text() == "old result\n"
    assert (old_output / "sub" / "stale.csv").exists()
    assert siblings(plan) == ["probe"]


def test_a_failure_without_earlier_output_leaves_nothing(plan: RunPlan) -> None:
    with pytest.raises(RunError):
        run(
            plan,
            FakeExecutor(
                Execution(exit_code=1, stdout=b"only stdout\n", stderr=b"", seconds=1), write_outputs
            ),
        )
    assert not plan.output_dir.exists()
    assert siblings(plan) == []


def test_the_log_tail_falls_back_to_stdout_and_says_when_empty(plan: RunPlan) -> None:
    with pytest.raises(RunError, match=r"\| only stdout"):
        run(plan, FakeExecutor(Execution(exit_code=1, stdout=b"only stdout\n", stderr=b"", seconds=1)))
    with pytest.raises(RunError, match=r"\(no output\)"):
        run(plan, FakeExecutor(Execution(exit_code=1, stdout=b"", stderr=b"", seconds=1)))


def test_a_missing_declared_output_fails_the_run(plan: RunPlan, old_output: Path) -> None:
    def only_result(stage: Path) -> None:
        (stage / "result.txt").write_text("new result\n")

    with pytest.raises(RunError) as info:
        run(plan, FakeExecutor(ok(), only_result))
    assert "exited 0 but did not write its declared output(s): extra (/data/output/sub/extra.csv)" in str(
        info.value
    )
    assert info.value.exit_code == 7
    assert (old_output / "result.txt").read_text() == "old result\n"
    assert siblings(plan) == ["probe"]


def test_an_executor_exception_cleans_the_staging_directory(plan: RunPlan) -> None:
    class Exploding(FakeExecutor):
        def execute(self, plan: RunPlan, output_dir: Path, echo: Echo | None) -> Execution:
            write_outputs(output_dir)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(plan, Exploding(ok()))
    assert siblings(plan) == []


def test_a_directory_with_foreign_files_is_never_replaced(plan: RunPlan, old_output: Path) -> None:
    # `r2o run NAME --output .` must not delete the working directory on success.
    (old_output / "thesis.tex").write_text("precious\n")
    executor = FakeExecutor(ok(), write_outputs)
    with pytest.raises(UsageError) as info:
        run(plan, executor)
    assert "holds files that are not outputs of probe (thesis.tex)" in str(info.value)
    assert executor.staging is None  # refused before anything ran
    assert (old_output / "thesis.tex").read_text() == "precious\n"
    assert siblings(plan) == ["probe"]


def test_an_output_path_that_is_a_file_is_refused(plan: RunPlan) -> None:
    plan.output_dir.parent.mkdir(parents=True)
    plan.output_dir.write_text("a file\n")
    with pytest.raises(UsageError, match="exists and is not a directory"):
        run(plan, FakeExecutor(ok(), write_outputs))
    assert plan.output_dir.read_text() == "a file\n"
