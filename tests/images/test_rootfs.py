"""The root base image's rootfs: mmdebstrap's command line, its failure modes, and (slow) real builds."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from r2o.errors import BuildError, EngineError, InputError, NotFoundError, R2OError
from r2o.images import rootfs
from r2o.images.rootfs import (
    DEFAULT_SOURCES,
    KEEP_PATHS,
    RootfsRecipe,
    build_rootfs,
    mmdebstrap_argv,
    sources_suites,
    validate_recipe,
)

REPO = Path(__file__).resolve().parents[2]
DEBIAN_IMAGE_YAML = REPO / "base-images" / "debian" / "image.yaml"
EPOCH = 1_700_000_000

SOURCES_TEXT = """\
Types: deb
# a comment line
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

RECIPE = RootfsRecipe(
    suite="bookworm",
    variant="minbase",
    include=("ca-certificates", "tzdata"),
    exclude_paths=("/usr/share/doc/*", "/usr/share/man/*"),
)


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    path = tmp_path / "debian.sources"
    path.write_text(SOURCES_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def fake_mmdebstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in mmdebstrap on PATH (first), with the hook directory pointed at an existing folder.

    The script's behaviour is chosen per test by writing its body to the returned path.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(rootfs, "MERGED_USR_HOOKS", hooks)
    return bin_dir / "mmdebstrap"


def write_script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)


# --- the command line -------------------------------------------------------------------------------


def test_argv_runs_mmdebstrap_with_the_recipe_and_writes_tar_to_stdout(sources: Path) -> None:
    argv = mmdebstrap_argv(RECIPE, sources=sources, hook_dir=Path("/hooks/merged-usr"))

    assert argv[0] == "mmdebstrap"
    assert argv[-3:] == ["bookworm", "-", str(sources)]
    options = argv[1:-3]
    assert all(option.startswith("--") for option in options)
    assert "--variant=minbase" in options
    assert "--format=tar" in options
    assert "--skip=output/dev" in options
    assert "--hook-dir=/hooks/merged-usr" in options
    assert "--include=ca-certificates,tzdata" in options


def test_argv_keeps_copyright_files_by_including_them_after_the_excludes(sources: Path) -> None:
    argv = mmdebstrap_argv(RECIPE, sources=sources)
    dpkg = [a.removeprefix("--dpkgopt=") for a in argv if a.startswith("--dpkgopt=")]

    # dpkg applies the last matching filter, so the order is the contract.
    assert dpkg == [
        "path-exclude=/usr/share/doc/*",
        "path-exclude=/usr/share/man/*",
        *(f"path-include={keep}" for keep in KEEP_PATHS),
    ]
    assert "path-include=/usr/share/doc/*/copyright" in dpkg


def test_argv_without_include_or_excludes_adds_no_filters(sources: Path) -> None:
    argv = mmdebstrap_argv(RootfsRecipe(suite="bookworm"), sources=sources)

    assert not any(a.startswith(("--include", "--dpkgopt")) for a in argv)
    assert "--variant=minbase" in argv


def test_argv_removes_the_build_hosts_resolv_conf_and_hostname(sources: Path) -> None:
    hooks = [a for a in mmdebstrap_argv(RECIPE, sources=sources) if a.startswith("--customize-hook=")]

    assert any("/etc/resolv.conf" in h and "/etc/hostname" in h and "rm -f" in h for h in hooks)


def test_the_debian_image_recipe_is_valid() -> None:
    recipe = recipe_from_image_yaml(DEBIAN_IMAGE_YAML)

    validate_recipe(recipe)
    assert recipe.variant == "minbase"
    assert "/usr/share/doc/*" in recipe.exclude_paths


