"""edbp: a Python client of edbp-server (issue 24). See client.py and the README's
"From Python" section."""

from edbp.client import DEFAULT_SERVER, Client, Event, Job, to_python
from edbp.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DataLossError,
    DeadlineExceededError,
    EdbpError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)

__all__ = [
    "DEFAULT_SERVER",
    "AlreadyExistsError",
    "AuthenticationError",
    "Client",
    "DataLossError",
    "DeadlineExceededError",
    "EdbpError",
    "Event",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "Job",
    "NotFoundError",
    "PermissionDeniedError",
    "UnavailableError",
    "to_python",
]
