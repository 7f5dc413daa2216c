"""keyward.jwt: PyJWT-shaped helpers over the daemon's JwtService.

    import keyward, keyward.jwt

    client = keyward.Client()
    token = keyward.jwt.encode({"sub": "alice", "aud": "api"},
                               key="login-tokens", ttl=900, client=client)
    claims = keyward.jwt.decode(token, audience="api", client=client)

The key never leaves keywardd: encode() calls SignJwt and decode() calls
VerifyJwt, whose algorithm comes from the key, never from the token. A
token the daemon finds invalid raises an InvalidTokenError subclass named
after PyJWT's (ExpiredSignatureError, InvalidAudienceError, ...), chosen
by the daemon's JwtFailure reason; a failed call (key not found, no grant,
daemon down) raises keyward.KeywardError as every client method does.

With a keyward.aio.Client both functions return awaitables.
"""

from typing import Any, Dict, Mapping, Optional, Type, Union

import keyward
from keyward import _util
from keyward._jwt import sign_jwt_request
from keyward.types import JwtVerdict

_DEFAULT_CLIENT: Optional["keyward.Client"] = None


class PyJWTError(Exception):
    """Base of every error of this module (as PyJWT's)."""


class InvalidTokenError(PyJWTError):
    """The daemon found the token invalid. `failure` is its JwtFailure
    short name ("EXPIRED"), `detail` the daemon's detail (never secret),
    `key_version` the version checked once known."""

    def __init__(self, failure: str, detail: str,
                 key_version: str = "") -> None:
        self.failure = failure
        self.detail = detail
        self.key_version = key_version
        super().__init__("%s: %s" % (failure, detail) if detail else failure)


class DecodeError(InvalidTokenError):
    """MALFORMED: not a compact JWS, bad base64url or JSON, oversized."""


class InvalidSignatureError(DecodeError):
    """BAD_SIGNATURE: the signature does not verify."""


class InvalidAlgorithmError(InvalidTokenError):
    """UNSUPPORTED_HEADER or ALGORITHM_MISMATCH: alg none/unknown, crit,
    zip, b64, or an alg other than the key's."""


class ExpiredSignatureError(InvalidTokenError):
    """EXPIRED: "exp" is past (beyond the leeway)."""


class ImmatureSignatureError(InvalidTokenError):
    """NOT_YET_VALID: "nbf" or "iat" is in the future."""


class InvalidIssuerError(InvalidTokenError):
    """ISSUER_MISMATCH."""


class InvalidAudienceError(InvalidTokenError):
    """AUDIENCE_MISMATCH (also: the token has "aud" and none was given)."""


class MissingRequiredClaimError(InvalidTokenError):
    """MISSING_EXPIRY: Keyward requires "exp". `claim` is "exp"."""
    claim = "exp"


class InvalidTypeError(InvalidTokenError):
    """TYPE_MISMATCH: the header "typ" is not the required one."""


class InvalidKeyError(InvalidTokenError):
    """KEY_NOT_FOUND or KEY_UNUSABLE: no usable key for the token's kid (or
    none the caller may verify with)."""


class RevokedTokenError(InvalidTokenError):
    """REVOKED: the token's record was revoked (RevokeToken)."""


_BY_FAILURE: Dict[str, Type[InvalidTokenError]] = {
    "MALFORMED": DecodeError,
    "UNSUPPORTED_HEADER": InvalidAlgorithmError,
    "KEY_NOT_FOUND": InvalidKeyError,
    "KEY_UNUSABLE": InvalidKeyError,
    "ALGORITHM_MISMATCH": InvalidAlgorithmError,
    "BAD_SIGNATURE": InvalidSignatureError,
    "MISSING_EXPIRY": MissingRequiredClaimError,
    "EXPIRED": ExpiredSignatureError,
    "NOT_YET_VALID": ImmatureSignatureError,
    "ISSUER_MISMATCH": InvalidIssuerError,
    "AUDIENCE_MISMATCH": InvalidAudienceError,
    "TYPE_MISMATCH": InvalidTypeError,
    "REVOKED": RevokedTokenError,
}


