"""`r2o ci run-buildspec` semantics with plain shell commands (no Docker): phases, variables, the graph."""

from __future__ import annotations

from pathlib import Path

from r2o.ci import buildspec, local
from r2o.ci.buildspec import BatchNode
from tests.test_cli import r2o


def spec_of(tmp_path: Path, text: str) -> buildspec.Buildspec:
    path = tmp_path / "buildspec.yml"
    path.write_text(text)
    return buildspec.load(path)


def run(tmp_path: Path, text: str, **kwargs: object) -> tuple[local.BatchOutcome, list[tuple[str, str]]]:
    lines: list[tuple[str, str]] = []
    outcome = local.run_buildspec(
        spec_of(tmp_path, text), tmp_path, on_line=lambda ident, line: lines.append((ident, line)), **kwargs
    )  # type: ignore[arg-type]
    return outcome, lines


def output(outcome: local.BatchOutcome, ident: str = "build") -> list[str]:
    return [ln for ln in outcome.build(ident).log if not ln.startswith(("[phase", "$ "))]


def test_phases_in_order_with_state_carried_over(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    outcome, _ = run(
        tmp_path,
        """\
version: 0.2
env:
  variables: {GREETING: hello}
phases:
  post_build:
    commands: ['echo "post $CODEBUILD_BUILD_SUCCEEDING $LATER $(basename $PWD)"']
  install:
    commands:
      - export LATER=kept
      - cd sub
  build:
    commands:
      - |
        for i in 1 2; do
          echo "build $i $GREETING"
        done
""",
    )
    assert outcome.succeeded
    assert output(outcome) == ["build 1 hello", "build 2 hello", "post 1 kept sub"]


def test_pre_build_failure_stops_the_build(tmp_path: Path) -> None:
    outcome, _ = run(
        tmp_path,
        """\
version: 0.2
phases:
  pre_build:
    commands: [echo one, "false", echo never]
    finally: [echo cleanup]
  build:
    commands: [echo build]
  post_build:
    commands: [echo post]
""",
    )
    build = outcome.build("build")
    assert not outcome.succeeded and build.status == local.FAILED and build.failed_phase == "pre_build"
    assert output(outcome) == ["one", "cleanup"]


def test_build_failure_still_runs_post_build(tmp_path: Path) -> None:
    outcome, _ = run(
        tmp_path,
        """\
version: 0.2
phases:
  build:
    commands: ["exit 3"]
  post_build:
    commands: ['echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"']
""",
    )
    assert not outcome.succeeded
    assert output(outcome) == ["succeeding=0"]
    assert "[phase build failed: command exited with 3]" in outcome.build("build").log


def test_on_failure_continue(tmp_path: Path) -> None:
    outcome, _ = run(
        tmp_path,
        """\
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands: ["false"]
  build:
    commands: [echo still built]
""",
    )
    assert output(outcome) == ["still built"]
    assert not outcome.succeeded and outcome.build("build").failed_phase == "install"


def test_variable_precedence(tmp_path: Path) -> None:
    outcome, _ = run(
        tmp_path,
        """\
version: 0.2
env:
  variables: {A: spec, B: spec, C: spec}
batch:
  build-list:
    - identifier: only
      env: {variables: {C: node}}
phases:
  build:
    commands: ['echo "$A $B $C $CODEBUILD_BATCH_BUILD_IDENTIFIER"']
""",
        project={"B": "project", "C": "project"},
    )
    assert output(outcome, "only") == ["spec project node only"]


GRAPH = """\
version: 0.2
batch:
  build-graph:
    - identifier: root
      env: {variables: {T: root}}
    - identifier: left
      depend-on: [root]
      env: {variables: {T: left, OTHER: right}}
    - identifier: right
      depend-on: [root]
      env: {variables: {T: right, OTHER: left}}
    - identifier: leaf
      depend-on: [left, right]
      env: {variables: {T: leaf}}
phases:
  build:
    commands:
      - 'echo "start $T $(date +%s.%N)" >> "$CODEBUILD_SRC_DIR/events"'
      - |
        # left and right each wait (up to 20 s) until the other has started: only parallel builds pass
        if [ -n "${OTHER:-}" ] && [ -n "${RENDEZVOUS:-}" ]; then
          touch "$CODEBUILD_SRC_DIR/started-$T"
          for i in $(seq 200); do [ -e "$CODEBUILD_SRC_DIR/started-$OTHER" ] && break; sleep 0.1; done
          test -e "$CODEBUILD_SRC_DIR/started-$OTHER"
        fi
      - 'test "$T" != "${FAIL:-}"'
      - 'echo "end $T $(date +%s.%N)" >> "$CODEBUILD_SRC_DIR/events"'
"""


def events(tmp_path: Path) -> dict[tuple[str, str], float]:
    rows = [line.split() for line in (tmp_path / "events").read_text().splitlines()]
    return {(kind, name): float(at) for kind, name, at in rows}


def test_graph_runs_in_dependency_order_with_independent_builds_in_parallel(tmp_path: Path) -> None:
    outcome, lines = run(tmp_path, GRAPH, jobs=2, project={"RENDEZVOUS": "1"})
    assert outcome.succeeded, lines
    ev = events(tmp_path)
    assert ev[("start", "left")] >= ev[("end", "root")] and ev[("start", "right")] >= ev[("end", "root")]
    assert ev[("start", "leaf")] >= max(ev[("end", "left")], ev[("end", "right")])
    assert {ident for ident, _ in lines} == {"root", "left", "right", "leaf"}


def test_one_job_runs_builds_one_at_a_time(tmp_path: Path) -> None:
    outcome, _ = run(tmp_path, GRAPH, jobs=1)
    assert outcome.succeeded
    ev = events(tmp_path)
    first, second = sorted(("left", "right"), key=lambda n: ev[("start", n)])
    assert ev[("start", second)] >= ev[("end", first)]


def test_failure_stops_dependents_and_new_builds(tmp_path: Path) -> None:
    outcome, _ = run(tmp_path, GRAPH, jobs=1, project={"FAIL": "left"})
    status = {b.identifier: (b.status, b.reason) for b in outcome.builds}
    assert not outcome.succeeded
    assert status["root"][0] == local.SUCCEEDED
    assert status["left"] == (local.FAILED, "phase build failed")
    assert status["leaf"] == (local.NOT_STARTED, "left did not succeed")
    # with one job, right was still waiting when left failed: the batch stops starting builds
    assert status["right"] == (local.NOT_STARTED, "the batch stopped after left failed")


def test_ignore_failure_lets_the_batch_go_on() -> None:
    ran: list[str] = []

    def one(node: BatchNode) -> local.BuildOutcome:
        ran.append(node.identifier)
        status = local.FAILED if node.identifier == "flaky" else local.SUCCEEDED
        return local.BuildOutcome(node.identifier, status, ignore_failure=node.ignore_failure)

    nodes = [
        BatchNode("flaky", ignore_failure=True),
        BatchNode("after", depend_on=("flaky",)),
        BatchNode("other"),
    ]
    outcome = local.run_graph(nodes, one, jobs=1)
    assert ran == ["flaky", "other"]
    assert outcome.build("after").status == local.NOT_STARTED
    assert not outcome.succeeded  # a build that never started is not a success


def test_ignored_failure_alone_is_a_success() -> None:
    def one(node: BatchNode) -> local.BuildOutcome:
        return local.BuildOutcome(node.identifier, local.FAILED, ignore_failure=node.ignore_failure)

    outcome = local.run_graph([BatchNode("flaky", ignore_failure=True)], one, jobs=4)
    assert outcome.succeeded


def test_run_buildspec_command(tmp_path: Path) -> None:
    (tmp_path / "components").mkdir()
    (tmp_path / "buildspec.yml").write_text(GRAPH)
    proc = r2o("ci", "run-buildspec", "--env", "FAIL=leaf", "-j", "2", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "failed      leaf" in proc.stderr and "buildspec FAILED: 3 of 4 builds succeeded" in proc.stderr
    assert "[root ] [phase build]" in proc.stdout
    ok = r2o("ci", "run-buildspec", "-j", "2", cwd=tmp_path)
    assert ok.returncode == 0 and "buildspec succeeded: 4 of 4" in ok.stderr


def test_run_buildspec_rejects_a_bad_buildspec(tmp_path: Path) -> None:
    (tmp_path / "components").mkdir()
    (tmp_path / "buildspec.yml").write_text("version: 0.2\nphases: {biuld: {commands: [x]}}\n")
    proc = r2o("ci", "run-buildspec", cwd=tmp_path)
    assert proc.returncode == 3 and "did you mean 'build'?" in proc.stderr
