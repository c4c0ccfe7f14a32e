"""Puts this component's code and the shared libs (libs/aqdomain) on sys.path for its tests; the
``bench`` and ``synthetic_wrfout`` fixtures come from components/conftest.py."""

import sys
from pathlib import Path

_COMPONENT = Path(__file__).resolve().parents[1]
for _path in (_COMPONENT, _COMPONENT.parents[1] / "libs"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
