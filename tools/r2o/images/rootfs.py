"""The root base image's filesystem: a Debian tarball made by mmdebstrap from the machine's own apt sources.

No image is ever pulled from a registry, so the bottom of every image stack is this tarball, imported
with ``FROM scratch`` + ``ADD rootfs.tar /``. Given the same recipe, the same ``SOURCE_DATE_EPOCH`` and
the same mirror state, two builds give bit-identical tarballs:

* mmdebstrap itself sorts the tar members, clamps mtimes to ``SOURCE_DATE_EPOCH``, drops atime/ctime,
  and deletes the logs and caches that differ between runs (dpkg.log, apt history, ldconfig aux-cache);
* the host's ``/etc/resolv.conf`` and ``/etc/hostname``, which mmdebstrap copies in, are removed (Docker
  mounts its own over them at run time, and they would carry the build host's identity);
* ``/dev`` is left out (Docker supplies it), so no device nodes depend on how the build ran.

The machine's deb822 sources file is both the mirror for the build and, copied in by mmdebstrap as
``/etc/apt/sources.list.d/0000<name>.sources`` with its ``Signed-By`` keyring path kept, the sources of
every derived image's ``apt-get update``. The dpkg path filters are written by mmdebstrap to
``/etc/dpkg/dpkg.cfg.d/99mmdebstrap`` inside the rootfs, so packages installed by derived images leave
out documentation and man pages too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from r2o import fs
from r2o.errors import BuildError, EngineError, InputError, NotFoundError

DEFAULT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")

# Kept even when an exclude pattern matches them: licences must ship with the binaries, and glibc reads
# locale.alias to resolve locale names. dpkg applies the last matching filter, so these go after the
# excludes.
KEEP_PATHS: tuple[str, ...] = ("/usr/share/doc/*/copyright", "/usr/share/locale/locale.alias")

# The "merged-usr" hook makes the /usr symlinks itself and installs usr-is-merged; without it, bookworm's
# init-system-helpers pulls in usrmerge and, through it, full perl (about 50 MB of the rootfs).
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")

VARIANTS = frozenset(
    {"extract", "custom", "essential", "apt", "required", "minbase", "buildd", "important", "standard"}
)

# Debian policy 5.6.1 for package names; suites are code names or aliases such as "bookworm-backports".
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_SUITE_RE = re.compile(r"^[a-z][a-z0-9.-]*$")

# Shell snippets run by mmdebstrap (it passes the chroot directory as $1); they are mmdebstrap's own
# hook interface, not a shell r2o spawns.
_CUSTOMIZE_HOOKS: tuple[str, ...] = ('rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',)

_STDERR_TAIL_LINES = 25


@dataclass(frozen=True)
class RootfsRecipe:
    """The ``rootfs`` block of a base image's image.yaml."""

    suite: str
    variant: str = "minbase"
    include: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()


def validate_recipe(recipe: RootfsRecipe) -> None:
    """Reject values mmdebstrap would misread (a package named "-x" would become an option)."""
    if not _SUITE_RE.match(recipe.suite):
        raise InputError(
            f"rootfs.suite {recipe.suite!r} is not a Debian suite name",
            hint="use a code name such as 'bookworm'",
        )
    if recipe.variant not in VARIANTS:
        raise InputError(
            f"rootfs.variant {recipe.variant!r} is not an mmdebstrap variant",
            hint=f"use one of: {', '.join(sorted(VARIANTS))}",
        )
    for package in recipe.include:
        if not _PACKAGE_RE.match(package):
            raise InputError(
                f"rootfs.include: {package!r} is not a Debian package name",
                hint="package names are lower case letters, digits and + . - (e.g. 'ca-certificates')",
            )
    for pattern in recipe.exclude_paths:
        if not pattern.startswith("/") or any(c.isspace() for c in pattern):
            raise InputError(
                f"rootfs.exclude_paths: {pattern!r} is not an absolute path pattern",
                hint="write dpkg path-exclude globs such as '/usr/share/doc/*'",
            )