def _client(client: Any) -> Any:
    global _DEFAULT_CLIENT
    if client is not None:
        return client
    if _DEFAULT_CLIENT is None:
        _DEFAULT_CLIENT = keyward.Client()  # $KEYWARD_ADDR or the default
    return _DEFAULT_CLIENT


def _leeway(leeway: Optional[_util.Seconds]) -> Optional[_util.Seconds]:
    # The daemon reads a zero leeway as "its default" (60 s); PyJWT's 0
    # means none, so 0 is sent as one microsecond.
    if leeway is None:
        return None
    if not _util.duration(leeway, "leeway").ToNanoseconds():
        return 1e-6
    return leeway


def raise_for_verdict(verdict: JwtVerdict) -> JwtVerdict:
    """Returns a valid verdict; raises the InvalidTokenError subclass of an
    invalid one's failure."""
    if verdict.valid:
        return verdict
    error = _BY_FAILURE.get(verdict.failure, InvalidTokenError)
    raise error(verdict.failure, verdict.failure_detail, verdict.key_version)


def encode(payload: Union[Mapping[str, Any], str], key: str, *,
           ttl: Optional[_util.Seconds] = None, client: Any = None,
           typ: str = "", **record: Any) -> str:
    """Signs `payload` (the claims) with the JWT key `key` and returns the
    compact token; iat, nbf, exp (iat + ttl seconds or timedelta; default
    15 min) and jti are filled unless given. record: sign_jwt()'s record
    options (external_id=..., metadata=..., store_token=...) and
    timeout=. client: a
    keyward.Client (or aio.Client: then an awaitable); None: Client() from
    $KEYWARD_ADDR. Errors: keyward.InvalidArgumentError (bad claims, ttl
    over the key's maximum), keyward.NotFoundError,
    keyward.FailedPreconditionError (not a JWT key), ..."""
    c = _client(client)
    timeout = record.pop("timeout", None)
    req = sign_jwt_request(key, payload, ttl=ttl, typ=typ, **record)
    return c._sign_jwt(req, _token, timeout)


def _token(response: Any) -> str:
    return response.token


def decode_complete(token: str, key: Optional[str] = None, *,
                    audience: Optional[str] = None,
                    issuer: Optional[str] = None,
                    leeway: Optional[_util.Seconds] = None,
                    typ: Optional[str] = None,
                    client: Any = None) -> Any:
    """As decode(), returning {"header": dict, "payload": dict,
    "key_version": str}."""
    c = _client(client)
    verdict = c.verify_jwt(token, key=key, issuer=issuer or "",
                           audience=audience or "", typ=typ or "",
                           leeway=_leeway(leeway))

    def complete(v: JwtVerdict) -> Dict[str, Any]:
        raise_for_verdict(v)
        return {"header": v.header, "payload": v.claims,
                "key_version": v.key_version}
    return c._then(verdict, complete)


def decode(token: str, key: Optional[str] = None, *,
           audience: Optional[str] = None, issuer: Optional[str] = None,
           leeway: Optional[_util.Seconds] = None, typ: Optional[str] = None,
           client: Any = None) -> Any:
    """Verifies `token` in the daemon and returns its claims (a dict).
    key: pin the JWT key (None: found by the token's kid among keys the
    caller may verify with). audience: required "aud" (None: tokens with
    "aud" are refused, RFC 7519). issuer: required "iss". leeway: seconds
    or timedelta of clock skew, at most 5 minutes (None: the daemon's
    default, 60 s). Errors: an InvalidTokenError subclass for an invalid
    token (ExpiredSignatureError, InvalidAudienceError, InvalidIssuerError,
    ImmatureSignatureError, InvalidSignatureError, DecodeError,
    InvalidAlgorithmError, InvalidKeyError, MissingRequiredClaimError,
    InvalidTypeError, RevokedTokenError); keyward.KeywardError for a failed
    call (e.g. InvalidArgumentError for a leeway over 5 minutes)."""
    c = _client(client)
    return c._then(
        decode_complete(token, key, audience=audience, issuer=issuer,
                        leeway=leeway, typ=typ, client=c),
        lambda complete: complete["payload"])
