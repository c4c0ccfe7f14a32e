"""MDA8 rules on hand-built hourly series, checked against hand calculations."""

from __future__ import annotations

import mda8 as rules
import numpy as np
import pytest

NAN = np.nan


def _series(day_values: list[float], ndays: int = 1, tail: float = NAN) -> np.ndarray:
    """Hourly LST series (ppb) for ``ndays`` days of 24 given values each, plus 31 hours of ``tail``."""
    assert len(day_values) == 24 * ndays
    return np.array([*day_values, *([tail] * 31)], dtype=np.float64)


def test_a_clean_afternoon_peak() -> None:
    hours = [40.0] * 24
    for h in range(12, 20):
        hours[h] = 80.0
    res = rules.mda8(_series(hours, tail=40.0), 1)
    # window 12-19 is all 80 ppb; windows 11-18 and 13-20 are (7 x 80 + 40) / 8 = 75
    avgs, counts = rules.window_averages(_series(hours, tail=40.0), 1)
    assert avgs[0, 12 - 7] == 80.0 and avgs[0, 11 - 7] == 75.0 and avgs[0, 13 - 7] == 75.0
    assert np.all(counts == 8)
    assert res.mda8[0] == 80.0 and res.valid_windows[0] == 17 and bool(res.day_valid[0])
    assert res.exceedance_days == 1 and res.highest == 80.0 and np.isnan(res.fourth_highest)


def test_window_averages_are_truncated_to_whole_ppb() -> None:
    hours = [0.0] * 24
    hours[9:17] = [71, 71, 71, 71, 71, 71, 70, 71]  # mean 70.875 -> 70: no exceedance
    res = rules.mda8(_series(hours, tail=0.0), 1)
    assert res.mda8[0] == 70.0 and res.exceedance_days == 0
    # float32 ppm storage: 0.072 ppm reads back as 71.9999969 ppb; it must stay 72 ppb
    hours[9:17] = [float(np.float32(0.072)) * 1000.0] * 8
    assert hours[9] < 72.0
    res = rules.mda8(_series(hours, tail=0.0), 1)
    assert res.mda8[0] == 72.0 and res.exceedance_days == 1


def test_six_of_eight_hours_make_a_window_with_the_available_divisor() -> None:
    hours = [NAN] * 24
    hours[7:13] = [90.0, 92.0, 94.0, 96.0, 98.0, 100.0]  # 6 hours at 07-12 LST only
    avgs, counts = rules.window_averages(_series(hours), 1)
    assert counts[0, 0] == 6 and avgs[0, 0] == 95.0  # (90 + ... + 100) / 6 = 95, not / 8
    assert counts[0, 1] == 5 and np.isnan(avgs[0, 1])  # 08-15 has 5 hours: invalid
    res = rules.mda8(_series(hours), 1)
    # one valid window (< 13) but above the standard: the day counts (Appendix U)
    assert res.valid_windows[0] == 1 and res.mda8[0] == 95.0 and bool(res.day_valid[0])
    assert res.exceedance_days == 1
    # the same pattern below the standard: an incomplete day, not valid
    low = [h - 40.0 for h in hours]
    res = rules.mda8(_series(low), 1)
    assert res.mda8[0] == 55.0 and not bool(res.day_valid[0]) and np.isnan(res.highest)


def test_seven_of_eight_hours_use_divisor_seven() -> None:
    hours = [50.0] * 24
    hours[14] = NAN
    hours[10:18] = [60.0, 62.0, 64.0, 66.0, NAN, 70.0, 72.0, 74.0]
    avgs, counts = rules.window_averages(_series(hours, tail=50.0), 1)
    assert counts[0, 10 - 7] == 7
    assert avgs[0, 10 - 7] == np.floor((60 + 62 + 64 + 66 + 70 + 72 + 74) / 7)  # 66.857 -> 66


@pytest.mark.parametrize(("last_missing", "valid_windows", "valid"), [(12, 13, True), (13, 12, False)])
def test_thirteen_of_seventeen_windows_make_a_valid_day(
    last_missing: int, valid_windows: int, valid: bool
) -> None:
    hours = [50.0] * 24
    for h in range(7, last_missing + 1):
        hours[h] = NAN
    # missing 07..12: windows starting 07, 08, 09, 10 have >= 3 missing hours -> 13 valid;
    # missing 07..13 adds the window starting 11 -> 12 valid
    res = rules.mda8(_series(hours, tail=50.0), 1)
    assert res.valid_windows[0] == valid_windows
    assert bool(res.day_valid[0]) is valid
    assert res.mda8[0] == 50.0


def test_evening_windows_use_the_next_day_hours() -> None:
    day0 = [40.0] * 24
    day0[23] = 88.0
    day1 = [88.0] * 7 + [40.0] * 17  # 00-06 LST of the next day
    series = np.array([*day0, *day1, *([40.0] * 31)])
    avgs, counts = rules.window_averages(series, 2)
    assert counts[0, 23 - 7] == 8 and avgs[0, 23 - 7] == 88.0
    res = rules.mda8(series, 2)
    assert res.mda8[0] == 88.0


