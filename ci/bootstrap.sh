#!/usr/bin/env bash
# Create or refresh the project's virtual environment: ci/bootstrap.sh [VENV_DIR]
# Installs r2o (editable) with its dev extras. On a fresh Debian machine whose python3 lacks the
# venv module, installs python3-venv first (as root).
set -euo pipefail
venv="${1:-.venv}"
cd "$(dirname "$0")/.."

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "ci/bootstrap.sh: python3 has no venv module; install it with: sudo apt-get install python3-venv" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
if [ -f ci/install-readers.sh ]; then
    bash ci/install-readers.sh "$venv"
fi
