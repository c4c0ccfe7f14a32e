"""Where the values of one variable sit in its file, so the compare engine can read them directly.

Found by :mod:`r2o.compare.hdf5_layout` (contiguous netCDF-4 datasets) and :mod:`r2o.compare.classic`
(classic files, whose record variables are interleaved record by record).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Extent:
    """``nbytes`` of values stored in byte ``order`` (``<`` or ``>``) from file ``offset``.

    A record variable of a classic file stores ``record_bytes`` per record, records
    ``record_stride`` bytes apart; everything else is one contiguous run (``record_stride`` 0)."""

    offset: int
    nbytes: int
    order: str
    record_bytes: int = 0
    record_stride: int = 0

    def runs(self, start: int, nbytes: int) -> Iterator[tuple[int, int, int]]:
        """(file offset, length, position in the range) of each contiguous piece of the variable's
        bytes ``[start, start + nbytes)``."""
        if not self.record_stride:
            yield self.offset + start, nbytes, 0
            return
        done = 0
        while done < nbytes:
            record, within = divmod(start + done, self.record_bytes)
            take = min(self.record_bytes - within, nbytes - done)
            yield self.offset + record * self.record_stride + within, take, done
            done += take
