"""r2o-stage as a module against a moto S3: inputs verified in, the component as uid 1000, outputs
and provenance.json out only after success, untrusted outputs refused.

Reference values come from the test: the bytes it uploads or its component writes, hashed here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from r2o.pipeline import launcher
from tests.stage.conftest import BUCKET

PYTHON = "/usr/bin/python3"
RUN = "runs/r-1"
# The component of these tests: reports who it runs as and whether it can change its input, copies
# its input with the day, prints a line (stdout is the job log).
COMPONENT = r"""
import json, os, sys
root, day, mode = sys.argv[1], sys.argv[2], sys.argv[3]
src = os.path.join(root, "data/input/wrfout.nc")
try:
    open(src, "ab").close()
    writable = True
except PermissionError:
    writable = False
info = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "writable": writable,
        "aws": sorted(k for k in os.environ if k.startswith("AWS_")), "day": day,
        "restart": os.path.exists(os.path.join(root, "data/input/restart.nc")),
        "collected": sorted(os.listdir(os.path.join(root, "data/input/conc")))
                     if os.path.isdir(os.path.join(root, "data/input/conc")) else []}
out = os.path.join(root, "data/output")
data = open(src, "rb").read()
print("component ran for", day)
if mode == "fail":
    sys.exit(3)
if mode == "symlink":
    os.symlink(src, os.path.join(out, "result.bin"))
elif mode == "fifo":
    os.mkfifo(os.path.join(out, "result.bin"))
elif mode == "big":
    open(os.path.join(out, "result.bin"), "wb").write(b"x" * (2 * 1024 * 1024))
elif mode == "missing":
    pass
else:
    open(os.path.join(out, "result.bin"), "wb").write(data + day.encode())
