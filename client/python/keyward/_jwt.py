"""JwtService methods (JWS tokens, JWK Sets, JWE, token records), written
once for the sync and asyncio clients (see _base.py). Calls that keep a
token record, and RevokeToken, are never retried; the others are retried on
UNAVAILABLE. For PyJWT-shaped helpers see keyward.jwt.

Errors (beyond each method's own): UnauthenticatedError,
PermissionDeniedError, ResourceExhaustedError, UnavailableError,
DataLossError; ValueError or TypeError before any call for a bad argument.
"""

import json
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Union

from keyward import _util
from keyward._base import ClientBase
from keyward.types import DecryptedJwe, EncryptedJwe, JwtVerdict, SignedJwt
from keyward.v1 import common_pb2
from keyward.v1 import jwt_service_pb2 as pb

_S = "JwtService"
Claims = Union[Mapping[str, Any], str, bytes, None]


def sign_jwt_request(key: str, claims: Claims = None, *,
                     ttl: Optional[_util.Seconds] = None, typ: str = "",
                     record: bool = False, external_id: Optional[str] = None,
                     metadata: Optional[Mapping[str, str]] = None,
                     store_token: bool = False,
                     retention: Optional[_util.Seconds] = None
                     ) -> pb.SignJwtRequest:
    """The SignJwtRequest of sign_jwt() (also the nested JWT of
    encrypt_jwe()). A record is kept if record is true or any record option
    is given."""
    req = pb.SignJwtRequest(name=_util.key_name(key),
                            claims_json=_util.claims_json(claims), typ=typ)
    if ttl is not None:
        req.ttl.CopyFrom(_util.duration(ttl, "ttl"))
    if (record or external_id is not None or metadata or store_token
            or retention is not None):
        req.record.external_id = external_id or ""
        req.record.metadata.update(dict(metadata or {}))
        req.record.store_token = store_token
        retention_pb = _util.duration(retention, "retention")
        if retention_pb is not None:
            req.record.retention.CopyFrom(retention_pb)
    return req


def verify_jwt_request(token: str = "", *, key: Optional[str] = None,
                       issuer: str = "", audience: str = "", typ: str = "",
                       leeway: Optional[_util.Seconds] = None,
                       allow_missing_exp: bool = False,
                       max_age_without_exp: Optional[_util.Seconds] = None
                       ) -> pb.VerifyJwtRequest:
    """The VerifyJwtRequest of verify_jwt() (also decrypt_jwe's nested
    check, with an empty token)."""
    req = pb.VerifyJwtRequest(token=token, issuer=issuer or "",
                              audience=audience or "", typ=typ or "")
    if key:
        req.name = _util.key_name(key)
    leeway_pb = _util.duration(leeway, "leeway")
    if leeway_pb is not None:
        req.leeway.CopyFrom(leeway_pb)
    req.allow_missing_exp = bool(allow_missing_exp)
    max_age = _util.duration(max_age_without_exp, "max_age_without_exp")
    if max_age is not None:
        req.max_age_without_exp.CopyFrom(max_age)
    return req


def _jwks(r: pb.GetJwksResponse) -> Dict[str, Any]:
    return json.loads(r.jwks_json)


def _record(r: Any) -> pb.TokenRecord:
    return r.record


