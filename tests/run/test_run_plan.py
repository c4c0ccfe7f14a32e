"""Run plans: parameters checked against the manifest, Ref:: substituted, inputs mounted read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from r2o.errors import InputError, UsageError
from r2o.manifest import Component
from r2o.run.plan import DEFAULT_PIDS_LIMIT, Limits, Mount, make_plan, parse_assignments


def plan_for(
    component: Component,
    tmp_path: Path,
    params: dict[str, str] | None = None,
    inputs: dict[str, Path] | None = None,
    **kwargs: object,
):  # type: ignore[no-untyped-def]
    return make_plan(
        component,
        parameters={"date": "2024-07-15", **(params or {})},
        inputs=inputs or {},
        output_dir=tmp_path / "out",
        **kwargs,
    )  # type: ignore[arg-type]


def test_ref_placeholders_are_substituted_with_typed_values(
    component: Component, grid: Path, tmp_path: Path
) -> None:
    plan = plan_for(
        component, tmp_path, {"size": "7", "mode": "exact", "scale": "1", "verbose": "TRUE"}, {"grid": grid}
    )
    assert plan.parameters == {
        "date": "2024-07-15",
        "size": 7,
        "mode": "exact",
        "scale": 1.0,
        "verbose": True,
    }
    argv = list(plan.argv)
    assert argv[:3] == ["python3", "/app/probe.py", "--date"]
    assert argv[argv.index("--date") + 1] == "2024-07-15"
    assert argv[argv.index("--size") + 1] == "7"
    assert argv[argv.index("--scale") + 1] == "1.0"
    assert argv[argv.index("--verbose") + 1] == "true"  # booleans as JSON spells them, like Batch
    assert not any("Ref::" in a for a in argv)


def test_defaults_fill_what_is_not_given(component: Component, grid: Path, tmp_path: Path) -> None:
    plan = plan_for(component, tmp_path, inputs={"grid": grid})
    assert plan.parameters == {
        "date": "2024-07-15",
        "size": 2,
        "mode": "fast",
        "scale": 0.5,
        "verbose": False,
    }


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"size": "two"}, "parameter 'size': 'two' is not an integer"),
        ({"size": "2.5"}, "'2.5' is not an integer"),
        ({"size": "0"}, "0 is below the minimum 1"),
        ({"size": "11"}, "11 is above the maximum 10"),
        ({"scale": "1.5"}, "1.5 is above the maximum 1"),
        ({"scale": "half"}, "'half' is not a number"),
        ({"verbose": "yes"}, "'yes' is not true or false"),
        ({"mode": "exakt"}, "'exakt' is not one of fast, exact; did you mean 'exact'?"),
        ({"date": "2024-13-01"}, "'2024-13-01' is not a date (YYYY-MM-DD)"),
        ({"dat": "2024-07-15"}, "probe has no parameter 'dat'"),
    ],
)
def test_bad_parameters_are_usage_errors(
    component: Component, grid: Path, tmp_path: Path, params: dict[str, str], needle: str
) -> None:
    with pytest.raises(UsageError) as info:
        plan_for(component, tmp_path, params, {"grid": grid})
    assert needle in str(info.value)
    assert info.value.exit_code == 2


def test_a_required_parameter_without_default_must_be_given(
    component: Component, grid: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError) as info:
        make_plan(component, parameters={}, inputs={"grid": grid}, output_dir=tmp_path / "out")
    assert "probe needs parameter 'date' (date)" in str(info.value)
    assert "pass -p date=VALUE" in str(info.value)


def test_inputs_are_mounted_read_only_at_their_declared_paths(
    component: Component, grid: Path, tmp_path: Path
) -> None:
    stations = tmp_path / "stations"
    stations.mkdir()
    plan = plan_for(component, tmp_path, inputs={"grid": grid, "stations": stations})
    assert plan.inputs == (
        Mount(grid.resolve(), "/data/input/grid.txt", True),
        Mount(stations.resolve(), "/data/input/stations", True),
    )
    assert all(m.read_only for m in plan.inputs)


def test_an_optional_input_may_be_left_out(component: Component, grid: Path, tmp_path: Path) -> None:
    plan = plan_for(component, tmp_path, inputs={"grid": grid})
    assert [m.container for m in plan.inputs] == ["/data/input/grid.txt"]


@pytest.mark.parametrize(
    ("inputs", "error", "needle"),
    [
        ({}, UsageError, "probe needs input 'grid' (text, file)"),
        ({"grid": "missing.txt"}, InputError, "does not exist"),
        ({"grid": "."}, InputError, "input 'grid' must be a file"),
        ({"grid": "grid.txt", "stations": "grid.txt"}, InputError, "input 'stations' must be a directory"),
        ({"grid": "/dev/zero"}, InputError, "input 'grid' must be a file; /dev/zero is a character device"),
        ({"grid": "grid.txt", "gird": "grid.txt"}, UsageError, "did you mean 'grid'?"),
    ],
)
def test_bad_inputs(
    component: Component,
    grid: Path,
    tmp_path: Path,
    inputs: dict[str, str],
    error: type[Exception],
    needle: str,
) -> None:
    given = {k: grid.parent / v for k, v in inputs.items()}
    with pytest.raises(error) as info:
        plan_for(component, tmp_path, inputs=given)
    assert needle in str(info.value)


def test_limits_come_from_the_manifest(component: Component, grid: Path, tmp_path: Path) -> None:
    plan = plan_for(component, tmp_path, inputs={"grid": grid}, image="probe:1.0.0-0123456789ab")
    assert plan.limits == Limits(
        vcpus=2, memory_mib=768, timeout_s=120, network=False, pids=DEFAULT_PIDS_LIMIT
    )
    assert plan.output_dir == (tmp_path / "out").resolve()
    assert plan.image == "probe:1.0.0-0123456789ab"
    assert plan.stdout_output == "log"
    assert plan.environment["PROBE_OUT"] == "/data/output/sub"
    text = plan.describe()
    assert "image      probe:1.0.0-0123456789ab" in text
    assert f"input      {grid.resolve()} -> /data/input/grid.txt (read-only)" in text
    assert "2 vCPU, 768 MiB (no swap), timeout 120 s, network off, pids 512" in text


def test_timeout_override(component: Component, grid: Path, tmp_path: Path) -> None:
    assert plan_for(component, tmp_path, inputs={"grid": grid}, timeout_s=5).limits.timeout_s == 5
    with pytest.raises(UsageError, match="--timeout must be at least 1 second"):
        plan_for(component, tmp_path, inputs={"grid": grid}, timeout_s=0)


def test_parse_assignments() -> None:
    assert parse_assignments(("a=1", "b=x=y", "c="), "-p") == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(UsageError, match="'a' is given twice"):
        parse_assignments(("a=1", "a=2"), "-p")
    with pytest.raises(UsageError, match="'=1' is not of the form NAME=VALUE"):
        parse_assignments(("=1",), "-p")