if mode != "missing":
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    open(os.path.join(out, "plots", "a.txt"), "w").write("plot a\n")
    open(os.path.join(out, "info.json"), "w").write(json.dumps(info))
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Recorder:
    """The S3 client, with the keys of its PutObject calls in order."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.puts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def put_object(self, **kwargs: Any) -> Any:
        self.puts.append(kwargs["Key"])
        return self.client.put_object(**kwargs)


def spec(**changes: Any) -> str:
    base: dict[str, Any] = {
        "bucket": BUCKET,
        "run": RUN,
        "task": "cmaq/@DAY@",
        "first_day": "2024-02-28",
        "inputs": [
            {
                "kind": "in",
                "name": "wrfout",
                "dest": "/data/input/wrfout.nc",
                "key": "@RUN@/wrf/@DAY@/wrfout.nc",
            },
            {
                "kind": "opt",
                "name": "restart",
                "dest": "/data/input/restart.nc",
                "key": "@RUN@/cmaq/@PREV@/cgrid.nc",
            },
        ],
        "outputs": [
            {"name": "result", "path": "/data/output/result.bin"},
            {"name": "plots", "path": "/data/output/plots"},
            {"name": "info", "path": "/data/output/info.json"},
        ],
        "storage_mib": 1,
        "provenance": {"pipeline": "aqcast", "component": "cmaq", "version": "1.0.0", "image": "cmaq:t"},
    }
    base.update(changes)
    return json.dumps(base)


def write_component(root: Path) -> Path:
    app = root / "app"
    app.mkdir(mode=0o755)
    path = app / "component.py"
    path.write_text(COMPONENT)
    path.chmod(0o644)
    return path


def run(stager: ModuleType, root: Path, s3: Any, text: str, mode: str = "ok", index: int = 1) -> int:
    argv = [text, "--", PYTHON, str(write_component(root)), str(root), "@DAY@", mode]
    env = {"AWS_BATCH_JOB_ARRAY_INDEX": str(index)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return int(stager.main(argv, root=root, s3=s3))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def keys(s3: Any) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_inputs_in_component_as_1000_outputs_then_provenance_last(
    stager: ModuleType, s3: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    wrfout = b"wrfout of 2024-02-29\n"
    s3.put_object(
        Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-29/wrfout.nc", Body=wrfout, ChecksumAlgorithm="SHA256"
    )
    # the restart has no S3 checksum: its producer's provenance records it
    cgrid = b"cgrid of 2024-02-28"
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/cmaq/2024-02-28/cgrid.nc", Body=cgrid)
    provenance = {"outputs": {"cgrid": {"file": "cgrid.nc", "sha256": sha(cgrid)}}}
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/cmaq/2024-02-28/provenance.json", Body=json.dumps(provenance))
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/cmaq/2024-02-29/stale.txt", Body=b"from an earlier attempt")
    recorder = Recorder(s3)

    assert run(stager, root, recorder, spec(), index=1) == 0  # child 1 of an array from 2024-02-28

    task = f"{RUN}/cmaq/2024-02-29"
    result = wrfout + b"2024-02-29"
    info = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{task}/info.json")["Body"].read())
    expected_uid = 1000 if os.geteuid() == 0 else os.geteuid()
    assert (info["uid"], info["gid"] if os.geteuid() == 0 else 1000) == (expected_uid, 1000)
    if os.geteuid() == 0:
        assert info["groups"] == []
    assert info["writable"] is False
    assert info["aws"] == []  # no credentials or endpoint reach the component
    assert info["day"] == "2024-02-29" and info["restart"] is True
    assert s3.get_object(Bucket=BUCKET, Key=f"{task}/result.bin")["Body"].read() == result
    head = s3.head_object(Bucket=BUCKET, Key=f"{task}/result.bin", ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == sha(result)
    assert recorder.puts[-1] == f"{task}/provenance.json"
    assert sorted(recorder.puts[:-1]) == [f"{task}/info.json", f"{task}/plots/a.txt", f"{task}/result.bin"]
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{task}/provenance.json")["Body"].read())
    assert doc["outputs"]["result"] == {"file": "result.bin", "sha256": sha(result)}
    assert doc["outputs"]["plots"] == {"file": "plots/a.txt", "sha256": sha(b"plot a\n")}
    assert doc["inputs"]["wrfout"]["sha256"] == sha(wrfout)
    assert doc["inputs"]["restart"] == {"sha256": sha(cgrid), "sources": [f"{RUN}/cmaq/2024-02-28/cgrid.nc"]}
    assert (doc["task"], doc["component"], doc["backend"]) == ("cmaq/2024-02-29", "cmaq", "aws-batch")
    out = capfd.readouterr()
    assert "component ran for 2024-02-29" in out.out  # streamed to the job's log


def test_a_failing_component_uploads_nothing_and_passes_its_exit_code(
    stager: ModuleType, s3: Any, root: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-28/wrfout.nc", Body=b"w", ChecksumAlgorithm="SHA256")
    before = keys(s3)
    assert run(stager, root, s3, spec(), mode="fail", index=0) == 3
    assert keys(s3) == before


@pytest.mark.parametrize("mode", ["symlink", "fifo", "big", "missing"])
def test_untrusted_outputs_are_refused_and_nothing_is_uploaded(
    stager: ModuleType, s3: Any, root: Path, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-28/wrfout.nc", Body=b"w", ChecksumAlgorithm="SHA256")
    before = keys(s3)
    assert run(stager, root, s3, spec(), mode=mode, index=0) == 65
    assert keys(s3) == before
    err = capfd.readouterr().err
    expected = {
        "symlink": "not a regular file",
        "fifo": "not a regular file",
        "big": "exceed storage_mib (1 MiB)",
        "missing": "declared output /data/output/result.bin was not written",
    }[mode]
    assert expected in err


def test_an_input_whose_bytes_differ_from_the_recorded_sha256_stops_the_job(
    stager: ModuleType, s3: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-28/wrfout.nc", Body=b"tampered")
    provenance = {"outputs": {"wrfout": {"file": "wrfout.nc", "sha256": sha(b"what was written")}}}
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-28/provenance.json", Body=json.dumps(provenance))
    before = keys(s3)
    assert run(stager, root, s3, spec(), index=0) == 65
    assert "differs from the recorded" in capfd.readouterr().err
    assert keys(s3) == before
    assert not (root / "data" / "output" / "info.json").exists()  # the component never ran


def test_an_input_without_any_recorded_checksum_is_refused(
    stager: ModuleType, s3: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-28/wrfout.nc", Body=b"w")
    assert run(stager, root, s3, spec(), index=0) == 65
    assert "has no recorded checksum" in capfd.readouterr().err


def test_a_missing_required_input_exits_66(stager: ModuleType, s3: Any, root: Path) -> None:
    assert run(stager, root, s3, spec(), index=0) == 66


def test_collected_inputs_and_a_dayless_task(stager: ModuleType, s3: Any, root: Path) -> None:
    for day in ("2024-02-28", "2024-02-29", "2024-03-01"):
        s3.put_object(
            Bucket=BUCKET, Key=f"{RUN}/cmaq/{day}/CONC.nc", Body=day.encode(), ChecksumAlgorithm="SHA256"
        )
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/wrf/2024-02-28/wrfout.nc", Body=b"w", ChecksumAlgorithm="SHA256")
    text = spec(
        task="compliance",
        first_day=None,
        inputs=[
            {
                "kind": "in",
                "name": "wrfout",
                "dest": "/data/input/wrfout.nc",
                "key": "@RUN@/wrf/2024-02-28/wrfout.nc",
            },
            {
                "kind": "all",
                "name": "conc",
                "dest": "/data/input/conc",
                "key": "@RUN@/cmaq/@D@/CONC.nc",
                "count": 3,
                "first": "2024-02-28",
            },
        ],
    )
    assert run(stager, root, s3, text, index=0) == 0
    info = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{RUN}/compliance/info.json")["Body"].read())
    assert info["collected"] == ["CONC_2024-02-28.nc", "CONC_2024-02-29.nc", "CONC_2024-03-01.nc"]
    assert info["day"] == ""
    assert (root / "data/input/conc/CONC_2024-02-29.nc").read_bytes() == b"2024-02-29"


def test_stdout_output_and_the_client_from_the_environment(
    stager: ModuleType, s3: Any, moto: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    text = spec(task="hello", first_day=None, inputs=[], outputs=[{"name": "out", "path": "stdout"}])
    argv = [text, "--", PYTHON, "-c", "print('hello from the component')"]
    assert stager.main(argv, root=root) == 0
    body = s3.get_object(Bucket=BUCKET, Key=f"{RUN}/hello/stdout.txt")["Body"].read()
    assert body == b"hello from the component\n"
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{RUN}/hello/provenance.json")["Body"].read())
    assert doc["outputs"]["out"] == {"file": "stdout.txt", "sha256": sha(body)}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "SPEC is not JSON"),
        ("[]", "not a JSON object"),
        (json.dumps({"bucket": "b"}), "'run' is missing"),
        (spec(storage_mib=0), "storage_mib"),
        (spec(inputs=[{"kind": "in", "dest": "/etc/passwd", "key": "k"}]), "not a path under /data/input"),
        (spec(outputs=[{"name": "x", "path": "/data/output/../../etc/x"}]), "not a path under /data/output"),
        (spec(first_day="2024-13-01"), "is not a day"),
    ],
)
def test_a_bad_spec_exits_64_with_the_field(
    stager: ModuleType, root: Path, text: str, problem: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert stager.main([text, "--", "true"], root=root, s3=object()) == 64
    assert problem in capfd.readouterr().err


def test_an_index_that_is_not_a_number_exits_64(stager: ModuleType, root: Path) -> None:
    os.environ["AWS_BATCH_JOB_ARRAY_INDEX"] = "x1"
    try:
        assert stager.main([spec(), "--", "true"], root=root, s3=object()) == 64
    finally:
        del os.environ["AWS_BATCH_JOB_ARRAY_INDEX"]


# --- one rule for the day of an array child: the POSIX-sh launcher's ------------------------------


def launcher_days(first: str, index: int) -> tuple[str, str]:
    """What the launcher script computes for child ``index`` (its dry run), run by /bin/sh."""
    env = {"PATH": os.environ["PATH"], launcher.DRY_RUN_ENV: "1", "AWS_BATCH_JOB_ARRAY_INDEX": str(index)}
    proc = subprocess.run(
        ["sh", "-c", launcher.LAUNCHER, launcher.NAME, first, "run", "--", "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    lines = dict(
        line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("day ", "prev "))
    )
    return lines["day"], lines["prev"]


@pytest.mark.parametrize(
    ("first", "index"),
    [
        ("2024-02-28", 1),
        ("2024-02-28", 2),
        ("2023-12-31", 0),
        ("2023-12-31", 1),
        ("1999-12-31", 366),
        ("2100-02-28", 1),
        ("2000-02-28", 1),
        ("0001-01-01", 0),
        ("2024-01-01", 9999),
    ],
)
def test_the_day_of_an_array_child_is_the_launchers(stager: ModuleType, first: str, index: int) -> None:
    assert stager.days(first, index) == launcher_days(first, index)


def test_the_index_comes_from_the_array_variable_or_the_job_id(stager: ModuleType) -> None:
    assert stager.array_index({"AWS_BATCH_JOB_ARRAY_INDEX": "7", "AWS_BATCH_JOB_ID": "j:3"}) == 7
    assert stager.array_index({"AWS_BATCH_JOB_ID": "abc:3"}) == 3  # moto sets no array variable
    assert stager.array_index({"AWS_BATCH_JOB_ID": "abc"}) == 0
    assert stager.days(None, 5) == ("", "")
    assert stager.days("2024-03-01", 0)[1] == (dt.date(2024, 2, 29)).isoformat()
