#!/usr/bin/env bash
# Install the reference readers the science tests use into the project venv (idempotent):
#   PseudoNetCDF + pyproj (Models-3 I/O API reader with ij2ll), xarray, and wrf-python 1.3.4.1.
#
# wrf-python 1.3.4.1 is an sdist whose setup.py imports numpy.distutils, so it needs gfortran, a numpy < 2
# and setuptools < 60 *at build time*. We build its wheel in a throwaway build venv (so the project venv keeps
# its own setuptools), against the same numpy as the project venv (the extension's ABI), then install the
# wheel with --no-deps (letting pip resolve deps would pull numpy 2). netCDF4 must stay < 1.7.3 (pinned in
# pyproject.toml): with 1.7.3+ every getvar call fails "Dataset is not picklable" (NCAR/wrf-python#290).
#
# Usage: ci/install-readers.sh [VENV]   (default: .venv of the repository)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv}"
PY="$VENV/bin/python"
WRF_PYTHON_VERSION="1.3.4.1"

if [[ ! -x "$PY" ]]; then
    echo "install-readers: no Python at $PY; create the project venv first (make venv)" >&2
    exit 2
fi

numpy_version="$("$PY" -c 'import numpy; print(numpy.__version__)')"
case "$numpy_version" in
    1.*) ;;
    *) echo "install-readers: the venv has numpy $numpy_version; PseudoNetCDF and wrf-python need numpy < 2" >&2
       exit 2 ;;
esac

# 1. pure-Python readers (pip is a no-op when they are already there)
"$PY" -m pip install --quiet "numpy==$numpy_version" "PseudoNetCDF>=3.5,<4" "pyproj>=3.6,<4" \
    "xarray>=2024.1,<2026" "wrapt>=1.14"

# 2. wrf-python
if "$PY" -c "import wrf, sys; sys.exit(0 if wrf.__version__ == '$WRF_PYTHON_VERSION' else 1)" 2>/dev/null; then
    :  # already installed
    exit 0
fi

if ! command -v gfortran >/dev/null 2>&1; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        echo "install-readers: installing gfortran (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gfortran >/dev/null
    else
        echo "install-readers: wrf-python needs a Fortran compiler: install gfortran (apt-get install gfortran)" >&2
        exit 2
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/build-venv"
"$work/build-venv/bin/python" -m pip install --quiet "numpy==$numpy_version" "setuptools<60" wheel
echo "install-readers: building wrf-python $WRF_PYTHON_VERSION (about a minute)"
"$work/build-venv/bin/python" -m pip wheel --quiet --no-build-isolation --no-deps \
    "wrf-python==$WRF_PYTHON_VERSION" -w "$work/wheels"
"$PY" -m pip install --quiet --no-deps "$work"/wheels/wrf_python-*.whl
"$PY" -c "import wrf; print('install-readers: wrf-python', wrf.__version__, 'ready')"
