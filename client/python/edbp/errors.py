"""Errors of the edbp client: one exception class per gRPC status the server uses.

Every exception carries the server's message as it was sent (for an invalid config,
one line per error, each starting with its field path, e.g.
``Network.batch_size: expected ...``), the gRPC status code, and the call that failed.
"""

from __future__ import annotations

import grpc


class EdbpError(Exception):
    """A call to edbp-server failed. ``code`` is the grpc.StatusCode."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None, call: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code
        self.call = call

    def __str__(self) -> str:
        where = f"{self.call}: " if self.call else ""
        code = f" ({self.code.name})" if self.code is not None else ""
        return f"{where}{self.message}{code}"


class InvalidArgumentError(EdbpError):
    """INVALID_ARGUMENT: ``errors`` lists the server's lines, each with a field path."""

    @property
    def errors(self) -> list[str]:
        return [line for line in self.message.splitlines() if line.strip()]


class NotFoundError(EdbpError):
    """NOT_FOUND: no such job, or no checkpoint yet."""


class AlreadyExistsError(EdbpError):
    """ALREADY_EXISTS."""


class FailedPreconditionError(EdbpError):
    """FAILED_PRECONDITION: e.g. cancelling a job that has ended."""


class AuthenticationError(EdbpError):
    """UNAUTHENTICATED: no token, or a wrong one."""


class PermissionDeniedError(EdbpError):
    """PERMISSION_DENIED."""


class UnavailableError(EdbpError):
    """UNAVAILABLE: the server cannot be reached (after the retries of watch)."""


class DeadlineExceededError(EdbpError):
    """DEADLINE_EXCEEDED: the call took longer than the client's timeout."""


class DataLossError(EdbpError):
    """A download that does not add up (DATA_LOSS from the server, or checked here)."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
}


def from_rpc_error(error: grpc.RpcError, call: str) -> EdbpError:
    """The exception for a failed gRPC call."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    cls = _BY_CODE.get(code, EdbpError)
    return cls(details or "", code, call)
