"""The service's files in the S3 results bucket (:class:`r2o.service.blobs.Blobs` on AWS).

Layout (the Batch jobs' stager writes it, the stack's IAM confines it):

- ``uploads/<upload id>/<file name>``: an upload, streamed here with a size cap, its SHA-256 computed
  on the way and recorded by S3 (``ChecksumAlgorithm=SHA256``: the stager refuses an input without
  one) and in the object's metadata.
- ``runs/<run id>/<step>/<day>/<file>`` (``runs/<run id>/<step>/<file>`` for a dayless task): a task's
  outputs, the relative paths a local run folder has, with the task's ``provenance.json`` written last.
  A task folder without it is not finished and lists nothing.
- ``runs/<run id>/inputs/...``: the pipeline inputs the run was given (never listed as outputs).

Outputs are handed out as presigned GET URLs that expire after ``R2O_RESULTS_EXPIRY_DAYS`` (at most 7
days: SigV4's limit); the app never streams an output itself (a Lambda answer is at most 6 MB).
Thumbnails of PNG outputs are made in memory from the object.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from r2o.pipeline.local import REPORT_FILE
from r2o.pipeline.provenance import PROVENANCE_FILE
from r2o.service import files
from r2o.service.blobs import Download
from r2o.service.files import OutputFile
from r2o.service.store import RunRecord, Upload, now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DAY_S = 86400
PRESIGN_MAX_S = 7 * DAY_S  # SigV4 presigned URLs live at most a week
PART_BYTES = 8 << 20  # multipart part size (S3's minimum is 5 MiB)
THUMBNAIL_SOURCE_MAX = 64 << 20  # a PNG larger than this gets no thumbnail
PROVENANCE_MAX = 8 << 20
_SKIP_TOP = {"logs", "inputs", ".inputs", ".thumbs"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def upload_key(upload_id: str, filename: str) -> str:
    return f"uploads/{upload_id}/{filename}"


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3Blobs:
    def __init__(
        self, s3: S3Client, bucket: str, *, expiry_days: float = 7.0, part_bytes: int = PART_BYTES
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.expires_in = int(min(max(expiry_days * DAY_S, 1), PRESIGN_MAX_S))
        self.part_bytes = part_bytes

    # --- uploads ---------------------------------------------------------------------------------

    def store_upload(
        self, chunks: Iterator[bytes] | IO[bytes], *, user: str, filename: str, max_bytes: int
    ) -> Upload:
        upload_id = uuid.uuid4().hex
        name = _SAFE_NAME.sub("_", Path(filename or "upload").name).strip("._") or "upload"
        key = upload_key(upload_id, name)
        source: Iterator[bytes]
        if hasattr(chunks, "read"):  # a file: read blocks, not lines
            reader: Any = chunks
            source = iter(lambda: reader.read(1 << 20), b"")
        else:
            source = iter(chunks)
        whole = hashlib.sha256()
        size = 0
        buffer = bytearray()
        multipart: str | None = None
        parts: list[dict[str, Any]] = []

        def send_part(data: bytes) -> None:
            nonlocal multipart
            if multipart is None:
                multipart = self.s3.create_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    ChecksumAlgorithm="SHA256",
                    ContentType=files.media_type(name),
                )["UploadId"]
            checksum = _b64(hashlib.sha256(data).digest())
            answer = self.s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=multipart,
                PartNumber=len(parts) + 1,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )
            parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1, "ChecksumSHA256": checksum})

        try:
            for block in source:
                size += len(block)
                if size > max_bytes:
                    raise files.TooLarge(f"the upload is larger than {max_bytes} bytes")
                whole.update(block)
                buffer += block
                while len(buffer) >= self.part_bytes:
                    send_part(bytes(buffer[: self.part_bytes]))
                    del buffer[: self.part_bytes]
            if multipart is None:  # it fits in one part: one PUT, with the whole file's checksum
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=bytes(buffer),
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(whole.digest()),
                    ContentType=files.media_type(name),
                    Metadata={"sha256": whole.hexdigest(), "user": user},
                )
            else:
                if buffer:
                    send_part(bytes(buffer))
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=multipart,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                )
        except BaseException:
            if multipart is not None:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=multipart)
            raise
        return Upload(upload_id, user, name, size, whole.hexdigest(), f"s3://{self.bucket}/{key}", now())

    def remove_upload(self, upload: Upload) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=upload_key(upload.id, upload.filename))

    # --- outputs ---------------------------------------------------------------------------------

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])  # type: ignore[misc]

    def _json(self, key: str) -> Any:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(PROVENANCE_MAX + 1)
            return json.loads(body) if len(body) <= PROVENANCE_MAX else None
        except (self.s3.exceptions.NoSuchKey, ValueError):
            return None

    def _tasks(self, run: RunRecord) -> tuple[dict[str, Any], dict[str, int]]:
        """The run's finished task folders (relative path -> provenance) and every object's size."""
        prefix = run_prefix(run.id)
        sizes: dict[str, int] = {}
        for obj in self._objects(prefix):
            rel = obj["Key"][len(prefix) :]
            top = rel.split("/")[0]
            if top in _SKIP_TOP or any(p.startswith(".") or p in ("", "..") for p in rel.split("/")):
                continue
            sizes[rel] = int(obj.get("Size", 0))
        tasks: dict[str, Any] = {}
        for rel in sorted(sizes):
            path = PurePosixPath(rel)
            if path.name == PROVENANCE_FILE and len(path.parts) > 1:
                doc = self._json(prefix + rel)
                tasks[path.parent.as_posix()] = doc if isinstance(doc, dict) else {}
        return tasks, sizes

    def outputs(self, run: RunRecord) -> list[OutputFile]:
        tasks, sizes = self._tasks(run)
        out: list[OutputFile] = []
        for task, prov in tasks.items():
            declared = prov.get("outputs", {})
            sums = {
                v.get("file"): v.get("sha256")
                for v in (declared.values() if isinstance(declared, dict) else [])
                if isinstance(v, dict)
            }
            for rel, size in sizes.items():
                if not rel.startswith(task + "/"):
                    continue
                inner = rel[len(task) + 1 :]
                if inner == PROVENANCE_FILE:
                    continue
                digest = sums.get(inner)
                out.append(
                    OutputFile(
                        rel, task, size, digest if isinstance(digest, str) else "", files.media_type(inner)
                    )
                )
        return sorted(out, key=lambda o: o.path)

    def download(self, run: RunRecord, path: str) -> Download | None:
        for item in self.outputs(run):
            if item.path == path:
                url = self.s3.generate_presigned_url(
                    "get_object",
                    Params={
                        "Bucket": self.bucket,
                        "Key": run_prefix(run.id) + item.path,
                        "ResponseContentType": item.media_type,
                        "ResponseContentDisposition": (
                            f'attachment; filename="{_SAFE_NAME.sub("_", PurePosixPath(item.path).name)}"'
                        ),
                    },
                    ExpiresIn=self.expires_in,
                )
                return Download(item, url=url)
        return None

    def thumbnail(self, run: RunRecord, item: OutputFile) -> bytes:
        from PIL import Image

        if item.size > THUMBNAIL_SOURCE_MAX:
            raise files.TooLarge(f"{item.path} is too large to make a thumbnail of")
        body = self.s3.get_object(Bucket=self.bucket, Key=run_prefix(run.id) + item.path)["Body"].read()
        out = io.BytesIO()
        with Image.open(io.BytesIO(body)) as img:
            img.thumbnail((files.THUMBNAIL_PX, files.THUMBNAIL_PX))
            img.save(out, format="PNG")
        return out.getvalue()

    def provenance(self, run: RunRecord, view: dict[str, Any]) -> dict[str, Any]:
        tasks, _ = self._tasks(run)
        return {"run": view, "report": self._json(run_prefix(run.id) + REPORT_FILE), "tasks": tasks}
