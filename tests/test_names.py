"""The one name rule, against the rules of every place a name goes (written here from their specs)."""

from __future__ import annotations

import re
from functools import cache

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2o import names
from r2o.names import logical_id

# distribution/reference (the grammar docker uses): one path component of a repository name.
DOCKER_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")
# AWS Batch RegisterJobDefinition: "up to 128 letters (uppercase and lowercase), numbers, hyphens,
# and underscores".
BATCH_DEFINITION = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# CloudFormation: logical ids are alphanumeric (A-Za-z0-9), at most 255 characters.
CFN_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
LONGEST_CFN_SUFFIX = "JobDefinition"


@cache
def ecr_repository_name() -> tuple[re.Pattern[str], int, int]:
    shape = botocore.session.get_session().get_service_model("ecr").shape_for("RepositoryName")
    meta = shape.metadata
    return re.compile(f"^(?:{meta['pattern']})$"), int(meta["min"]), int(meta["max"])


VALID = st.from_regex(names.NAME, fullmatch=True).filter(lambda n: names.problem(n) == "")


@settings(max_examples=60)
@given(VALID, VALID)
def test_a_valid_name_is_valid_everywhere(component: str, pipeline: str) -> None:
    ecr, ecr_min, ecr_max = ecr_repository_name()
    assert DOCKER_PATH_COMPONENT.match(component)
    assert ecr.match(component) and ecr_min <= len(component) <= ecr_max
    assert CFN_LOGICAL_ID.match(logical_id(component, LONGEST_CFN_SUFFIX))
    assert BATCH_DEFINITION.match(f"r2o-{component}")
    assert BATCH_DEFINITION.match(f"r2o-{pipeline}-{component}")  # a pipeline step's job definition


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("trailing-", "ends with a hyphen"),
        ("-leading", "does not start with a letter"),
        ("1st", "does not start with a letter"),
        ("x", "too short"),
        ("a" * (names.MAX_LENGTH + 1), f"at most {names.MAX_LENGTH}"),
        ("Upper", "uppercase"),
        ("under_score", "other than letters, digits and hyphens: '_'"),
        ("dot.ted", "other than letters, digits and hyphens: '.'"),
        ("double--hyphen", "double hyphen"),
        ("sp ace", "other than letters, digits and hyphens: ' '"),
        ("ünï", "does not start with a letter"),
    ],
)
def test_invalid_names_say_why(name: str, needle: str) -> None:
    assert needle in names.problem(name)


def test_names_the_services_refuse_are_refused() -> None:
    ecr, ecr_min, _ = ecr_repository_name()
    for name in ("trailing-", "x", "Upper", "-x"):
        refused_somewhere = not (ecr.match(name) and len(name) >= ecr_min) or not DOCKER_PATH_COMPONENT.match(
            name
        )
        assert refused_somewhere and names.problem(name), name


def test_the_longest_name_fits_a_pipeline_job_definition() -> None:
    longest = "a" * names.MAX_LENGTH
    assert names.problem(longest) == ""
    assert len(f"r2o-{longest}-{longest}") <= 128
    assert len(f"r2o-{longest}a-{longest}a") > 128  # one more character would not fit


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("trailing-", "trailing"),
        ("My_Model", "my-model"),
        ("a--b", "a-b"),
        ("2x-model", "x-model"),
        ("x", ""),
    ],
)
def test_the_hint_suggests_a_valid_name(name: str, suggestion: str) -> None:
    assert names.suggestion(name) == suggestion
    if suggestion:
        assert f"e.g. '{suggestion}'" in names.hint(name)
        assert names.problem(suggestion) == ""


# Docker's tag grammar (distribution/reference): [\w][\w.-]{0,127}
DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@pytest.mark.parametrize(
    "version", ["1.0.0", "0.1.0-rc.1", "2.3.4-alpha-7", "1.0.0+build.7", "1.0.0-" + "x" * 120]
)
def test_a_version_is_valid_exactly_when_its_image_tag_is(version: str) -> None:
    tag = f"{version}-{'0' * 12}"  # r2o.images.tags: <version>-<12 hex>
    assert (names.version_problem(version) == "") == bool(DOCKER_TAG.match(tag))
