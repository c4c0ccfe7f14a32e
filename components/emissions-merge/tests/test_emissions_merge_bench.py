"""benchmarks/science_emissions.py, which times the four emissions stages natively: its command
mapping and its run (the golden cases themselves run through `r2o test`)."""

from pathlib import Path
from types import ModuleType

COMPONENT = "emissions-merge"


def test_native_command_maps_container_paths(bench: ModuleType, tmp_path: Path) -> None:
    inputs = {name: tmp_path / f"{name}.nc" for name in ("biogenic", "point", "area")}
    for path in inputs.values():
        path.touch()
    cmd = bench.native_command(COMPONENT, {"date": "2024-07-16"}, inputs, tmp_path / "out")
    assert cmd[1].endswith("components/emissions-merge/emis_merge.py")
    assert cmd[cmd.index("--date") + 1] == "2024-07-16"
    assert cmd[cmd.index("--point") + 1] == str(tmp_path / "point.nc")
    assert cmd[cmd.index("--out") + 1] == str(tmp_path / "out" / "emis_merged.nc")


def test_benchmark_runs_the_four_components(bench: ModuleType) -> None:
    runs = bench.benchmark()
    assert [r.component for r in runs] == list(bench.COMPONENTS)
    for run in runs:
        assert 0.0 < run.seconds < 60.0
        assert 10.0 < run.peak_rss_mib < 512.0  # the memory_mib of every emissions manifest
