"""The stager loaded as a module from its file in the python-sci image folder, and a moto S3 bucket."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.aws.conftest import REGION, moto, moto_url  # noqa: F401 - the fixtures, shared
from tests.conftest import REPO_ROOT

STAGER = REPO_ROOT / "base-images" / "python-sci" / "r2o-stage"
BUCKET = "r2o-results"


def load_stager() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("r2o_stage", str(STAGER))
    spec = importlib.util.spec_from_loader("r2o_stage", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def stager() -> ModuleType:
    return load_stager()


@pytest.fixture
def s3(moto: str) -> Any:  # noqa: F811 - the imported fixture
    client = boto3.client("s3", endpoint_url=moto, region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def root() -> Iterator[Path]:
    """A container root the component's uid 1000 can enter (pytest's tmp_path is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="r2o-stage-"))
    path.chmod(0o755)
    (path / "data").mkdir(mode=0o755)
    try:
        yield path
    finally:
        for folder, dirs, _ in os.walk(path):
            for d in dirs:
                os.chmod(os.path.join(folder, d), 0o755)
        shutil.rmtree(path)
