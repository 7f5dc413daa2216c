"""What keyward.fastapi and keyward.flask share: reading the bearer token
of an Authorization header, verifying it through Keyward (keyward.jwt), and
the HTTP answer to each failure (RFC 6750):

  no or malformed Authorization header  401, error="invalid_request"
  token invalid (the daemon's verdict)  401, error="invalid_token" with the
                                        daemon's reason ("EXPIRED", ...)
  Keyward unreachable or overloaded     503 (UNAVAILABLE,
                                        DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED)
  any other failed call                 500 (a misconfigured service: no
                                        VERIFY grant, unknown pinned key...)

The token itself is never part of an answer or an exception's text."""

from typing import Any, Dict, Optional, Tuple

import grpc

from keyward import jwt
from keyward.errors import KeywardError

_BUSY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
         grpc.StatusCode.RESOURCE_EXHAUSTED)


class BearerRefused(Exception):
    """A request refused: `status` (401, 503, 500), the JSON `body` and the
    response `headers`."""

    def __init__(self, status: int, body: Dict[str, str],
                 headers: Dict[str, str]) -> None:
        super().__init__("%d %s" % (status, body.get("error", "")))
        self.status = status
        self.body = body
        self.headers = headers


def _unauthorized(error: str, description: str) -> BearerRefused:
    header = 'Bearer error="%s", error_description="%s"' % (
        error, description.replace('"', "'"))
    return BearerRefused(401, {"error": error,
                               "error_description": description},
                         {"WWW-Authenticate": header})


def bearer_token(authorization: Optional[str]) -> str:
    """The token of an "Authorization: Bearer <token>" header; BearerRefused
    (401 invalid_request) if there is none."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _unauthorized("invalid_request",
                            "an Authorization: Bearer token is required")
    return token


def refusal(error: Exception) -> BearerRefused:
    """The BearerRefused for an InvalidTokenError or a KeywardError."""
    if isinstance(error, jwt.InvalidTokenError):
        return _unauthorized("invalid_token", error.failure or "INVALID")
    if isinstance(error, KeywardError) and error.code in _BUSY:
        return BearerRefused(503, {"error": "temporarily_unavailable",
                                   "error_description": error.code.name},
                             {"Retry-After": "1"})
    code = error.code.name if isinstance(error, KeywardError) else "ERROR"
    return BearerRefused(500, {"error": "server_error",
                               "error_description": code}, {})


class Verifier:
    """The verification options of a dependency or decorator: key pins the
    JWT key, audience/issuer/leeway/typ as keyward.jwt.decode(); client is a
    keyward.Client or keyward.aio.Client, or a callable returning one (None:
    keyward.jwt's default client from $KEYWARD_ADDR)."""

    def __init__(self, key: Optional[str] = None, *,
                 audience: Optional[str] = None,
                 issuer: Optional[str] = None, leeway: Any = None,
                 typ: Optional[str] = None, client: Any = None) -> None:
        self.key = key
        self.options = {"audience": audience, "issuer": issuer,
                        "leeway": leeway, "typ": typ}
        self._client = client

    def client(self) -> Any:
        c = self._client
        if c is not None and callable(c) and not hasattr(c, "verify_jwt"):
            return c()
        return c

    def decode(self, token: str) -> Any:
        """keyward.jwt.decode(token, ...): the claims (an awaitable with an
        aio client)."""
        return jwt.decode(token, self.key, client=self.client(),
                          **self.options)


def answer(refused: BearerRefused) -> Tuple[Dict[str, str], int,
                                            Dict[str, str]]:
    """(body, status, headers) of a refusal."""
    return refused.body, refused.status, refused.headers
