// KeywardError and one subclass per gRPC status code. Every failed call of
// the client rejects with one of these, never with a bare grpc-js error:
//   err.code     the status name, e.g. 'NOT_FOUND'
//   err.status   its number (5)
//   err.details  the daemon's message (never secret: the daemon's contract),
//                or gRPC's own for a transport failure
//   err.method   the RPC, 'Service/Method' (e.g. 'CryptoService/Sign')
// Request contents (plaintexts, passphrases, tokens) are never in the text.
'use strict';

const CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED',
  'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

class KeywardError extends Error {
  constructor(status, details, method = '') {
    const code = CODE_NAMES[status] || 'UNKNOWN';
    super(`${method ? method + ': ' : ''}${code}: ${details}`);
    this.name = new.target.name;
    this.code = code;
    this.status = CODE_NAMES[status] ? status : 2;
    this.details = details;
    this.method = method;
  }
}

class CancelledError extends KeywardError {}
class UnknownError extends KeywardError {}
class InvalidArgumentError extends KeywardError {}
class DeadlineExceededError extends KeywardError {}
class NotFoundError extends KeywardError {}
class AlreadyExistsError extends KeywardError {}
class PermissionDeniedError extends KeywardError {}
class ResourceExhaustedError extends KeywardError {}
class FailedPreconditionError extends KeywardError {}
class AbortedError extends KeywardError {}
class OutOfRangeError extends KeywardError {}
class UnimplementedError extends KeywardError {}
class InternalError extends KeywardError {}
class UnavailableError extends KeywardError {}
class DataLossError extends KeywardError {}
class UnauthenticatedError extends KeywardError {}

const BY_STATUS = [
  null, CancelledError, UnknownError, InvalidArgumentError,
  DeadlineExceededError, NotFoundError, AlreadyExistsError,
  PermissionDeniedError, ResourceExhaustedError, FailedPreconditionError,
  AbortedError, OutOfRangeError, UnimplementedError, InternalError,
  UnavailableError, DataLossError, UnauthenticatedError,
];

// The KeywardError subclass instance for status number `status`.
function errorFor(status, details, method = '') {
  const Cls = BY_STATUS[status] || UnknownError;
  return new Cls(status, details || '', method);
}

// Converts an error raised by grpc-js for `method` ('Service/Method').
function errorFromGrpc(err, method) {
  if (err instanceof KeywardError) return err;
  const status = typeof err.code === 'number' ? err.code : 2;
  const details = typeof err.details === 'string' ? err.details :
      String(err.message || err);
  return errorFor(status, details, method);
}

module.exports = {
  CODE_NAMES, KeywardError, errorFor, errorFromGrpc,
  CancelledError, UnknownError, InvalidArgumentError, DeadlineExceededError,
  NotFoundError, AlreadyExistsError, PermissionDeniedError,
  ResourceExhaustedError, FailedPreconditionError, AbortedError,
  OutOfRangeError, UnimplementedError, InternalError, UnavailableError,
  DataLossError, UnauthenticatedError,
};
