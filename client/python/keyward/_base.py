"""The part of keyward.Client and keyward.aio.Client that does not depend on
how a call is made: target resolution, credentials, the session token,
deadlines and the retry rule. The RPC methods live in the service mixins
(_crypto.py, _keys.py, _access.py, _system.py, _jwt.py), each written once;
they build a request and hand it to one of four transport hooks that the
sync and asyncio clients implement:

  _unary(service, method, request, convert, idempotent=, timeout=)
  _pages(service, method, request, field, timeout=)   -> items, all pages
  _server_stream(service, method, request, timeout=)  -> response messages
  _client_stream(service, method, requests, convert, timeout=)

and three combinators on their results: _then(result, fn), _flatten(stream,
field) and _drain(stream, on_message, finish). In the sync client these
return values and generators; in the asyncio client, awaitables and async
iterators.
"""

import ipaddress
import os
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import grpc

from keyward import _util
from keyward.errors import KeywardError, error_from_rpc
from keyward.types import RetryPolicy, TlsOptions
from keyward.v1 import access_service_pb2_grpc
from keyward.v1 import crypto_service_pb2_grpc
from keyward.v1 import data_plane_service_pb2_grpc
from keyward.v1 import jwt_service_pb2_grpc
from keyward.v1 import key_service_pb2_grpc
from keyward.v1 import system_service_pb2_grpc

# The socket used when no target is given and neither $KEYWARD_ADDR nor
# $XDG_RUNTIME_DIR is set (as the C++ client's kDefaultSystemSocket).
DEFAULT_SYSTEM_SOCKET = "/run/keyward/keyward.sock"  # the Debian package's

# Service name -> generated stub class (keyward.v1).
STUBS = {
    "CryptoService": crypto_service_pb2_grpc.CryptoServiceStub,
    "KeyService": key_service_pb2_grpc.KeyServiceStub,
    "AccessService": access_service_pb2_grpc.AccessServiceStub,
    "SystemService": system_service_pb2_grpc.SystemServiceStub,
    "JwtService": jwt_service_pb2_grpc.JwtServiceStub,
    "DataPlaneService": data_plane_service_pb2_grpc.DataPlaneServiceStub,
}

_MAX_MESSAGE = 4 * 1024 * 1024  # the API's message limit (common.proto)


def select_target(target: Optional[str] = None,
                  environ: Optional[Dict[str, str]] = None) -> str:
    """The target string: `target` if given, else $KEYWARD_ADDR, else
    unix://$XDG_RUNTIME_DIR/keyward/keyward.sock, else the system socket.
    An absolute path "/p" means the Unix socket "unix:///p"."""
    env = os.environ if environ is None else environ
    chosen = target or env.get("KEYWARD_ADDR") or ""
    if not chosen:
        runtime = env.get("XDG_RUNTIME_DIR")
        if runtime:
            chosen = "unix://" + runtime + "/keyward/keyward.sock"
        else:
            chosen = "unix://" + DEFAULT_SYSTEM_SOCKET
    if chosen.startswith("/"):
        chosen = "unix://" + chosen
    return chosen


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(target: str) -> Tuple[str, Optional[str]]:
    """(gRPC target, TCP host or None for a Unix socket), with the C++
    client's forms: unix:///abs, unix:rel, /abs, host:port, [v6]:port,
    dns:///host:port. ValueError naming what is wrong."""
    t = target.strip()
    if not t:
        raise ValueError("empty target")
    if t.startswith("unix:"):
        path = t[len("unix://"):] if t.startswith("unix://") else t[5:]
        if t.startswith("unix://") and not path.startswith("/"):
            raise ValueError("target %r: unix:// takes an absolute path "
                             "(unix:///run/x.sock)" % target)
        if not path:
            raise ValueError("target %r has an empty socket path" % target)
        return "unix:" + path, None
    if t.startswith("dns:///"):
        t = t[len("dns:///"):]
    elif "://" in t:
        raise ValueError("target %r has an unsupported scheme; use "
                         "unix:///path or host:port" % target)
    if t.startswith("["):
        host, sep, port = t[1:].partition("]:")
        grpc_target = t
    else:
        host, sep, port = t.rpartition(":")
        grpc_target = t
        if ":" in host:
            raise ValueError("target %r: write IPv6 hosts as [addr]:port"
                             % target)
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("target %r needs a host and a port from 1 to 65535"
                         % target)
    return grpc_target, host


def _read_pem(path: Optional[str], what: str) -> Optional[bytes]:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError("cannot read the %s file %r: %s"
                         % (what, path, e.strerror)) from None


