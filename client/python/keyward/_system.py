"""SystemService methods (status, seal, unseal, passphrase, backup and
restore, the audit log), written once for the sync and asyncio clients (see
_base.py). GetStatus and VerifyAuditLog are retried on UNAVAILABLE; the
others never.

Errors (beyond each method's own): UnauthenticatedError (anonymous caller,
except get_status; bad session token), PermissionDeniedError,
ResourceExhaustedError, UnavailableError (shutting down, audit write
failed); ValueError or TypeError before any call for a bad argument.
"""

from typing import Any, BinaryIO, Iterable, Iterator, Optional, Union

from keyward import _util
from keyward._base import ClientBase
from keyward.types import UnsealResult
from keyward.v1 import system_service_pb2 as pb

_S = "SystemService"
_CHUNK = 1 << 20  # the most data one stream message may carry

BackupSource = Union[bytes, BinaryIO, Iterable[bytes]]


def _chunks(source: BackupSource) -> Iterator[bytes]:
    """The backup's bytes in pieces of at most 1 MiB."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        for i in range(0, len(data), _CHUNK):
            yield data[i:i + _CHUNK]
        return
    if hasattr(source, "read"):
        while True:
            piece = source.read(_CHUNK)  # type: ignore[union-attr]
            if not piece:
                return
            yield piece
    for piece in source:  # type: ignore[union-attr]
        for i in range(0, len(piece), _CHUNK):
            yield bytes(piece[i:i + _CHUNK])


def _restore_requests(source: BackupSource, passphrase: bytes,
                      replace_existing: bool
                      ) -> Iterator[pb.RestoreBackupRequest]:
    """The passphrase and replace flag in the first message only."""
    first = pb.RestoreBackupRequest(passphrase=passphrase,
                                    replace_existing=replace_existing)
    for piece in _chunks(source):
        if first is not None:
            first.data = piece
            yield first
            first = None
        else:
            yield pb.RestoreBackupRequest(data=piece)
    if first is not None:
        yield first


class _BackupWriter:
    """Writes CreateBackup chunks to `out` and keeps the BackupInfo."""

    def __init__(self, out: BinaryIO) -> None:
        if not hasattr(out, "write"):
            raise TypeError("out must have a write() method (a binary file)")
        self.out = out
        self.info: Optional[pb.BackupInfo] = None

    def take(self, message: pb.CreateBackupResponse) -> None:
        if self.info is None and message.HasField("info"):
            self.info = message.info
        self.out.write(message.data)

    def result(self) -> Optional[pb.BackupInfo]:
        return self.info


def _none(_: Any) -> None:
    return None


class SystemMixin(ClientBase):
    """The SystemService methods of keyward.Client and keyward.aio.Client."""

    def get_status(self, *, timeout: Optional[float] = None
                   ) -> pb.GetStatusResponse:
        """Version, flavor, seal state, counters and the audit log's state
        (keyward.v1.GetStatusResponse). Works while sealed. Errors: only the
        service-wide ones above."""
        return self._unary(_S, "GetStatus", pb.GetStatusRequest(), lambda r: r,
                           idempotent=True, timeout=timeout)

    def seal(self, *, timeout: Optional[float] = None) -> None:
        """Wipes the root key, the key cache and all sessions; later calls
        get UnavailableError until unseal(). Requires global ADMIN."""
        return self._unary(_S, "Seal", pb.SealRequest(), _none,
                           idempotent=False, timeout=timeout)

    def unseal(self, *, passphrase_file: Optional[_util.PathLike] = None,
               passphrase: Optional[bytes] = None, initialize: bool = False,
               timeout: Optional[float] = None) -> UnsealResult:
        """Unseals with the operator passphrase (from passphrase_file, one
        trailing newline removed, or bytes); with initialize, creates a new
        keystore. Errors: UnauthenticatedError (wrong passphrase);
        InvalidArgumentError (empty, too long, too short to initialize);
        FailedPreconditionError (no keystore, or one exists with
        initialize); ResourceExhaustedError (too many failures);
        DataLossError."""
        req = pb.UnsealRequest(
            passphrase=_util.read_secret(passphrase, passphrase_file,
                                         "passphrase"),
            initialize=initialize)
        return self._unary(_S, "Unseal", req, UnsealResult.from_pb,
                           idempotent=False, timeout=timeout)

    def change_passphrase(self, *,
                          old_passphrase_file: Optional[_util.PathLike] = None,
                          new_passphrase_file: Optional[_util.PathLike] = None,
                          old_passphrase: Optional[bytes] = None,
                          new_passphrase: Optional[bytes] = None,
                          timeout: Optional[float] = None) -> None:
        """Re-wraps the root key under the new passphrase (12 to 1024
        bytes); the passphrase file of the daemon is not rewritten. Requires
        global ADMIN. Errors: InvalidArgumentError (old one wrong, new one
        too short/long or equal); FailedPreconditionError (no keystore);
        ResourceExhaustedError; DataLossError."""
        req = pb.ChangePassphraseRequest(
            old_passphrase=_util.read_secret(old_passphrase,
                                             old_passphrase_file,
                                             "old passphrase"),
            new_passphrase=_util.read_secret(new_passphrase,
                                             new_passphrase_file,
                                             "new passphrase"))
        return self._unary(_S, "ChangePassphrase", req, _none,
                           idempotent=False, timeout=timeout)

    def create_backup(self, out: BinaryIO, *,
                      timeout: Optional[float] = None
                      ) -> Optional[pb.BackupInfo]:
        """Streams an encrypted snapshot of the keystore into `out` (a
        binary file: chunks are written in order) and returns its
        keyward.v1.BackupInfo. Requires global ADMIN. Errors:
        UnavailableError (sealed); DataLossError."""
        writer = _BackupWriter(out)
        stream = self._server_stream(_S, "CreateBackup",
                                     pb.CreateBackupRequest(),
                                     self._deadline(timeout, stream=True))
        return self._drain(stream, writer.take, writer.result)

    def restore_backup(self, source: BackupSource, *,
                       passphrase_file: Optional[_util.PathLike] = None,
                       passphrase: Optional[bytes] = None,
                       replace_existing: bool = False,
                       timeout: Optional[float] = None) -> pb.BackupInfo:
        """Replaces the keystore with a backup from create_backup() (bytes,
        a binary file or an iterable of chunks), given the passphrase that
        was current when it was made; the daemon is then sealed. Returns
        the restored BackupInfo. Errors: InvalidArgumentError (not a
        backup, wrong passphrase); DataLossError (truncated, tampered);
        FailedPreconditionError (a keystore exists, replace_existing
        false); ResourceExhaustedError."""
        requests = _restore_requests(
            source, _util.read_secret(passphrase, passphrase_file,
                                      "passphrase"), replace_existing)
        return self._client_stream(_S, "RestoreBackup", requests,
                                   lambda r: r.info,
                                   self._deadline(timeout, stream=True))

    def read_audit_log(self, *, start_sequence: int = 0, follow: bool = False,
                       max_records: int = 0, principal: Optional[str] = None,
                       resource_prefix: Optional[str] = None,
                       timeout: Optional[float] = None
                       ) -> Iterator[pb.AuditRecord]:
        """Iterates over audit records (keyward.v1.AuditRecord) in sequence
        order; with follow, keeps waiting for new ones (no deadline unless
        timeout is given) until the iteration is closed (break, close(),
        aclose()), which cancels the stream. Requires AUDIT_READ on "*".
        Errors (while iterating): InvalidArgumentError; DataLossError;
        UnavailableError (shutdown while following)."""
        req = pb.ReadAuditLogRequest(
            start_sequence=start_sequence, follow=follow,
            max_records=max_records, principal=principal or "",
            resource_prefix=resource_prefix or "")
        deadline = (None if follow and timeout is None
                    else self._deadline(timeout, stream=True))
        return self._flatten(
            self._server_stream(_S, "ReadAuditLog", req, deadline), "records")

    def verify_audit_log(self, *, start_sequence: int = 0,
                         end_sequence: int = 0,
                         timeout: Optional[float] = None
                         ) -> pb.VerifyAuditLogResponse:
        """Re-computes the hash chain over a range (0: from the first, to
        the last) and returns the verdict (keyward.v1.VerifyAuditLogResponse:
        ok, records_checked, first_bad_sequence, problem, ...). Errors:
        InvalidArgumentError (end below start)."""
        req = pb.VerifyAuditLogRequest(start_sequence=start_sequence,
                                       end_sequence=end_sequence)
        return self._unary(_S, "VerifyAuditLog", req, lambda r: r,
                           idempotent=True, timeout=timeout)

    def rotate_audit_log(self, *, timeout: Optional[float] = None
                         ) -> pb.RotateAuditLogResponse:
        """Rotates the audit log now and returns what it did
        (keyward.v1.RotateAuditLogResponse: rotated_file, last_sequence,
        first_sequence). Requires global ADMIN. Errors:
        FailedPreconditionError (nothing recorded since the last rotation);
        UnavailableError (the rotation could not be written: a full disk)."""
        return self._unary(_S, "RotateAuditLog", pb.RotateAuditLogRequest(),
                           lambda r: r, idempotent=False, timeout=timeout)
