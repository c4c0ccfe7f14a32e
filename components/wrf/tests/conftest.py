"""Make the wrf component modules and the shared libs importable (pytest uses --import-mode=importlib)."""

import sys
from pathlib import Path

COMPONENT = Path(__file__).resolve().parents[1]
for path in (COMPONENT, COMPONENT.parents[1] / "libs"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