def mmdebstrap_argv(recipe: RootfsRecipe, *, sources: Path, hook_dir: Path = MERGED_USR_HOOKS) -> list[str]:
    """The mmdebstrap command line that writes the rootfs tarball to standard output."""
    argv = [
        "mmdebstrap",
        f"--variant={recipe.variant}",
        "--format=tar",
        "--skip=output/dev",
        f"--hook-dir={hook_dir}",
        # Written to the rootfs's apt config: derived images' `apt-get update` skips translations.
        '--aptopt=Acquire::Languages "none"',
    ]
    if recipe.include:
        argv.append(f"--include={','.join(recipe.include)}")
    argv += [f"--dpkgopt=path-exclude={pattern}" for pattern in recipe.exclude_paths]
    if recipe.exclude_paths:
        argv += [f"--dpkgopt=path-include={pattern}" for pattern in KEEP_PATHS]
    argv += [f"--customize-hook={hook}" for hook in _CUSTOMIZE_HOOKS]
    argv += [recipe.suite, "-", str(sources)]
    return argv


def sources_suites(sources: Path) -> set[str]:
    """The suites a deb822 sources file names (its ``Suites:`` fields)."""
    suites: set[str] = set()
    for line in sources.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "suites":
            suites.update(value.split())
    return suites


def _check_sources(recipe: RootfsRecipe, sources: Path) -> None:
    if not sources.is_file():
        raise NotFoundError(
            f"apt sources file {sources} does not exist; the root base image is built from the machine's "
            "own Debian mirror and needs it",
            hint="pass the deb822 sources file of this machine (see /etc/apt/sources.list.d/)",
        )
    if sources.suffix != ".sources":
        raise InputError(
            f"apt sources file {sources} is not a deb822 '.sources' file",
            hint="mmdebstrap copies it into the image as the apt sources of derived images; "
            "convert a one-line sources.list to deb822 format",
        )
    try:
        suites = sources_suites(sources)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read apt sources file {sources}: {exc}") from exc
    if suites and recipe.suite not in suites:
        raise InputError(
            f"rootfs.suite is {recipe.suite!r} but apt sources file {sources} only lists "
            f"{', '.join(sorted(suites))}",
            hint="set rootfs.suite to one of those suites or pass a sources file for that suite",
        )


def _tail(text: str, lines: int = _STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def build_rootfs(
    recipe: RootfsRecipe,
    out: Path,
    *,
    source_date_epoch: int,
    sources: Path = DEFAULT_SOURCES,
) -> Path:
    """Build the rootfs tarball at ``out`` (uncompressed tar) and return ``out``.

    The tarball is written to a temporary file beside ``out`` and renamed into place, so ``out`` is
    either the previous file or a complete new one, never a partial tarball. Needs root (or
    unprivileged user namespaces with uidmap installed) and the mirror named in ``sources``.
    """
    validate_recipe(recipe)
    if source_date_epoch < 0:
        raise InputError(f"SOURCE_DATE_EPOCH must be a non-negative integer, not {source_date_epoch}")
    _check_sources(recipe, sources)
    if shutil.which("mmdebstrap") is None:
        raise EngineError(
            "mmdebstrap is not installed; it builds the root base image's filesystem",
            hint="run ci/engine.sh (as root), or: apt-get install mmdebstrap",
        )
    if not MERGED_USR_HOOKS.is_dir():
        raise EngineError(
            f"mmdebstrap's hook directory {MERGED_USR_HOOKS} is missing (mmdebstrap older than 1.0?)",
            hint="install Debian 12's mmdebstrap: apt-get install mmdebstrap",
        )

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = mmdebstrap_argv(recipe, sources=sources, hook_dir=MERGED_USR_HOOKS)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch), "LC_ALL": "C.UTF-8"}
    with fs.atomic_writer(out) as stdout:
        try:
            proc = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, env=env, check=False)
        except OSError as exc:
            raise EngineError(f"cannot run mmdebstrap: {exc}", hint="apt-get install mmdebstrap") from exc
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", errors="replace")
            raise BuildError(
                f"mmdebstrap failed (exit {proc.returncode}) building the {recipe.suite} rootfs for {out}:\n"
                f"{_tail(stderr)}",
                hint="check that the mirror in the apt sources file answers (apt-get update) and that "
                "every package in rootfs.include exists in that suite",
            )
    return out
