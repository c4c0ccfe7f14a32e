"""Puts this component's code, its test helpers and the shared libs (libs/aqdomain) on sys.path."""

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent
_COMPONENT = _TESTS.parent
for _path in (_TESTS, _COMPONENT, _COMPONENT.parents[1] / "libs"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
