"""The one-day golden case of emissions-area reproduces natively, bit-stable from run to run."""

import hashlib
from pathlib import Path
from types import ModuleType

COMPONENT = "emissions-area"


def test_golden_case_matches_expected(bench: ModuleType, tmp_path: Path) -> None:
    params, inputs = bench.case_inputs(COMPONENT)
    assert all(path.exists() for path in inputs.values()), inputs
    bench.run_native(COMPONENT, params, inputs, tmp_path / "run1")
    assert bench.compare_to_expected(COMPONENT, tmp_path / "run1") == []


def test_two_runs_are_bit_identical(bench: ModuleType, tmp_path: Path) -> None:
    params, inputs = bench.case_inputs(COMPONENT)
    digests = []
    for run in ("a", "b"):
        result = bench.run_native(COMPONENT, params, inputs, tmp_path / run)
        digests.append(
            {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in result.outputs.items()}
        )
    assert digests[0] == digests[1]