@pytest.mark.parametrize(
    ("recipe", "fragment"),
    [
        (RootfsRecipe(suite="bookworm", include=("--no-check-gpg",)), "rootfs.include"),
        (RootfsRecipe(suite="bookworm", include=("Python3",)), "rootfs.include"),
        (RootfsRecipe(suite="bookworm", variant="tiny"), "rootfs.variant"),
        (RootfsRecipe(suite="Bookworm; rm"), "rootfs.suite"),
        (RootfsRecipe(suite="bookworm", exclude_paths=("usr/share/doc/*",)), "rootfs.exclude_paths"),
        (RootfsRecipe(suite="bookworm", exclude_paths=("/usr/share/doc/* /etc",)), "rootfs.exclude_paths"),
    ],
)
def test_a_bad_recipe_is_an_input_error_naming_the_field(recipe: RootfsRecipe, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        validate_recipe(recipe)
    assert info.value.exit_code == 3
    assert info.value.hint


def test_sources_suites_reads_every_stanza(sources: Path) -> None:
    assert sources_suites(sources) == {"bookworm", "bookworm-updates", "bookworm-security"}


# --- failures before mmdebstrap runs ----------------------------------------------------------------


def test_a_missing_sources_file_is_a_clear_not_found_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sources"
    out = tmp_path / "rootfs.tar"

    with pytest.raises(NotFoundError) as info:
        build_rootfs(RECIPE, out, source_date_epoch=EPOCH, sources=missing)

    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)
    assert isinstance(info.value, R2OError) and info.value.exit_code == 4
    assert not out.exists()


def test_a_one_line_sources_list_is_refused(tmp_path: Path) -> None:
    legacy = tmp_path / "sources.list"
    legacy.write_text("deb http://mirror.invalid/debian bookworm main\n", encoding="utf-8")

    with pytest.raises(InputError, match="deb822"):
        build_rootfs(RECIPE, tmp_path / "rootfs.tar", source_date_epoch=EPOCH, sources=legacy)


def test_a_suite_the_sources_do_not_list_is_refused(tmp_path: Path, sources: Path) -> None:
    with pytest.raises(InputError, match="trixie") as info:
        build_rootfs(
            RootfsRecipe(suite="trixie"), tmp_path / "r.tar", source_date_epoch=EPOCH, sources=sources
        )
    assert "bookworm" in str(info.value)


def test_a_negative_source_date_epoch_is_refused(tmp_path: Path, sources: Path) -> None:
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        build_rootfs(RECIPE, tmp_path / "r.tar", source_date_epoch=-1, sources=sources)


def test_missing_mmdebstrap_is_an_engine_error_saying_what_to_install(
    tmp_path: Path, sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    with pytest.raises(EngineError, match="mmdebstrap is not installed") as info:
        build_rootfs(RECIPE, tmp_path / "r.tar", source_date_epoch=EPOCH, sources=sources)
    assert "apt-get install mmdebstrap" in info.value.hint


# --- the subprocess contract, with a stand-in mmdebstrap --------------------------------------------


def test_success_writes_stdout_to_out_atomically_with_source_date_epoch_set(
    tmp_path: Path, sources: Path, fake_mmdebstrap: Path
) -> None:
    write_script(fake_mmdebstrap, 'echo "epoch=$SOURCE_DATE_EPOCH args=$*"\necho "I: done" >&2\n')
    out = tmp_path / "out" / "rootfs.tar"

    assert build_rootfs(RECIPE, out, source_date_epoch=EPOCH, sources=sources) == out

    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"epoch={EPOCH} args=")
    assert text.rstrip().endswith(f"bookworm - {sources}")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert sorted(p.name for p in out.parent.iterdir()) == ["rootfs.tar"]


