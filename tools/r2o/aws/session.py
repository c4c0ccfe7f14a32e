"""boto3 clients with retries, and the translation of AWS failures into r2o errors.

Throttling is retried by botocore's "standard" retry mode (exponential backoff with jitter); when
the retries run out, or credentials, region or endpoint are missing, the user gets an AwsError
that says what to do instead of a botocore traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
import botocore.exceptions
from botocore.config import Config

from r2o.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient

DEFAULT_MAX_ATTEMPTS = 8
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
CREDENTIALS_HINT = (
    "configure credentials the usual boto3 way: AWS_PROFILE, AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, `aws configure` or `aws sso login`"
)


@dataclass(frozen=True)
class AwsTarget:
    """Where AWS calls go: the standard chain picks region and credentials; endpoint_url overrides."""

    endpoint_url: str | None = None
    region: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def _config(self) -> Config:
        return Config(
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=10,
            read_timeout=60,
        )

    def _session(self) -> boto3.session.Session:
        with aws_errors("starting an AWS session"):
            return boto3.session.Session(region_name=self.region or None)

    def batch(self) -> BatchClient:
        with aws_errors("creating the AWS Batch client"):
            return self._session().client("batch", endpoint_url=self.endpoint_url, config=self._config())

    def logs(self) -> CloudWatchLogsClient:
        with aws_errors("creating the CloudWatch Logs client"):
            return self._session().client("logs", endpoint_url=self.endpoint_url, config=self._config())

    @classmethod
    def from_env(cls, endpoint_url: str | None = None, region: str | None = None) -> AwsTarget:
        attempts = os.environ.get("R2O_AWS_MAX_ATTEMPTS")
        return cls(
            endpoint_url=endpoint_url,
            region=region,
            max_attempts=int(attempts) if attempts and attempts.isdigit() else DEFAULT_MAX_ATTEMPTS,
        )


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn botocore's exceptions raised while ``doing`` into AwsError with a next step."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError as exc:
        raise AwsError(f"no AWS credentials found while {doing}", hint=CREDENTIALS_HINT) from exc
    except botocore.exceptions.PartialCredentialsError as exc:
        raise AwsError(f"incomplete AWS credentials while {doing}: {exc}", hint=CREDENTIALS_HINT) from exc
    except botocore.exceptions.NoRegionError as exc:
        raise AwsError(
            f"no AWS region configured while {doing}",
            hint="set AWS_REGION (or AWS_DEFAULT_REGION), or a region in your AWS profile",
        ) from exc
    except botocore.exceptions.ProfileNotFound as exc:
        raise AwsError(f"{exc} while {doing}", hint="check AWS_PROFILE against ~/.aws/config") from exc
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AwsError(
            f"cannot reach the AWS endpoint while {doing}: {exc}",
            hint="check your network, or --endpoint-url when testing against a stand-in",
        ) from exc
    except botocore.exceptions.ConnectTimeoutError as exc:
        raise AwsError(
            f"the AWS endpoint did not answer while {doing}: {exc}",
            hint="check your network, or --endpoint-url",
        ) from exc
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        if code in THROTTLING_CODES:
            raise AwsError(
                f"AWS kept throttling the requests while {doing} ({code}, "
                f"gave up after {attempts + 1} attempts with backoff)",
                hint="wait a minute and retry, or raise R2O_AWS_MAX_ATTEMPTS",
            ) from exc
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredTokenException",
            "InvalidSignatureException",
            "AccessDeniedException",
            "AccessDenied",
        ):
            raise AwsError(
                f"AWS refused the credentials while {doing}: {code}: {error_message(exc)}",
                hint=CREDENTIALS_HINT + "; check they are current and allowed this call",
            ) from exc
        raise AwsError(f"AWS failed while {doing}: {code}: {error_message(exc)}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise AwsError(f"AWS failed while {doing}: {exc}") from exc
