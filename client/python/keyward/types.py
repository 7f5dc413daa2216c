"""keyward.types: what the client's methods return, and its options.

The rule, the same for every method:
  - A call that is for one value returns that value: encrypt() and
    decrypt() bytes, verify() and verify_mac() a bool, public_key() bytes,
    rotate() the new version's name, seal() None.
  - A call about a resource returns the keyward.v1 message of that
    resource (Key, KeyVersion, Policy, ApiKey, TokenRecord, AuditRecord,
    BackupInfo) or the descriptive response message itself when it is a
    report (GetStatusResponse, WhoAmIResponse, VerifyAuditLogResponse): a
    dataclass would only copy them.
  - Any other result is a frozen dataclass below, with enum values as short
    names ("ED25519"), times as aware UTC datetimes and JSON as dicts.
    Secret fields (plaintext data keys, API key secrets, session and JWT
    tokens, exported material) are left out of repr().
"""

import dataclasses
import datetime
import json
from typing import Any, Dict, Generic, Iterator, Optional, TypeVar

from keyward import _util
from keyward.errors import KeywardError
from keyward.v1 import common_pb2
from keyward.v1 import jwt_service_pb2
from keyward.v1 import key_service_pb2

T = TypeVar("T")


class _Record:
    """A result whose fields are the response's fields of the same names;
    _ENUMS names the fields given as short enum names instead of numbers."""

    _ENUMS: Dict[str, Any] = {}

    @classmethod
    def from_pb(cls, r: Any) -> Any:
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            value = getattr(r, f.name)
            if f.name in cls._ENUMS:
                enum_type, prefix = cls._ENUMS[f.name]
                value = _util.enum_name(enum_type, prefix, value)
            values[f.name] = value
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class TlsOptions:
    """TLS or mutual TLS to a daemon over TCP, as the C++ client's
    TlsOptions: ca_file (PEM CA certificates of the daemon's certificate;
    None: the system roots), cert_file and key_file (the client certificate
    chain and its key, for mTLS; both or neither), server_name (checked
    against the daemon's certificate instead of the target's host)."""
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How calls that change no state are retried on UNAVAILABLE (as the
    C++ client): max_attempts in all, a pause of initial_backoff *
    multiplier**(n-1) seconds after attempt n, at most max_backoff; no retry
    that could not finish before the call's deadline. State-changing calls
    (creates, rotations, version states, policies, API keys, Login, Unseal,
    recorded tokens, ...) are never retried."""
    max_attempts: int = 3
    initial_backoff: float = 0.05
    multiplier: float = 2.0
    max_backoff: float = 1.0

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (from 1)."""
        growth = self.multiplier ** max(0, attempt - 1)
        return min(self.initial_backoff * growth, self.max_backoff)


@dataclasses.dataclass(frozen=True)
class SignResult(_Record):
    """sign(): the self-describing signature (for verify()), the bare one
    in the algorithm's standard encoding (for outside verifiers), the
    version that signed and the algorithm's short name. Unpacks as
    (signature, raw_signature, key_version) like the earlier namedtuple."""
    signature: bytes
    raw_signature: bytes
    key_version: str
    algorithm: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.signature, self.raw_signature, self.key_version))

    _ENUMS = {"algorithm": (common_pb2.SignatureAlgorithm,
                            "SIGNATURE_ALGORITHM_")}


@dataclasses.dataclass(frozen=True)
class MacResult(_Record):
    """mac(): the self-describing MAC (for verify_mac()), the bare HMAC tag
    and the version used."""
    mac: bytes
    raw_mac: bytes
    key_version: str


@dataclasses.dataclass(frozen=True)
class DataKey(_Record):
    """generate_data_key(): the data key in the clear (empty if
    wrapped_only; wipe it after use: not in repr), the wrapped key (decrypt
    it later with decrypt()) and the wrapping version."""
    plaintext: bytes = dataclasses.field(repr=False)
    ciphertext: bytes
    key_version: str


@dataclasses.dataclass(frozen=True)
class ReEncryptResult(_Record):
    """re_encrypt(): the new ciphertext (store it in place of the old one),
    the destination version that made it, and the source version that
    decrypted the old one."""
    ciphertext: bytes
    key_version: str
    source_key_version: str


@dataclasses.dataclass(frozen=True)
class BoxResult(_Record):
    """box(): nonce || box (PyNaCl's Box.encrypt format), the version that
    boxed and its raw X25519 public key (the sender key to open with)."""
    ciphertext: bytes
    key_version: str
    sender_public_key: bytes


@dataclasses.dataclass(frozen=True)
class PublicKey(_Record):
    """get_public_key(): the public key bytes (PEM or JWK text, or DER), its
    format ("PEM", "DER", "JWK"), version, key type ("ED25519") and kid."""
    public_key: bytes
    format: str
    key_version: str
    key_type: str
    kid: str

    _ENUMS = {"format": (common_pb2.PublicKeyFormat, "PUBLIC_KEY_FORMAT_"),
              "key_type": (common_pb2.KeyType, "KEY_TYPE_")}


