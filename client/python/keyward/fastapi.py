"""keyward.fastapi: a FastAPI dependency that verifies the request's bearer
token through Keyward (needs Debian's python3-fastapi; imported only when
this module is).

    from fastapi import Depends, FastAPI
    import keyward.aio, keyward.fastapi

    client = keyward.aio.Client()
    bearer = keyward.fastapi.BearerClaims("login-tokens", audience="api",
                                          client=client)
    app = FastAPI()

    @app.get("/me")
    async def me(claims: dict = Depends(bearer)):
        return {"sub": claims["sub"]}

The dependency returns the token's claims (a dict). It answers 401 with
WWW-Authenticate (RFC 6750) for a missing header or an invalid token (the
daemon's reason, e.g. "EXPIRED", in error_description), 503 when Keyward is
unreachable or overloaded, 500 for any other failed call; see
keyward._bearer. With a sync keyward.Client the call runs in FastAPI's
thread pool; with keyward.aio.Client it is awaited.
"""

import inspect
from typing import Any, Dict, Optional

import fastapi
from starlette.concurrency import run_in_threadpool

import keyward.aio
from keyward import _bearer
from keyward.errors import KeywardError
from keyward.jwt import InvalidTokenError


class BearerClaims(_bearer.Verifier):
    """A dependency: Depends(BearerClaims(key, audience=..., issuer=...,
    leeway=..., typ=..., client=...)) -> the claims. Errors: HTTPException
    401/503/500 as the module says."""

    async def __call__(self, authorization: Optional[str] = fastapi.Header(
            None, include_in_schema=False)) -> Dict[str, Any]:
        try:
            token = _bearer.bearer_token(authorization)
            result = (self.decode(token) if self._is_async()
                      else await run_in_threadpool(self.decode, token))
            if inspect.isawaitable(result):
                result = await result
            return result
        except (InvalidTokenError, KeywardError) as e:
            refused = _bearer.refusal(e)
        except _bearer.BearerRefused as e:
            refused = e
        raise fastapi.HTTPException(status_code=refused.status,
                                    detail=refused.body,
                                    headers=refused.headers)

    def _is_async(self) -> bool:
        return isinstance(self.client(), keyward.aio.Client)
