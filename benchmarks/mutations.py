"""Mutation audit of the fast test tier: does `make unit` catch realistic one-line bugs?

    .venv/bin/python benchmarks/mutations.py              # every mutation (about 30 min on 2 cores)
    .venv/bin/python benchmarks/mutations.py --list       # the mutations, nothing run
    .venv/bin/python benchmarks/mutations.py K6 theta     # only those whose name contains a word given

The repository's committed HEAD is cloned into a temporary folder (uncommitted work never enters it), the
unmutated clone runs the fast tier once (its failures, if any, are shown), then each mutation is applied to
one file of the clone, `make unit`'s pytest selection (the arguments of the Makefile's unit target, on every
core) is run there with r2o imported from the clone, and the file is restored. A mutation is *caught* when a
test fails that passes again once the file is restored (the failing tests are re-run unmutated, so a flaky
test never counts as a catch); the catching tests are printed. Exit status 0 when every mutation is caught.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # repository-relative
    original: str  # must occur exactly once in the file
    mutated: str


MUTATIONS = (
    Mutation(
        "MDA8 day validity: > vs >= 70 ppb",
        "components/aq-compliance/mda8.py",
        "(any_valid & (best > standard_ppb))",
        "(any_valid & (best >= standard_ppb))",
    ),
    Mutation(
        "MDA8 13-of-17 windows boundary (>= vs >)",
        "components/aq-compliance/mda8.py",
        "day_valid = (valid_windows >= MIN_WINDOWS_PER_DAY)",
        "day_valid = (valid_windows > MIN_WINDOWS_PER_DAY)",
    ),
    Mutation(
        "base-image change stops two images up the chain",
        "tools/r2o/changes.py",
        "while cur is not None and cur in layout.image_parents and cur not in chain:",
        "while cur is not None and cur in layout.image_parents and cur not in chain and len(chain) < 2:",
    ),
    Mutation(
        "content tag ignores *.nc files",
        "tools/r2o/images/tags.py",
        "return any(p in _SKIP_DIRS for p in parts) or rel.endswith(_SKIP_SUFFIXES)",
        'return any(p in _SKIP_DIRS for p in parts) or rel.endswith((*_SKIP_SUFFIXES, ".nc"))',
    ),
    Mutation(
        "solar azimuth: the supplement (NOAA's cos(180 - az) read literally)",
        "libs/aqdomain/solar.py",
        "az = np.degrees(np.arccos(np.clip(cos_az, -1.0, 1.0)))",
        "az = 180.0 - np.degrees(np.arccos(np.clip(cos_az, -1.0, 1.0)))",
    ),
    Mutation(
        "wrfout T written as theta (no -300 K)",
        "components/wrf/downscale.py",
        '("T", theta - vertical.T0)',
        '("T", theta)',
    ),
    Mutation(
        "GRS K6 125 -> 12.5 ppm-1 min-1",
        "components/cmaq/grs.py",
        "K6 = 125.0 * _PER_MIN",
        "K6 = 12.5 * _PER_MIN",
    ),
    Mutation(
        "wrfout Times with a space instead of '_'",
        "components/wrf/wrfout.py",
        'tv[:] = np.array([list(t.strftime("%Y-%m-%d_%H:%M:%S")) for t in times], dtype="S1")',
        'tv[:] = np.array([list(t.strftime("%Y-%m-%d %H:%M:%S")) for t in times], dtype="S1")',
    ),
    Mutation(
        "emissions in g/s labelled mol/s (speciation without the molar mass)",
        "libs/aqdomain/inventory.py",
        "return {k: float(v) / mm for k, v in prof.items()}",
        "return {k: float(v) for k, v in prof.items()}",
    ),
)


def unit_selection(makefile: Path) -> list[str]:
    """The pytest arguments of the Makefile's unit target after ``$(PYTEST)``."""
    text = makefile.read_text()
    match = re.search(r"^unit:.*\n\t\$\(PYTEST\) (.+)$", text, flags=re.MULTILINE)
    if match is None:
        raise SystemExit(f"{makefile}: no `unit:` target running $(PYTEST) found")
    return shlex.split(match.group(1))


@dataclass
class Verdict:
    passed: bool
    seconds: float
    failures: list[str]  # node ids of the failed and erroring tests
    tail: str


def run_tests(clone: Path, args: list[str]) -> Verdict:
    env = {**os.environ, "PYTHONPATH": str(clone / "tools")}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - start
    # node ids of the short summary; xdist's --dist loadgroup appends "@<group>", which is not part of the id
    failures = [
        re.sub(r"@[\w.-]+$", "", line.split(" ", 1)[1].split(" - ", 1)[0])
        for line in proc.stdout.splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    ]
    return Verdict(proc.returncode == 0, seconds, failures, proc.stdout[-1500:] + proc.stderr[-1500:])


def genuine(clone: Path, failures: list[str]) -> list[str]:
    """The failures that pass again on the unmutated clone: those the mutation caused (the others are
    flaky or environmental, e.g. a timing-sensitive test on a loaded machine)."""
    if not failures:
        return []
    again = run_tests(clone, ["-q", *failures])
    if not again.passed and not again.failures:  # pytest could not even run them: trust nothing
        raise SystemExit(f"re-running the failed tests unmutated did not run them:\n{again.tail}")
    return [f for f in failures if f not in again.failures] if not again.passed else list(failures)


def apply(clone: Path, m: Mutation) -> str:
    path = clone / m.path
    text = path.read_text()
    count = text.count(m.original)
    if count != 1:
        raise SystemExit(f"{m.path}: the text to mutate occurs {count} times (expected once): {m.original!r}")
    path.write_text(text.replace(m.original, m.mutated))
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="*", help="run only the mutations whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.words or any(w.lower() in m.name.lower() for w in args.words)]
    if args.list:
        for m in chosen:
            print(f"{m.name:70s} {m.path}")
        return 0
    selection = unit_selection(REPO / "Makefile")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    print(f"fast tier: pytest {shlex.join(selection)}  (HEAD {head.stdout.strip()}, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="r2o-mutations-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", "--shared", str(REPO), str(clone)], check=True)
        if not args.no_baseline:
            base = run_tests(clone, selection)
            print(f"baseline (unmutated): {'passes' if base.passed else 'FAILS'} in {base.seconds:.0f} s")
            if not base.passed:
                print(
                    f"  failing unmutated (flaky or environmental; never counted as a catch): {base.failures}"
                )
        rows = []
        for m in chosen:
            original = apply(clone, m)
            try:
                verdict = run_tests(clone, selection)
            finally:
                (clone / m.path).write_text(original)
            caught_by = genuine(clone, verdict.failures)
            caught = bool(caught_by)
            rows.append((m, caught))
            print(f"{'caught' if caught else 'MISSED'}  {verdict.seconds:5.0f} s  {m.name}  ({m.path})")
            for test in caught_by[:3]:
                print(f"        {test}")
            if len(caught_by) > 3:
                print(f"        ... and {len(caught_by) - 3} more failing tests")
            if not caught and verdict.failures:
                print(f"        only tests that also fail unmutated failed: {verdict.failures[:3]}")
    n_caught = sum(caught for _, caught in rows)
    print(f"{n_caught} of {len(rows)} mutations caught by the fast tier")
    return 0 if n_caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
