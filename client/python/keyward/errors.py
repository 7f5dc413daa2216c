"""keyward.errors: one exception class per gRPC status code.

Every failed call raises a subclass of KeywardError; a bare grpc.RpcError
never escapes the client. Each carries:

  code     the grpc.StatusCode (e.g. grpc.StatusCode.NOT_FOUND)
  message  the daemon's message (never secret: the daemon's contract), or
           gRPC's own for transport failures
  method   the RPC, as "Service/Method" (e.g. "CryptoService/Sign")

Catch the specific class (NotFoundError, PermissionDeniedError, ...) or
KeywardError for all of them. Request contents (plaintexts, passphrases,
tokens) are never part of the text.
"""

from typing import Dict, Type

import grpc


class KeywardError(Exception):
    """A failed call: `code` is the grpc.StatusCode, `message` the daemon's
    (or gRPC's) message, `method` the RPC ("CryptoService/Sign")."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 method: str = "") -> None:
        self.code = code
        self.message = message
        self.method = method
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        prefix = method + ": " if method else ""
        super().__init__("%s%s: %s" % (prefix, name, message))


class CancelledError(KeywardError):
    """CANCELLED: the call was cancelled (by the client)."""


class UnknownError(KeywardError):
    """UNKNOWN: an error gRPC could not classify."""


class InvalidArgumentError(KeywardError):
    """INVALID_ARGUMENT: the request is wrong whatever the state (malformed
    name, size limit, unparseable input, failed authentication of a
    ciphertext, wrong passphrase)."""


class DeadlineExceededError(KeywardError):
    """DEADLINE_EXCEEDED: no answer within the call's timeout."""


class NotFoundError(KeywardError):
    """NOT_FOUND: the named key, version, policy, API key or record does not
    exist."""


class AlreadyExistsError(KeywardError):
    """ALREADY_EXISTS: a create names an id that is taken."""


class PermissionDeniedError(KeywardError):
    """PERMISSION_DENIED: no policy grants the caller this operation."""


class ResourceExhaustedError(KeywardError):
    """RESOURCE_EXHAUSTED: a rate limit, the 4 MiB message limit or a count
    limit."""


class FailedPreconditionError(KeywardError):
    """FAILED_PRECONDITION: well formed, but the resource's state or kind
    does not allow it (wrong purpose, version disabled, ...)."""


class AbortedError(KeywardError):
    """ABORTED: the operation was aborted (a conflict); retry it."""


class OutOfRangeError(KeywardError):
    """OUT_OF_RANGE."""


class UnimplementedError(KeywardError):
    """UNIMPLEMENTED: this daemon build does not serve the method."""


class InternalError(KeywardError):
    """INTERNAL: a bug in the daemon; report it."""


class UnavailableError(KeywardError):
    """UNAVAILABLE: the daemon is not reachable, sealed, shutting down, or
    cannot write its audit record (nothing was done)."""


class DataLossError(KeywardError):
    """DATA_LOSS: stored data failed its integrity check."""


class UnauthenticatedError(KeywardError):
    """UNAUTHENTICATED: no identity, a bad or expired session token, a wrong
    API key secret or passphrase."""


_BY_CODE: Dict[grpc.StatusCode, Type[KeywardError]] = {
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.UNKNOWN: UnknownError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}

_BY_NUMBER: Dict[int, grpc.StatusCode] = {
    code.value[0]: code for code in grpc.StatusCode}


def error_for(code: grpc.StatusCode, message: str,
              method: str = "") -> KeywardError:
    """The KeywardError subclass instance for `code` (KeywardError itself
    for a code without one)."""
    return _BY_CODE.get(code, KeywardError)(code, message, method)


def error_from_rpc(error: grpc.RpcError, method: str) -> KeywardError:
    """Converts a grpc.RpcError (sync or aio) raised by `method`."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else ""
    return error_for(code or grpc.StatusCode.UNKNOWN, details or "", method)


def error_from_item(code_number: int, message: str,
                    method: str) -> KeywardError:
    """The error of one batch item (ItemStatus.code is a google.rpc.Code
    number)."""
    code = _BY_NUMBER.get(code_number, grpc.StatusCode.UNKNOWN)
    return error_for(code, message, method)
