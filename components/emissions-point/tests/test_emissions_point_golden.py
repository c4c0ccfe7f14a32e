"""The fast tier's golden regression of emissions-point: case `one-day`, natively, through `r2o test`."""

from collections.abc import Callable


def test_one_day_case_reproduces_its_expected_outputs(golden_case: Callable[[str, str], None]) -> None:
    golden_case("emissions-point", "one-day")
