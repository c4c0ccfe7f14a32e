"""``r2o compare A B``: compare two output files or directories; exit 0 equal, 1 different."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import click

from r2o.compare import FORMATS, MODES, CompareRules, Tolerance
from r2o.compare import compare as compare_files
from r2o.compare.rules import DEFAULT_IGNORED_ATTRIBUTES, Mode
from r2o.errors import UsageError

_VAR_SPEC = re.compile(r"^(?P<name>[^:]+):(?P<settings>.+)$")


def _import_numpy_without_blas_threads() -> None:
    """Import numpy with OpenBLAS limited to one thread, unless the user set it or numpy is loaded.

    A comparison never multiplies matrices, yet OpenBLAS starts and spins a thread per core when
    numpy is imported (measured: 0.1 s of CPU, a third of what comparing two 1 GiB files costs).
    The variable is restored at once, so processes started later do not inherit it."""
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]


def parse_var_spec(spec: str, default: Tolerance) -> tuple[str, Tolerance]:
    """``NAME:rtol=1e-5,atol=1e-9[,ulp=4]`` -> (NAME, Tolerance); unset fields keep the defaults."""
    expected = "expected NAME:rtol=R,atol=A[,ulp=N], e.g. --var O3:rtol=1e-5,atol=1e-12"
    match = _VAR_SPEC.match(spec.strip())
    if not match:
        raise UsageError(f"--var {spec!r}: {expected}")
    values: dict[str, float | int | None] = {"rtol": default.rtol, "atol": default.atol, "ulp": default.ulp}
    for item in match.group("settings").split(","):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in values:
            raise UsageError(f"--var {spec!r}: unknown setting {item.strip()!r}; {expected}")
        try:
            values[key] = int(raw) if key == "ulp" else float(raw)
        except ValueError:
            raise UsageError(f"--var {spec!r}: {key} must be a number, got {raw.strip()!r}") from None
    try:
        tol = Tolerance(
            rtol=float(values["rtol"] or 0.0), atol=float(values["atol"] or 0.0), ulp=_ulp(values["ulp"])
        )
    except ValueError as exc:
        raise UsageError(f"--var {spec!r}: {exc}") from None
    return match.group("name").strip(), tol


def _ulp(value: float | int | None) -> int | None:
    return None if value is None else int(value)


@click.command("compare")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance (symmetric).")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option("--ulp", type=int, default=None, help="Also accept floats at most this many ULPs apart.")
@click.option(
    "--var",
    "var_specs",
    multiple=True,
    metavar="NAME:rtol=R,atol=A",
    help="Tolerance of one variable, CSV column, npz array or JSON key (repeatable).",
)
@click.option(
    "--ignore-attr",
    multiple=True,
    metavar="NAME",
    help="Also ignore this attribute (repeatable; globs allowed).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="numeric",
    show_default=True,
    help="exact = bytes; text = exact lines.",
)
@click.option("--format", "format_", type=click.Choice(FORMATS), default=None, help="Force a comparator.")
@click.option("--nan-differs", is_flag=True, help="Treat NaN as different from NaN.")
@click.option(
    "--png-threshold", type=float, default=0.0, show_default=True, help="Max RMS pixel difference (0..1)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def compare(
    ctx: click.Context,
    a: Path,
    b: Path,
    rtol: float,
    atol: float,
    ulp: int | None,
    var_specs: tuple[str, ...],
    ignore_attr: tuple[str, ...],
    mode: str,
    format_: str | None,
    nan_differs: bool,
    png_threshold: float,
    as_json: bool,
) -> None:
    """Compare A with B (files or directories): netCDF, text, CSV, .npy/.npz, JSON, PNG.

    A value pair passes when |a-b| <= atol + rtol*max(|a|,|b|). Exit code 0 when equal, 1 when
    they differ, 10 when a file cannot be read.
    """
    try:
        default = Tolerance(rtol=rtol, atol=atol, ulp=ulp)
    except ValueError as exc:
        raise UsageError(f"--rtol/--atol/--ulp: {exc}") from None
    per_name = dict(parse_var_spec(spec, default) for spec in var_specs)
    try:
        rules = CompareRules(
            mode=_mode(mode),
            default=default,
            per_name=per_name,
            nan_equal=not nan_differs,
            ignore_attributes=DEFAULT_IGNORED_ATTRIBUTES | frozenset(ignore_attr),
            png_threshold=png_threshold,
            format=format_,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _import_numpy_without_blas_threads()
    result = compare_files(a, b, rules)
    unknown = rules.unknown_names()
    if unknown:
        seen = sorted(rules.names_seen)
        listed = ", ".join(seen[:12]) + (", ..." if len(seen) > 12 else "")
        raise UsageError(
            f"--var {', '.join(unknown)}: no variable, column, array or key of that name in either file",
            hint=f"names in the files: {listed}" if seen else f"{a.name} and {b.name} have no named fields",
        )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.render_text())
    ctx.exit(0 if result.equal else 1)


def _mode(value: str) -> Mode:
    for mode in MODES:
        if mode == value:
            return mode
    raise UsageError(f"--mode {value!r}: use one of {', '.join(MODES)}")