def test_failure_is_a_build_error_with_stderr_tail_and_keeps_the_previous_tarball(
    tmp_path: Path, sources: Path, fake_mmdebstrap: Path
) -> None:
    noise = "".join(f'echo "I: step {i}" >&2\n' for i in range(40))
    write_script(
        fake_mmdebstrap,
        'echo "partial tar bytes"\n' + noise + 'echo "E: Unable to locate package nosuchpkg" >&2\nexit 1\n',
    )
    out = tmp_path / "rootfs.tar"
    out.write_bytes(b"previous good tarball")

    with pytest.raises(BuildError) as info:
        build_rootfs(RECIPE, out, source_date_epoch=EPOCH, sources=sources)

    message = str(info.value)
    assert "mmdebstrap failed (exit 1)" in message
    assert "E: Unable to locate package nosuchpkg" in message
    assert "I: step 39" in message
    assert "I: step 0\n" not in message  # only the tail
    assert info.value.exit_code == 6
    assert out.read_bytes() == b"previous good tarball"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# --- real builds (need root or user namespaces, mmdebstrap and the mirror) --------------------------


def recipe_from_image_yaml(path: Path) -> RootfsRecipe:
    block = yaml.safe_load(path.read_text(encoding="utf-8"))["rootfs"]
    return RootfsRecipe(
        suite=block["suite"],
        variant=block.get("variant", "minbase"),
        include=tuple(block.get("include", ())),
        exclude_paths=tuple(block.get("exclude_paths", ())),
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    recipe = recipe_from_image_yaml(DEBIAN_IMAGE_YAML)
    base = tmp_path_factory.mktemp("rootfs")

    def build(name: str) -> Path:
        out = base / name / "rootfs.tar"
        return build_rootfs(recipe, out, source_date_epoch=EPOCH, sources=DEFAULT_SOURCES)

    # Side by side: about 30 s instead of 48 s on two cores (the builds wait on the mirror and dpkg).
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(build, ["a", "b"])
    return first, second


@pytest.mark.slow
def test_two_builds_with_the_same_epoch_are_bit_identical(two_builds: tuple[Path, Path]) -> None:
    first, second = two_builds
    assert first.stat().st_size > 10_000_000
    assert sha256(first) == sha256(second)


@pytest.mark.slow
def test_the_rootfs_has_no_docs_or_man_pages_but_keeps_copyrights(two_builds: tuple[Path, Path]) -> None:
    with tarfile.open(two_builds[0]) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}

    files = [name for name, m in members.items() if m.isfile()]
    docs = [n for n in files if n.startswith("usr/share/doc/") and not n.endswith("/copyright")]
    assert docs == []
    assert [n for n in files if n.startswith("usr/share/man/")] == []
    # install-info's generated index is all that is left of info pages.
    assert [n for n in files if n.startswith("usr/share/info/")] in ([], ["usr/share/info/dir"])
    assert "usr/share/doc/bash/copyright" in members
    assert "usr/bin/bash" in members


@pytest.mark.slow
def test_the_rootfs_is_ready_for_derived_image_builds(two_builds: tuple[Path, Path]) -> None:
    with tarfile.open(two_builds[0]) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        sources_names = [
            n for n in members if n.startswith("etc/apt/sources.list.d/") and n.endswith(".sources")
        ]
        assert len(sources_names) == 1
        sources_file = tar.extractfile(members[sources_names[0]])
        assert sources_file is not None
        sources_text = sources_file.read().decode()
        dpkg_file = tar.extractfile(members["etc/dpkg/dpkg.cfg.d/99mmdebstrap"])
        assert dpkg_file is not None
        dpkg_cfg = dpkg_file.read().decode()

    # apt-get update in a derived image verifies the mirror with the keyring Signed-By names.
    keyrings = {
        line.split(":", 1)[1].strip() for line in sources_text.splitlines() if line.startswith("Signed-By:")
    }
    assert keyrings
    assert all(k.removeprefix("/") in members for k in keyrings)
    # Packages installed by derived images leave documentation out too.
    assert "path-exclude=/usr/share/doc/*" in dpkg_cfg
    # Nothing of the build host, nothing the engine provides, no merged-/usr converter with full perl.
    assert "etc/hostname" not in members
    assert "etc/resolv.conf" not in members
    assert not any(n == "dev" or n.startswith("dev/") for n in members)
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    assert not any(n.startswith("usr/share/perl/") for n in members)