def test_without_the_next_day_the_evening_windows_lose_hours() -> None:
    hours = [45.0] * 24
    avgs, counts = rules.window_averages(_series(hours), 1)  # nothing after 23 LST
    assert list(counts[0, 9:13]) == [8, 7, 6, 5]  # windows starting 16, 17, 18, 19
    assert np.isnan(avgs[0, 19 - 7]) and avgs[0, 18 - 7] == 45.0
    res = rules.mda8(_series(hours), 1)
    assert res.valid_windows[0] == 12 and not bool(res.day_valid[0])  # 07..18 valid: 12 < 13


def test_exceedance_days_and_fourth_highest_over_several_days() -> None:
    per_day = [60.0, 75.0, 80.0, 72.0, 65.0, 90.0]
    hours: list[float] = []
    for v in per_day:
        hours += [30.0] * 10 + [v] * 8 + [30.0] * 6  # the day's value at 10-17 LST, 30 ppb otherwise
    one = np.array([*hours, *([30.0] * 31)])
    series = np.stack([one, one.copy()], axis=1)
    series[24 * 2 : 24 * 3, 1] = NAN  # cell 1 loses day 3 entirely (80 ppb)
    res = rules.mda8(series, 6)
    np.testing.assert_array_equal(res.mda8[:, 0], per_day)  # the 10-17 window on every day
    assert res.exceedance_days[0] == 4  # 75, 80, 72, 90
    assert res.fourth_highest[0] == 72.0  # 90, 80, 75, 72
    assert res.highest[0] == 90.0 and res.valid_days[0] == 6
    # cell 1: on day 3 only the windows starting 22 (22, 23 missing + 6 hours of day 4) and 23 (7 hours)
    # are valid, both 30 ppb: an incomplete day below the standard. Day 2's evening windows (starting
    # 17-23) lose day 3's morning hours: 17 -> 7 hours, 18 -> 6 hours, 19..23 invalid, so day 2 keeps
    # 12 windows and, at 75 ppb, stays valid only through the exceedance rule
    assert res.mda8[2, 1] == 30.0 and res.valid_windows[2, 1] == 2 and not res.day_valid[2, 1]
    assert res.valid_windows[1, 1] == 12 and bool(res.day_valid[1, 1]) and res.mda8[1, 1] == 75.0
    assert res.exceedance_days[1] == 3 and res.fourth_highest[1] == 65.0  # 90, 75, 72, 65
    assert res.valid_days[1] == 5


def _day_with_peak(peak: float, missing_morning: int = 0) -> np.ndarray:
    """One LST day at 40 ppb with ``peak`` ppb over 14-21 LST (its best window), and the first
    ``missing_morning`` hours from 07 LST missing; the next day's morning is present (40 ppb)."""
    hours = [40.0] * 24
    hours[14:22] = [peak] * 8
    for h in range(7, 7 + missing_morning):
        hours[h] = NAN
    return _series(hours, tail=40.0)


# EPA's 2015 ozone NAAQS (80 FR 65292; 40 CFR 50 Appendix U): a day exceeds when its MDA8, truncated to
# whole ppb, is above 70 ppb — 70 meets the standard, 71 violates; a day with fewer than 13 of 17 valid
# 8-hour windows still counts when its MDA8 is above the standard.
@pytest.mark.parametrize(("peak", "exceeds"), [(70.0, False), (71.0, True)])
def test_the_standard_is_exceeded_above_70_ppb_not_at_it(peak: float, exceeds: bool) -> None:
    res = rules.mda8(_day_with_peak(peak), 1)
    assert res.valid_windows[0] == 17 and bool(res.day_valid[0])
    assert res.mda8[0] == peak
    assert res.exceedance_days == int(exceeds)


@pytest.mark.parametrize(("peak", "valid"), [(70.0, False), (71.0, True)])
def test_an_incomplete_day_counts_only_above_the_standard(peak: float, valid: bool) -> None:
    # 07..13 LST missing: windows starting 07..11 have 3+ missing hours -> 12 of 17 valid
    res = rules.mda8(_day_with_peak(peak, missing_morning=7), 1)
    assert res.valid_windows[0] == 12
    assert res.mda8[0] == peak
    assert bool(res.day_valid[0]) is valid
    assert res.exceedance_days == int(valid)
    assert res.valid_days == int(valid)


@pytest.mark.parametrize(("missing", "windows", "valid"), [(6, 13, True), (7, 12, False)])
def test_thirteen_windows_are_the_boundary_of_a_complete_day(missing: int, windows: int, valid: bool) -> None:
    # a clean 60 ppb day (below the standard, so only completeness decides)
    res = rules.mda8(_day_with_peak(60.0, missing_morning=missing), 1)
    assert res.valid_windows[0] == windows
    assert bool(res.day_valid[0]) is valid
    assert res.valid_days == int(valid)
