"""The fast tier's cost: runs `make unit`'s selection once and prints its wall time and CPU time.

Named unit_tier.py, not test_tiers.py: tests/test_collection.py requires every tracked test_*.py to be
collected by pytest, and benchmarks/ holds no tests.

CPU (user + sys of pytest and every process it started, from os.wait4's rusage) is the figure to
compare across runs: on a shared machine the wall time grows with the other users' load, the CPU
time hardly. Wall time on N idle cores is at least CPU / N.

    .venv/bin/python benchmarks/unit_tier.py              # `make unit`'s selection, -n auto
    .venv/bin/python benchmarks/unit_tier.py -n 0 --durations=30   # serial, slowest tests
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = ["-n", "auto", "--dist", "loadgroup", "-m", "not docker and not slow and not integration"]


def main(extra: list[str]) -> int:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *UNIT, *extra]
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    lines = reversed(out.splitlines())
    summary = next((line for line in lines if re.search(r"\b(passed|failed)\b", line)), "")
    if extra:
        print(out, end="")
    cpu, cores = usage.ru_utime + usage.ru_stime, os.cpu_count() or 1
    print(f"make unit selection: {summary.strip('= ')}")
    print(f"wall {wall:.1f} s on {cores} cores (load average {os.getloadavg()[0]:.2f} at the end)")
    print(f"cpu  {cpu:.1f} s (user {usage.ru_utime:.1f} s + sys {usage.ru_stime:.1f} s)")
    print(f"lower bound on {cores} idle cores: {cpu / cores:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
