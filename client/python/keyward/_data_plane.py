"""DataPlaneService (proto/keyward/v1/data_plane_service.proto): the data
plane over one bidirectional stream, for both clients (the transport hooks
make stream() an iterator in keyward.Client and an async iterator in
keyward.aio.Client)."""

from typing import Any, Iterable, Optional

from keyward.v1 import data_plane_service_pb2 as pb  # noqa: F401 (types)


class DataPlaneMixin:
    """DataPlaneService methods."""

    def stream(self, requests: Iterable[Any], *,
               timeout: Optional[float] = None) -> Any:
        """Runs DataPlaneService.Stream: sends each keyward.v1.StreamRequest
        of `requests` (each carrying 1 to 1000 StreamItems with your ids and
        a Sign, Verify, Encrypt, Decrypt, Mac, VerifyMac, SignJwt or
        VerifyJwt request), and iterates over the keyward.v1.StreamResult
        of every item as items finish (not in order: match them by id).
        Each item is authorized and audited as its unary call; its status
        (result.status.code, 0 = OK) is the code that call would return.
        The deadline (timeout, else stream_timeout) covers the whole stream.
        Errors (while iterating, for the stream as a whole):
        UnauthenticatedError (no identity at the start);
        ResourceExhaustedError (too many bad tokens); InvalidArgumentError
        (a message with no items or over 1000); DeadlineExceededError;
        UnavailableError (shutting down). Per item, in result.status:
        RESOURCE_EXHAUSTED beyond 256 items outstanding per stream or 1024
        per principal, and each unary call's own errors."""
        deadline = self._deadline(timeout, stream=True)
        return self._flatten(
            self._server_stream("DataPlaneService", "Stream", iter(requests),
                                deadline),
            "results")
