"""Put <repo>/libs on sys.path so ``import aqdomain`` works under --import-mode=importlib."""

import sys
from pathlib import Path

LIBS = str(Path(__file__).resolve().parents[2])
if LIBS not in sys.path:
    sys.path.insert(0, LIBS)
