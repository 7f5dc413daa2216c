"""AccessService methods (policies, API keys, Login, WhoAmI), written once
for the sync and asyncio clients (see _base.py). Lists and WhoAmI are
retried on UNAVAILABLE; changes and Login never.

Errors (beyond each method's own): UnauthenticatedError,
PermissionDeniedError (policies: ADMIN covering the resource; API keys:
global ADMIN), ResourceExhaustedError, UnavailableError; ValueError or
TypeError before any call for a bad argument.
"""

import datetime
from typing import Any, Iterable, Iterator, Optional, Union

from keyward import _util
from keyward._base import ClientBase
from keyward.types import NewApiKey, Session
from keyward.v1 import access_service_pb2 as pb
from keyward.v1 import common_pb2

_S = "AccessService"


def _resource(resource: str) -> str:
    """"*" stays; "pay", "pay*" -> "keys/pay", "keys/pay*"."""
    return resource if resource == "*" else _util.key_name(resource)


def _none(_: Any) -> None:
    return None


class AccessMixin(ClientBase):
    """The AccessService methods of keyward.Client and keyward.aio.Client."""

    def create_policy(self, principal: str,
                      operations: Iterable[Union[str, int]], resource: str, *,
                      policy_id: str = "", description: str = "",
                      expire_time: Optional[datetime.datetime] = None,
                      timeout: Optional[float] = None) -> pb.Policy:
        """Grants `principal` ("unix:uid:1001", "apikey:ci", "spiffe://...")
        the `operations` (e.g. ["SIGN", "VERIFY"]) on `resource` ("pay",
        "keys/pay-*" or "*"); returns the keyward.v1.Policy. policy_id:
        empty lets the daemon pick one. Errors: InvalidArgumentError (syntax,
        no operations, AUDIT_READ off "*", expiry in the past);
        AlreadyExistsError."""
        ops = [_util.enum_value(common_pb2.Operation, "OPERATION_", op)
               for op in operations]
        policy = pb.Policy(principal=principal, operations=ops,
                           resource=_resource(resource),
                           description=description)
        expiry = _util.timestamp(expire_time, "expire_time")
        if expiry is not None:
            policy.expire_time.CopyFrom(expiry)
        req = pb.CreatePolicyRequest(policy_id=policy_id, policy=policy)
        return self._unary(_S, "CreatePolicy", req, lambda r: r.policy,
                           idempotent=False, timeout=timeout)

    def delete_policy(self, name: str, *,
                      timeout: Optional[float] = None) -> None:
        """Deletes a policy ("p1" or "policies/p1"); its grants end at once.
        Errors: InvalidArgumentError; NotFoundError;
        FailedPreconditionError (a built-in bootstrap policy)."""
        req = pb.DeletePolicyRequest(name=_util.prefixed("policies/", name))
        return self._unary(_S, "DeletePolicy", req, _none, idempotent=False,
                           timeout=timeout)

    def list_policies(self, *, principal: Optional[str] = None,
                      key: Optional[str] = None, page_size: int = 0,
                      timeout: Optional[float] = None) -> Iterator[pb.Policy]:
        """Iterates over the policies the caller administers, by name;
        principal: exactly this principal; key: policies covering this key.
        Errors (while iterating): InvalidArgumentError."""
        req = pb.ListPoliciesRequest(page_size=page_size,
                                     principal=principal or "")
        if key:
            req.key = _util.key_name(key)
        return self._pages(_S, "ListPolicies", req, "policies",
                           timeout=timeout)

    def create_api_key(self, api_key_id: str, *, description: str = "",
                       expire_time: Optional[datetime.datetime] = None,
                       timeout: Optional[float] = None) -> NewApiKey:
        """Makes an API key; returns NewApiKey(api_key, secret), the secret
        shown this once. It grants nothing until a policy names
        "apikey:{api_key_id}". Errors: InvalidArgumentError;
        AlreadyExistsError (ids are never reused)."""
        api_key = pb.ApiKey(description=description)
        expiry = _util.timestamp(expire_time, "expire_time")
        if expiry is not None:
            api_key.expire_time.CopyFrom(expiry)
        req = pb.CreateApiKeyRequest(api_key_id=api_key_id, api_key=api_key)
        return self._unary(_S, "CreateApiKey", req, NewApiKey.from_pb,
                           idempotent=False, timeout=timeout)

    def revoke_api_key(self, name: str, *,
                       timeout: Optional[float] = None) -> pb.ApiKey:
        """Revokes an API key ("ci" or "apiKeys/ci") for good, ending its
        sessions; returns it. Idempotent. Errors: InvalidArgumentError;
        NotFoundError."""
        req = pb.RevokeApiKeyRequest(name=_util.prefixed("apiKeys/", name))
        return self._unary(_S, "RevokeApiKey", req, lambda r: r.api_key,
                           idempotent=False, timeout=timeout)

    def list_api_keys(self, *, state: Union[str, int, None] = None,
                      page_size: int = 0, timeout: Optional[float] = None
                      ) -> Iterator[pb.ApiKey]:
        """Iterates over API keys by name (never their secrets); state: e.g.
        "ACTIVE". Errors (while iterating): InvalidArgumentError."""
        req = pb.ListApiKeysRequest(
            page_size=page_size,
            state=_util.optional_enum(pb.ApiKeyState, "API_KEY_STATE_", state))
        return self._pages(_S, "ListApiKeys", req, "api_keys",
                           timeout=timeout)

    def login(self, *, api_key_file: Optional[_util.PathLike] = None,
              api_key: Optional[bytes] = None,
              ttl: Optional[_util.Seconds] = None,
              timeout: Optional[float] = None) -> Session:
        """Exchanges an API key secret (from api_key_file, one trailing
        newline removed, or api_key bytes) for a session token, which this
        client then sends on every later call; returns the Session. Never
        retried. Errors: UnauthenticatedError (unknown, wrong, expired or
        revoked secret); ResourceExhaustedError (too many failures);
        UnavailableError (sealed)."""
        secret = _util.read_secret(api_key, api_key_file, "API key secret")
        req = pb.LoginRequest(api_key_secret=secret.decode("ascii", "replace"))
        ttl_pb = _util.duration(ttl, "ttl")
        if ttl_pb is not None:
            req.ttl.CopyFrom(ttl_pb)
        return self._then(
            self._unary(_S, "Login", req, Session.from_pb, idempotent=False,
                        timeout=timeout),
            self._adopt_session)

    def who_am_i(self, *, timeout: Optional[float] = None
                 ) -> pb.WhoAmIResponse:
        """The caller's identity as the daemon sees it
        (keyward.v1.WhoAmIResponse: principal, authentication, ...).
        Errors: UnauthenticatedError (a bad or expired session token)."""
        return self._unary(_S, "WhoAmI", pb.WhoAmIRequest(), lambda r: r,
                           idempotent=True, timeout=timeout)
