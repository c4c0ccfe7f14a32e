"""The fast tier's golden regression of cmaq: case `first-hours`, natively, through `r2o test`."""

from collections.abc import Callable


def test_first_hours_case_reproduces_its_expected_outputs(golden_case: Callable[[str, str], None]) -> None:
    golden_case("cmaq", "first-hours")
