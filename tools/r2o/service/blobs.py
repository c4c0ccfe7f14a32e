"""Where a run's files live, as the API serves them: uploads in, outputs out. Two homes, one interface.

- :class:`LocalBlobs` (``r2o serve``): uploads in ``.r2o/service/uploads``, outputs read from the run
  folder the local workers wrote (:mod:`r2o.service.files`), served by the app itself.
- :class:`r2o.service.aws.s3blobs.S3Blobs` (AWS): uploads streamed to the results bucket, outputs
  listed from the run's prefix, downloads as presigned URLs that expire.

The API, WES and TES facades reach files only through this protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from r2o.service import files
from r2o.service.config import ServiceConfig
from r2o.service.files import OutputFile
from r2o.service.store import RunRecord, Upload


@dataclass(frozen=True)
class Download:
    """How an output is handed out: a local file the app streams, or a URL the client is sent to."""

    item: OutputFile
    path: Path | None = None
    url: str | None = None


class Blobs(Protocol):
    def store_upload(
        self, chunks: Iterator[bytes] | IO[bytes], *, user: str, filename: str, max_bytes: int
    ) -> Upload:
        """Keep an upload (all of it or nothing), hashing it as it streams; ``files.TooLarge``
        past ``max_bytes``."""

    def remove_upload(self, upload: Upload) -> None: ...

    def outputs(self, run: RunRecord) -> list[OutputFile]:
        """Every output file of the run's finished tasks (each task folder holds its provenance)."""

    def download(self, run: RunRecord, path: str) -> Download | None:
        """The output ``path`` names if it is one of the run's listed outputs, else None."""

    def thumbnail(self, run: RunRecord, item: OutputFile) -> Path | bytes:
        """A PNG output made at most ``files.THUMBNAIL_PX`` wide (a file, or its bytes)."""

    def provenance(self, run: RunRecord, view: dict[str, Any]) -> dict[str, Any]:
        """One document: the run as the API shows it (``view``), the report, every task's provenance."""


class LocalBlobs:
    """Files on this machine: the run folders of the local workers, the uploads folder."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config

    def run_dir(self, run: RunRecord) -> Path:
        return self.config.runs_dir / run.id

    def store_upload(
        self, chunks: Iterator[bytes] | IO[bytes], *, user: str, filename: str, max_bytes: int
    ) -> Upload:
        return files.store_upload(
            chunks, self.config.uploads_dir, user=user, filename=filename, max_bytes=max_bytes
        )

    def remove_upload(self, upload: Upload) -> None:
        files.remove_upload(upload)

    def outputs(self, run: RunRecord) -> list[OutputFile]:
        return files.outputs(self.run_dir(run))

    def download(self, run: RunRecord, path: str) -> Download | None:
        hit = files.find_output(self.run_dir(run), path)
        return Download(hit[0], path=hit[1]) if hit is not None else None

    def thumbnail(self, run: RunRecord, item: OutputFile) -> Path:
        return files.thumbnail(self.run_dir(run), item)

    def provenance(self, run: RunRecord, view: dict[str, Any]) -> dict[str, Any]:
        return files.provenance(self.run_dir(run), view)