class ClientBase:
    """Configuration and the call plumbing shared by both clients.

    target: "unix:///abs/path.sock", "/abs/path.sock", "host:port"
      (plaintext only to loopback hosts; TLS with `tls`); None: see
      select_target().
    timeout: deadline of each unary call in seconds, retries included;
      every method also takes timeout= for that call.
    stream_timeout: deadline of CreateBackup, RestoreBackup and a
      ReadAuditLog that does not follow (a following read has none).
    tls: TlsOptions for TLS or mutual TLS over TCP.
    token / token_file: a session token (from login() or `keyward login`)
      sent as "authorization: Bearer <token>" on every call.
    retry: the RetryPolicy for calls that change no state.

    ValueError (before any call) for a bad target, plaintext TCP to a
    non-loopback host, TLS on a Unix socket, an unreadable file or a
    non-positive timeout.
    """

    def __init__(self, target: Optional[str] = None, *,
                 timeout: float = 10.0, stream_timeout: float = 600.0,
                 tls: Optional[TlsOptions] = None,
                 token: Optional[str] = None,
                 token_file: Optional[_util.PathLike] = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        if not timeout > 0 or not stream_timeout > 0:
            raise ValueError("timeout and stream_timeout must be positive")
        if retry.max_attempts < 1:
            raise ValueError("retry.max_attempts must be at least 1")
        self.target = select_target(target)
        self.timeout = float(timeout)
        self.stream_timeout = float(stream_timeout)
        self.retry = retry
        self._token = ""
        if token is not None or token_file is not None:
            self.set_token(_util.read_secret(token, token_file,
                                             "session token"))
        grpc_target, host = parse_target(self.target)
        options: List[Tuple[str, Any]] = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE)]
        self._credentials = None
        if tls is not None:
            if host is None:
                raise ValueError("TLS options apply to host:port targets, "
                                 "not Unix sockets")
            if bool(tls.cert_file) != bool(tls.key_file):
                raise ValueError("a client certificate needs both cert_file "
                                 "and key_file")
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(tls.ca_file, "CA"),
                private_key=_read_pem(tls.key_file, "client key"),
                certificate_chain=_read_pem(tls.cert_file,
                                            "client certificate"))
            if tls.server_name:
                options.append(("grpc.ssl_target_name_override",
                                tls.server_name))
        elif host is not None and not _is_loopback(host):
            raise ValueError("plaintext TCP is allowed only to loopback "
                             "hosts; %s needs tls=TlsOptions(...)" % host)
        self._grpc_target = grpc_target
        self._channel_options = options

    # --- session ---

    def set_token(self, token: Optional[Any]) -> None:
        """Uses `token` (str or bytes; None or empty: none) as the session
        token of later calls. ValueError if it is not printable ASCII (its
        value is not shown)."""
        text = token.decode("ascii", "replace") if isinstance(
            token, (bytes, bytearray)) else (token or "")
        text = text.strip()
        if text and not (text.isascii() and text.isprintable()
                         and " " not in text):
            raise ValueError("a session token is printable ASCII without "
                             "spaces")
        self._token = text

    def _metadata(self) -> Optional[Tuple[Tuple[str, str], ...]]:
        if not self._token:
            return None
        return (("authorization", "Bearer " + self._token),)

    def _adopt_session(self, session: Any) -> Any:
        self.set_token(session.token)
        return session

    # --- deadlines and retries ---

    def _deadline(self, timeout: Optional[float], stream: bool = False
                  ) -> float:
        chosen = timeout if timeout is not None else (
            self.stream_timeout if stream else self.timeout)
        if not chosen > 0:
            raise ValueError("timeout must be positive")
        return time.monotonic() + chosen

    def _retry_pause(self, error: KeywardError, idempotent: bool,
                     attempt: int, deadline: float) -> float:
        """Seconds to wait before attempt `attempt`+1; raises `error` when
        the rule allows no retry (a state-changing call, a code other than
        UNAVAILABLE, attempts used up, or a pause that runs past the
        deadline)."""
        if (not idempotent or error.code != grpc.StatusCode.UNAVAILABLE
                or attempt >= self.retry.max_attempts):
            raise error
        pause = self.retry.pause(attempt)
        if time.monotonic() + pause >= deadline:
            raise error
        return pause

    @staticmethod
    def _error(e: grpc.RpcError, service: str, method: str) -> KeywardError:
        return error_from_rpc(e, service + "/" + method)

    @staticmethod
    def _next_page(request: Any, page: Any, seen: set) -> bool:
        """Moves `request` to the page after `page`; False on the last page.
        A token the daemon repeats ends the listing with an error (bound)."""
        token = page.next_page_token
        if not token:
            return False
        if token in seen:
            raise KeywardError(grpc.StatusCode.INTERNAL,
                               "the daemon repeated a page token", "")
        seen.add(token)
        request.page_token = token
        return True

    # Hooks the sync and aio clients implement (see the module comment).
    def _unary(self, service: str, method: str, request: Any,
               convert: Callable[[Any], Any], *, idempotent: bool,
               timeout: Optional[float] = None) -> Any:
        raise NotImplementedError

    def _pages(self, service: str, method: str, request: Any, field: str,
               timeout: Optional[float] = None) -> Any:
        raise NotImplementedError

    def _server_stream(self, service: str, method: str, request: Any,
                       timeout: Optional[float]) -> Any:
        raise NotImplementedError

    def _client_stream(self, service: str, method: str,
                       requests: Iterable[Any], convert: Callable[[Any], Any],
                       timeout: Optional[float]) -> Any:
        raise NotImplementedError

    def _then(self, result: Any, fn: Callable[[Any], Any]) -> Any:
        raise NotImplementedError

    def _flatten(self, stream: Any, field: str) -> Any:
        raise NotImplementedError

    def _drain(self, stream: Any, on_message: Callable[[Any], None],
               finish: Callable[[], Any]) -> Any:
        raise NotImplementedError
