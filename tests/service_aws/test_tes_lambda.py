"""The TES facade's tests (tests/service/test_tes.py) through the Lambda handler: API Gateway payload 2.0
events on DynamoDB in moto, runs executed by the local workers (natively)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from r2o.service.core import Service
from r2o.service.server import Options
from tests.service.facades import HeaderAuth, make_app
from tests.service.facades import facade_repo as facade_repo
from tests.service.lambda_client import AwsHome, LambdaClient

# collected again in this module, where facade_client is the Lambda client below
from tests.service.test_tes import (  # noqa: F401
    client,
    test_a_task_that_is_not_a_tes_task_document_is_400,
    test_another_users_task_does_not_exist_for_them,
    test_backend_parameters_are_dropped_and_said_so,
    test_cancel_of_a_finished_task_is_409,
    test_cancel_stops_a_running_task,
    test_every_refused_task_is_400_naming_its_problem,
    test_list_filters_by_name_prefix_state_and_tags_and_pages,
    test_list_refuses_bad_paging_and_tags,
    test_wes_runs_are_not_tes_tasks,
)


@pytest.fixture
def facade_client(aws_home: AwsHome, facade_repo: Path) -> Iterator[LambdaClient]:
    with aws_home.client(facade_repo, Options(native=True, workers=2), HeaderAuth()) as lambda_client:
        yield lambda_client


@pytest.fixture
def service(facade_repo: Path) -> Service:
    """The service the tests ask for product images (the catalog; nothing of it runs)."""
    return make_app(facade_repo, run_workers=False)[0]
