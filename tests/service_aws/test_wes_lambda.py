"""The WES facade's tests (tests/service/test_wes.py) through the Lambda handler: API Gateway payload 2.0
events on DynamoDB in moto, runs executed by the local workers (natively)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from r2o.service.server import Options
from tests.service.facades import HeaderAuth
from tests.service.facades import facade_repo as facade_repo
from tests.service.lambda_client import AwsHome, LambdaClient

# collected again in this module, where facade_client is the Lambda client below
from tests.service.test_wes import (  # noqa: F401
    client,
    test_a_json_body_is_refused_with_the_content_type_wes_takes,
    test_a_skipped_task_is_canceled_for_wes_and_the_run_names_the_failure,
    test_another_users_run_does_not_exist_for_them,
    test_cancel_of_a_finished_run_is_refused,
    test_cancel_stops_a_running_run_and_answers_again_once_canceled,
    test_identity_matrix_runs_to_complete_with_its_log_and_outputs,
    test_paths_no_route_matches_answer_in_the_wes_error_shape,
    test_pipeline_tasks_are_paged_and_got_by_ids_holding_a_slash,
    test_service_info_names_r2o_workflows_and_counts_states,
    test_unauthenticated_is_401_in_the_wes_error_shape,
    test_workflow_attachment_is_refused,
)


@pytest.fixture
def facade_client(aws_home: AwsHome, facade_repo: Path) -> Iterator[LambdaClient]:
    with aws_home.client(facade_repo, Options(native=True, workers=2), HeaderAuth()) as lambda_client:
        yield lambda_client
