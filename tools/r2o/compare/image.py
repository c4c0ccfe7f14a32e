"""PNG images: compared pixel by pixel, not byte by byte (metadata chunks and compression level
do not count).

The metric is the RMS of the channel differences over all pixels, as a fraction of full scale
(255 for 8-bit, 65535 for 16-bit channels); it is reported as the normalized RMS. Images are equal
when it is at most ``rules.png_threshold`` (0 by default: identical pixels). Images of different
sizes differ; images of different modes are converted to RGBA first (noted in the report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from r2o.compare.report import Comparison, Difference, FieldReport, Location
from r2o.compare.rules import CompareRules, Tolerance
from r2o.errors import CannotCompareError

_HINT = "check that the file is a complete PNG image (an interrupted write leaves it truncated)"


def _load(path: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise CannotCompareError(f"{path}: cannot be read as an image: {exc}", hint=_HINT) from exc


def _full_scale(mode: str) -> float:
    return 65535.0 if mode.startswith("I") else 255.0


def compare_png(a: Path, b: Path, rules: CompareRules) -> Comparison:
    ia, ib = _load(a), _load(b)
    notes: list[str] = []
    if ia.size != ib.size:
        diff = Difference("size", f"a is {ia.size[0]}x{ia.size[1]}, b is {ib.size[0]}x{ib.size[1]} pixels")
        return Comparison(False, "png", a, b, differences=(diff,))
    if ia.mode != ib.mode:
        notes.append(f"modes differ (a {ia.mode}, b {ib.mode}): both converted to RGBA")
        ia, ib = ia.convert("RGBA"), ib.convert("RGBA")
    scale = _full_scale(ia.mode)
    pa = np.asarray(ia, dtype=np.float64)
    pb = np.asarray(ib, dtype=np.float64)
    if pa.ndim == 2:
        pa, pb = pa[..., None], pb[..., None]
    d = np.abs(pa - pb)
    per_pixel = d.max(axis=2)
    n_pixels = per_pixel.size
    differing_pixels = int(np.count_nonzero(per_pixel))
    rms = float(np.sqrt(np.mean(d * d))) if d.size else 0.0
    metric = rms / scale
    threshold = rules.png_threshold if rules.mode == "numeric" else 0.0
    equal = metric <= threshold
    first = worst = None
    if differing_pixels:
        y, x = (int(v) for v in np.unravel_index(int(np.argmax(per_pixel > 0)), per_pixel.shape))
        wy, wx = (int(v) for v in np.unravel_index(int(np.argmax(per_pixel)), per_pixel.shape))

        def at(y: int, x: int) -> Location:
            return Location(
                index=(y, x),
                a=str(tuple(int(v) for v in pa[y, x])),
                b=str(tuple(int(v) for v in pb[y, x])),
                coords=(("x", str(x)), ("y", str(y))),
            )

        first, worst = at(y, x), at(wy, wx)
    report = FieldReport(
        name=f"pixels ({ia.mode}; metric = RMS / {scale:g}, threshold {threshold:g})",
        equal=equal,
        size=n_pixels,
        differing=0 if equal else differing_pixels,
        not_identical=differing_pixels,
        max_abs=float(d.max()) if d.size else 0.0,
        max_rel=float(d.max()) / scale if d.size else 0.0,
        rms=rms,
        nrms=metric,
        first=first,
        worst=worst,
        tolerance=Tolerance(),
        shape=(ia.size[1], ia.size[0]),
    )
    return Comparison(equal, "png", a, b, fields=(report,), notes=tuple(notes))
