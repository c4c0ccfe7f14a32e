"""Daily maximum 8-hour average (MDA8) ozone under EPA's rules for the 2015 ozone NAAQS (40 CFR 50 App. U).

For each local-standard-time day d and each cell:

* 17 eight-hour windows start at 07:00, 08:00, ..., 23:00 LST of day d; the last ones reach into day
  d + 1 (the window starting at 23:00 ends with the 06:00 hour of the next day).
* A window is valid with >= 6 of its 8 hourly values; its average is the mean of the available
  hours (divisor 6, 7 or 8), truncated to a whole ppb.
* MDA8 = the highest valid window average (NaN when no window is valid).
* The day is valid when >= 13 of its 17 windows are valid, or when its MDA8 exceeds the standard
  (Appendix U: an exceedance counts even on an incomplete day).
* Exceedance day: a valid day with MDA8 > 70 ppb (i.e. >= 71 ppb after truncation).
* 4th-highest MDA8: the fourth-highest value over the valid days (NaN with fewer than 4 valid days).

Hourly values are used as given (no truncation of hours); missing hours are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STANDARD_PPB = 70.0
FIRST_START_LST = 7
LAST_START_LST = 23
WINDOW_HOURS = 8
MIN_HOURS_PER_WINDOW = 6
MIN_WINDOWS_PER_DAY = 13
N_WINDOWS = LAST_START_LST - FIRST_START_LST + 1  # 17
# Truncation guard (ppb): CONC files hold float32 ppm, so 0.071 ppm can read back as 70.99999...
# ppb; adding 1e-4 ppb before the floor keeps such values at the intended whole ppb.
TRUNCATION_GUARD_PPB = 1.0e-4


@dataclass
class Mda8Result:
    mda8: np.ndarray  # (ndays, ...) ppb, whole numbers, NaN where no window is valid
    valid_windows: np.ndarray  # (ndays, ...) int, 0..17
    day_valid: np.ndarray  # (ndays, ...) bool
    exceedance_days: np.ndarray  # (...) int
    fourth_highest: np.ndarray  # (...) ppb, NaN with < 4 valid days
    highest: np.ndarray  # (...) ppb, highest MDA8 over valid days, NaN if none
    valid_days: np.ndarray  # (...) int


def window_averages(hourly_lst: np.ndarray, ndays: int) -> tuple[np.ndarray, np.ndarray]:
    """Truncated 8-hour averages and their hour counts for every day and start hour.

    ``hourly_lst`` (nhours, ...) ppb with NaN for missing hours; index 0 is 00:00 LST of day 0. Hours
    beyond the end of the array count as missing. Returns (averages, counts), each (ndays, 17, ...);
    averages are NaN for invalid windows (fewer than 6 hours).
    """
    need = 24 * ndays + LAST_START_LST + WINDOW_HOURS  # the last window of the last day
    values = np.asarray(hourly_lst, dtype=np.float64)
    if values.shape[0] < need:
        pad = np.full((need - values.shape[0], *values.shape[1:]), np.nan)
        values = np.concatenate([values, pad], axis=0)
    present = np.isfinite(values)
    zeroed = np.where(present, values, 0.0)
    csum = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(zeroed, axis=0)], axis=0)
    ccount = np.concatenate(
        [np.zeros((1, *values.shape[1:]), dtype=np.int64), np.cumsum(present, axis=0)], axis=0
    )
    starts = (
        24 * np.arange(ndays)[:, None] + np.arange(FIRST_START_LST, LAST_START_LST + 1)[None, :]
    ).ravel()
    sums = csum[starts + WINDOW_HOURS] - csum[starts]
    counts = ccount[starts + WINDOW_HOURS] - ccount[starts]
    valid = counts >= MIN_HOURS_PER_WINDOW
    avg = np.where(valid, sums / np.where(valid, counts, 1), np.nan)
    truncated = np.floor(avg + TRUNCATION_GUARD_PPB)
    shape = (ndays, N_WINDOWS, *values.shape[1:])
    return truncated.reshape(shape), counts.reshape(shape)


def daily(
    hourly_lst: np.ndarray, ndays: int, standard_ppb: float = STANDARD_PPB
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day: MDA8 (ppb, NaN when no window is valid), number of valid windows, day validity."""
    avgs, _ = window_averages(hourly_lst, ndays)
    valid_windows = np.isfinite(avgs).sum(axis=1)
    any_valid = valid_windows > 0
    best = np.where(any_valid, np.max(np.where(np.isfinite(avgs), avgs, -np.inf), axis=1), np.nan)
    day_valid = (valid_windows >= MIN_WINDOWS_PER_DAY) | (any_valid & (best > standard_ppb))
    return best, valid_windows, day_valid


def summarise(
    best: np.ndarray, valid_windows: np.ndarray, day_valid: np.ndarray, standard_ppb: float = STANDARD_PPB
) -> Mda8Result:
    """Exceedance days, 4th-highest and highest MDA8 over the valid days (axis 0 = days)."""
    ndays = best.shape[0]
    exceed = (day_valid & (best > standard_ppb)).sum(axis=0)
    n_valid = day_valid.sum(axis=0)
    ranked = np.sort(np.where(day_valid, best, -np.inf), axis=0)[::-1]  # descending, invalid days last
    fourth = ranked[3] if ndays >= 4 else np.full(best.shape[1:], -np.inf)
    fourth = np.where(n_valid >= 4, fourth, np.nan)
    highest = np.where(n_valid > 0, ranked[0], np.nan)
    return Mda8Result(
        mda8=best,
        valid_windows=valid_windows,
        day_valid=day_valid,
        exceedance_days=exceed,
        fourth_highest=fourth,
        highest=highest,
        valid_days=n_valid,
    )


def mda8(hourly_lst: np.ndarray, ndays: int, standard_ppb: float = STANDARD_PPB) -> Mda8Result:
    """MDA8 and the derived statistics for ``ndays`` consecutive days; see the module docstring."""
    return summarise(*daily(hourly_lst, ndays, standard_ppb), standard_ppb)
