"""Which comparator reads a file: by extension first, then by magic bytes."""

from __future__ import annotations

import zipfile
from pathlib import Path

from r2o.errors import CannotCompareError

FORMATS: tuple[str, ...] = ("netcdf", "text", "csv", "npy", "npz", "json", "png", "binary")

EXTENSIONS: dict[str, str] = {
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".ncf": "netcdf",  # Models-3 I/O API
    ".cdf": "netcdf",
    ".netcdf": "netcdf",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".out": "text",
    ".md": "text",
    ".csv": "csv",
    ".tsv": "csv",
    ".npy": "npy",
    ".npz": "npz",
    ".json": "json",
    ".geojson": "json",
    ".png": "png",
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"CDF\x01", "netcdf"),
    (b"CDF\x02", "netcdf"),
    (b"CDF\x05", "netcdf"),
    (b"\x89HDF\r\n\x1a\n", "netcdf"),
    (b"\x93NUMPY", "npy"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)


def _head(path: Path, size: int = 8192) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(size)
    except OSError as exc:
        raise CannotCompareError(
            f"{path}: cannot be read: {exc.strerror or exc}", hint="check the path and its permissions"
        ) from exc


def magic_format(path: Path) -> str | None:
    """The format announced by the first bytes, for the binary formats that have a signature."""
    head = _head(path, 16)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return None  # a damaged archive: let the reader chosen by extension say what is wrong
        return "npz" if names and all(n.endswith(".npy") for n in names) else "binary"
    return None


def detect(path: Path) -> str:
    """One of :data:`FORMATS` for ``path``."""
    by_extension = EXTENSIONS.get(path.suffix.lower())
    if by_extension is not None:
        return by_extension
    by_magic = magic_format(path)
    if by_magic is not None:
        return by_magic
    head = _head(path)
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
            return "binary"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return "json"
    return "text"