class JwtMixin(ClientBase):
    """The JwtService methods of keyward.Client and keyward.aio.Client."""

    def sign_jwt(self, key: str, claims: Claims = None, *,
                 ttl: Optional[_util.Seconds] = None, typ: str = "",
                 record: bool = False, external_id: Optional[str] = None,
                 metadata: Optional[Mapping[str, str]] = None,
                 store_token: bool = False,
                 retention: Optional[_util.Seconds] = None,
                 timeout: Optional[float] = None) -> SignedJwt:
        """Issues a JWT signed by a JWT key: claims (a dict or JSON text)
        with iat, nbf, exp (iat + ttl; default 15 min) and jti filled in
        unless given. record/external_id/metadata/store_token/retention keep
        a token record ("tokens/{jti}"). Errors: InvalidArgumentError (bad
        claims, ttl over the key's maximum: refused, never shortened; bad
        typ or record options); NotFoundError; AlreadyExistsError (a given
        jti already recorded); FailedPreconditionError (purpose not JWT,
        public-only, version not usable)."""
        req = sign_jwt_request(key, claims, ttl=ttl, typ=typ, record=record,
                               external_id=external_id, metadata=metadata,
                               store_token=store_token, retention=retention)
        return self._sign_jwt(req, SignedJwt.from_pb, timeout)

    def _sign_jwt(self, req: pb.SignJwtRequest, convert: Any,
                  timeout: Optional[float]) -> Any:
        """Runs SignJwt for `req` and returns convert(response) (sign_jwt's
        SignedJwt; keyward.jwt.encode takes only the token)."""
        return self._unary(_S, "SignJwt", req, convert,
                           idempotent=not req.HasField("record"),
                           timeout=timeout)

    def verify_jwt(self, token: str, *, key: Optional[str] = None,
                   issuer: str = "", audience: str = "", typ: str = "",
                   leeway: Optional[_util.Seconds] = None,
                   allow_missing_exp: bool = False,
                   max_age_without_exp: Optional[_util.Seconds] = None,
                   timeout: Optional[float] = None) -> JwtVerdict:
        """Checks a compact JWS; anything wrong with the token is a verdict
        (JwtVerdict.valid false, failure "EXPIRED", "BAD_SIGNATURE", ...),
        never an error. key pins the JWT key; audience: required "aud"
        (empty: tokens with "aud" are refused); leeway up to 5 minutes.
        allow_missing_exp accepts a token without "exp" (refused by
        default), optionally no older than max_age_without_exp from its
        "iat". Errors: InvalidArgumentError (request fields); NotFoundError and
        FailedPreconditionError (pinned key)."""
        req = verify_jwt_request(token, key=key, issuer=issuer,
                                 audience=audience, typ=typ, leeway=leeway,
                                 allow_missing_exp=allow_missing_exp,
                                 max_age_without_exp=max_age_without_exp)
        return self._unary(_S, "VerifyJwt", req, JwtVerdict.from_pb,
                           idempotent=True, timeout=timeout)

    def get_jwks(self, keys: Union[str, Iterable[str]], *,
                 timeout: Optional[float] = None) -> Dict[str, Any]:
        """The JWK Set ({"keys": [...]}, as a dict) of 1 to 100 asymmetric
        JWT or JWE keys, for relying parties. Errors: InvalidArgumentError;
        NotFoundError; FailedPreconditionError (other purpose, symmetric)."""
        req = pb.GetJwksRequest(names=_util.names_list(keys))
        return self._unary(_S, "GetJwks", req, _jwks, idempotent=True,
                           timeout=timeout)

    def encrypt_jwe(self, key: str, payload: Optional[bytes] = None, *,
                    sign_with: Optional[str] = None, claims: Claims = None,
                    ttl: Optional[_util.Seconds] = None,
                    algorithm: Union[str, int, None] = None,
                    encryption: Union[str, int, None] = None,
                    typ: str = "", content_type: str = "",
                    timeout: Optional[float] = None) -> EncryptedJwe:
        """A compact JWE for the JWE key `key`: of `payload` bytes, or of a
        JWT that the JWT key `sign_with` signs first from `claims` and `ttl`
        (nested, "cty": "JWT"). encryption: e.g. "A256GCM" (default),
        "A128CBC_HS256". Errors: InvalidArgumentError (alg not the key's,
        DIR without A256GCM, empty payload, nested SignJwt errors);
        NotFoundError (either key); FailedPreconditionError."""
        if (payload is None) == (sign_with is None):
            raise ValueError("give exactly one of payload and sign_with")
        req = pb.EncryptJweRequest(
            name=_util.key_name(key),
            algorithm=_util.optional_enum(common_pb2.JweAlgorithm,
                                          "JWE_ALGORITHM_", algorithm),
            encryption=_util.optional_enum(common_pb2.JweEncryption,
                                           "JWE_ENCRYPTION_", encryption),
            typ=typ, content_type=content_type)
        if sign_with is not None:
            req.nested_jwt.CopyFrom(sign_jwt_request(sign_with, claims,
                                                      ttl=ttl))
        else:
            req.payload = _util.as_bytes(payload, "payload")
        return self._unary(_S, "EncryptJwe", req, EncryptedJwe.from_pb,
                           idempotent=True, timeout=timeout)

    def decrypt_jwe(self, token: str, *, key: Optional[str] = None,
                    verify_nested: bool = False,
                    nested_key: Optional[str] = None,
                    issuer: str = "", audience: str = "", typ: str = "",
                    leeway: Optional[_util.Seconds] = None,
                    timeout: Optional[float] = None) -> DecryptedJwe:
        """Decrypts a compact JWE (key pins the JWE key); with
        verify_nested, also verifies the JWS inside as verify_jwt() would
        (nested_key, issuer, audience, typ, leeway) and returns its verdict
        in .nested. Errors: InvalidArgumentError (malformed, unsupported
        header, decryption failed: one message for all); NotFoundError
        (pinned key); FailedPreconditionError."""
        req = pb.DecryptJweRequest(token=token)
        if key:
            req.name = _util.key_name(key)
        if verify_nested:
            req.verify_nested.CopyFrom(verify_jwt_request(
                key=nested_key, issuer=issuer, audience=audience, typ=typ,
                leeway=leeway))
        return self._unary(_S, "DecryptJwe", req, DecryptedJwe.from_pb,
                           idempotent=True, timeout=timeout)

    def get_token_record(self, jti: Optional[str] = None, *,
                         external_id: Optional[str] = None,
                         key: Optional[str] = None,
                         timeout: Optional[float] = None) -> pb.TokenRecord:
        """The keyward.v1.TokenRecord of a recorded token, by jti ("abc" or
        "tokens/abc") or by external_id (the most recent; key narrows it).
        Errors: InvalidArgumentError; NotFoundError (no record, purged, or
        a key the caller may not read)."""
        if (jti is None) == (external_id is None):
            raise ValueError("give exactly one of jti and external_id")
        req = pb.GetTokenRecordRequest()
        if jti is not None:
            req.name = _util.prefixed("tokens/", jti)
        else:
            req.external_id = external_id  # type: ignore[assignment]
        if key:
            req.key = _util.key_name(key)
        return self._unary(_S, "GetTokenRecord", req, _record,
                           idempotent=True, timeout=timeout)

    def revoke_token(self, jti: str, reason: str = "", *,
                     timeout: Optional[float] = None) -> pb.TokenRecord:
        """Revokes a recorded token ("abc" or "tokens/abc"); verify_jwt
        then reports "REVOKED". Idempotent; returns the record. Errors:
        InvalidArgumentError (reason over 256 bytes); NotFoundError."""
        req = pb.RevokeTokenRequest(name=_util.prefixed("tokens/", jti),
                                    reason=reason)
        return self._unary(_S, "RevokeToken", req, _record, idempotent=False,
                           timeout=timeout)

    def list_token_records(self, *, key: Optional[str] = None,
                           external_id: Optional[str] = None,
                           state: Union[str, int, None] = None,
                           page_size: int = 0,
                           timeout: Optional[float] = None
                           ) -> Iterator[pb.TokenRecord]:
        """Iterates over token records, newest first; key, external_id and
        state ("ACTIVE", "EXPIRED", "REVOKED") filter. Errors (while
        iterating): InvalidArgumentError; PermissionDeniedError and
        NotFoundError (the key filter)."""
        req = pb.ListTokenRecordsRequest(
            page_size=page_size, external_id=external_id or "",
            state=_util.optional_enum(pb.TokenState, "TOKEN_STATE_", state))
        if key:
            req.key = _util.key_name(key)
        return self._pages(_S, "ListTokenRecords", req, "records",
                           timeout=timeout)