@dataclasses.dataclass(frozen=True)
class BatchResult(Generic[T]):
    """One item of a batch call: `value` (as the single call returns it)
    when ok, else `error` (a KeywardError subclass, not raised)."""
    value: Optional[T]
    error: Optional[KeywardError] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value; raises the item's error if it failed."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class ImportedKey(_Record):
    """import_key(): the key after the import and the imported version."""
    key: common_pb2.Key
    version: common_pb2.KeyVersion


@dataclasses.dataclass(frozen=True)
class ExportedKey(_Record):
    """export_key(): the material (a secret: not in repr), its format
    ("PRIVATE_KEY_PEM", ...) and the exported version."""
    material: bytes = dataclasses.field(repr=False)
    format: str
    key_version: str

    _ENUMS = {"format": (key_service_pb2.KeyMaterialFormat,
                         "KEY_MATERIAL_FORMAT_")}


@dataclasses.dataclass(frozen=True)
class NewApiKey(_Record):
    """create_api_key(): the key's metadata and its secret, shown this once
    (not in repr: write it to a 0600 file, never to a log)."""
    api_key: Any
    secret: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Session:
    """login(): the principal the session runs as, its expiry and the token
    (a secret: not in repr)."""
    principal: str
    expire_time: Optional[datetime.datetime]
    token: str = dataclasses.field(repr=False)

    @classmethod
    def from_pb(cls, r: Any) -> "Session":
        return cls(r.principal, _util.to_datetime(r, "expire_time"),
                   r.session_token)


@dataclasses.dataclass(frozen=True)
class UnsealResult(_Record):
    """unseal(): whether a keystore was created, and whether the daemon was
    already unsealed (nothing changed)."""
    created: bool
    already_unsealed: bool


@dataclasses.dataclass(frozen=True)
class SignedJwt:
    """sign_jwt(): the compact token (a bearer secret: not in repr), its
    jti, signing version, iat and exp, and "tokens/{jti}" if recorded."""
    token: str = dataclasses.field(repr=False)
    jti: str = ""
    key_version: str = ""
    issue_time: Optional[datetime.datetime] = None
    expire_time: Optional[datetime.datetime] = None
    record_name: str = ""

    @classmethod
    def from_pb(cls, r: jwt_service_pb2.SignJwtResponse) -> "SignedJwt":
        return cls(r.token, r.jti, r.key_version,
                   _util.to_datetime(r, "issue_time"),
                   _util.to_datetime(r, "expire_time"), r.record_name)


def _json_or_none(text: str) -> Optional[Dict[str, Any]]:
    return json.loads(text) if text else None


@dataclasses.dataclass(frozen=True)
class JwtVerdict:
    """verify_jwt(): valid, or the failure's short name ("EXPIRED",
    "BAD_SIGNATURE", ...; see JwtFailure) and detail. header and claims are
    set only for a valid token. True in a boolean context iff valid."""
    valid: bool
    failure: str
    failure_detail: str
    header: Optional[Dict[str, Any]]
    claims: Optional[Dict[str, Any]]
    key_version: str

    def __bool__(self) -> bool:
        return self.valid

    @classmethod
    def from_pb(cls, r: jwt_service_pb2.VerifyJwtResponse) -> "JwtVerdict":
        return cls(r.valid,
                   _util.enum_name(jwt_service_pb2.JwtFailure, "JWT_FAILURE_",
                                   r.failure),
                   r.failure_detail, _json_or_none(r.header_json),
                   _json_or_none(r.claims_json), r.key_version)


@dataclasses.dataclass(frozen=True)
class EncryptedJwe:
    """encrypt_jwe(): the compact JWE, the recipient version, and the nested
    signing result when a JWT was signed first."""
    token: str
    key_version: str
    nested: Optional[SignedJwt]

    @classmethod
    def from_pb(cls, r: jwt_service_pb2.EncryptJweResponse) -> "EncryptedJwe":
        nested = SignedJwt.from_pb(r.nested) if r.HasField("nested") else None
        return cls(r.token, r.key_version, nested)


@dataclasses.dataclass(frozen=True)
class DecryptedJwe:
    """decrypt_jwe(): the plaintext (not in repr), the JWE header, the
    version that decrypted and, with verify_nested, the nested verdict."""
    payload: bytes = dataclasses.field(repr=False)
    header: Optional[Dict[str, Any]] = None
    key_version: str = ""
    nested: Optional[JwtVerdict] = None

    @classmethod
    def from_pb(cls, r: jwt_service_pb2.DecryptJweResponse) -> "DecryptedJwe":
        nested = JwtVerdict.from_pb(r.nested) if r.HasField("nested") else None
        return cls(r.payload, _json_or_none(r.header_json), r.key_version,
                   nested)
