"""KeyService methods (key lifecycle), written once for the sync and asyncio
clients (see _base.py). Reads are retried on UNAVAILABLE; changes never.

Errors (beyond each method's own): UnauthenticatedError,
PermissionDeniedError (missing the operation: READ for reads, ADMIN for
changes, ROTATE for rotation), ResourceExhaustedError, UnavailableError
(sealed, shutting down, audit write failed: nothing changed),
DataLossError; ValueError or TypeError before any call for a bad argument
(e.g. an unknown enum name).
"""

from typing import Any, Iterable, Iterator, List, Mapping, Optional, Union

from keyward import _util
from keyward._base import ClientBase
from keyward.types import ExportedKey, ImportedKey
from keyward.v1 import common_pb2
from keyward.v1 import key_service_pb2 as pb

_S = "KeyService"
Enum = Union[str, int]

# Fields a key template or an update may set: keyword -> update_mask path.
_MUTABLE = {
    "description": "description",
    "labels": "labels",
    "rotation_period": "rotation_period",
    "min_decryption_version": "min_decryption_version",
    "min_encryption_version": "min_encryption_version",
    "jwt_max_ttl": "jwt.max_ttl",
    "jwt_default_ttl": "jwt.default_ttl",
    "jwt_issuer": "jwt.issuer",
}


def _set_fields(key: common_pb2.Key, fields: Mapping[str, Any]) -> List[str]:
    """Sets the given (not None) mutable fields on `key`; returns their
    update_mask paths. ValueError for an unknown keyword."""
    paths = []
    for name, value in fields.items():
        if name not in _MUTABLE:
            raise ValueError("unknown key field %r; one of: %s"
                             % (name, ", ".join(sorted(_MUTABLE))))
        if value is None:
            continue
        paths.append(_MUTABLE[name])
        if name == "labels":
            key.labels.clear()
            key.labels.update(dict(value))
        elif name in ("rotation_period", "jwt_max_ttl", "jwt_default_ttl"):
            target = key if name == "rotation_period" else key.jwt
            getattr(target, name.replace("jwt_", "")).CopyFrom(
                _util.duration(value, name))
        elif name == "jwt_issuer":
            key.jwt.issuer = value
        else:
            setattr(key, name, value)
    return paths


def _template(key_type: Optional[Enum], purpose: Optional[Enum],
              algorithms: Optional[Iterable[Enum]],
              jwe_algorithm: Optional[Enum], exportable: bool,
              fields: Mapping[str, Any]) -> common_pb2.Key:
    key = common_pb2.Key(
        key_type=_util.optional_enum(common_pb2.KeyType, "KEY_TYPE_", key_type),
        jwe_algorithm=_util.optional_enum(common_pb2.JweAlgorithm,
                                          "JWE_ALGORITHM_", jwe_algorithm),
        exportable=exportable)
    if purpose is not None:
        key.purpose = _util.enum_value(common_pb2.KeyPurpose, "KEY_PURPOSE_",
                                       purpose)
    elif key.key_type:
        key.purpose = _default_purpose(key.key_type)
    for a in algorithms or ():
        key.signature_algorithms.append(_util.enum_value(
            common_pb2.SignatureAlgorithm, "SIGNATURE_ALGORITHM_", a))
    _set_fields(key, fields)
    return key


def _default_purpose(key_type: int) -> int:
    name = common_pb2.KeyType.Name(key_type)
    if name in ("KEY_TYPE_AES256_GCM", "KEY_TYPE_X25519",
                "KEY_TYPE_XSALSA20_POLY1305", "KEY_TYPE_XCHACHA20_POLY1305"):
        return common_pb2.KEY_PURPOSE_ENCRYPT_DECRYPT
    if name.startswith("KEY_TYPE_HMAC_"):
        return common_pb2.KEY_PURPOSE_MAC
    if name == "KEY_TYPE_ECDH_P256":
        return common_pb2.KEY_PURPOSE_JWE
    return common_pb2.KEY_PURPOSE_SIGN_VERIFY


def _key(r: Any) -> common_pb2.Key:
    return r.key


def _version(r: Any) -> common_pb2.KeyVersion:
    return r.version


class KeysMixin(ClientBase):
    """The KeyService methods of keyward.Client and keyward.aio.Client."""

    def create_key(self, key_id: str, key_type: Enum,
                   purpose: Optional[Enum] = None, *,
                   algorithms: Optional[Iterable[Enum]] = None,
                   jwe_algorithm: Optional[Enum] = None,
                   exportable: bool = False,
                   timeout: Optional[float] = None,
                   **fields: Any) -> common_pb2.Key:
        """Creates keys/{key_id} with a generated version 1; returns the
        keyward.v1.Key. key_type: e.g. "ED25519", "ECDSA_P256", "RSA_2048",
        "AES256_GCM", "HMAC_SHA256", "ECDH_P256". purpose: e.g. "JWT";
        None picks SIGN_VERIFY for signing types, ENCRYPT_DECRYPT for AES,
        MAC for HMAC, JWE for ECDH. algorithms: signature algorithms, the
        first the default. fields: description, labels, rotation_period,
        jwt_max_ttl, jwt_default_ttl, jwt_issuer (seconds or timedelta for
        durations). Errors: InvalidArgumentError (bad id, type/purpose pair,
        limits); AlreadyExistsError."""
        req = pb.CreateKeyRequest(key_id=key_id, key=_template(
            key_type, purpose, algorithms, jwe_algorithm, exportable, fields))
        return self._unary(_S, "CreateKey", req, _key, idempotent=False,
                           timeout=timeout)

    def get_key(self, key: str, *,
                timeout: Optional[float] = None) -> common_pb2.Key:
        """The key's metadata (keyward.v1.Key). Errors: InvalidArgumentError
        (bad name); NotFoundError."""
        req = pb.GetKeyRequest(name=_util.key_name(key))
        return self._unary(_S, "GetKey", req, _key, idempotent=True,
                           timeout=timeout)

    def list_keys(self, *, prefix: Optional[str] = None,
                  labels: Optional[Mapping[str, str]] = None,
                  purpose: Optional[Enum] = None, page_size: int = 0,
                  timeout: Optional[float] = None) -> Iterator[common_pb2.Key]:
        """Iterates over the keys the caller holds any operation on, by
        name, following next_page_token; prefix: "pay" or "keys/pay"
        (name prefix); labels: each must match (empty value: any); purpose:
        e.g. "JWT". Errors (while iterating): InvalidArgumentError."""
        req = pb.ListKeysRequest(
            page_size=page_size, labels=dict(labels or {}),
            purpose=_util.optional_enum(common_pb2.KeyPurpose, "KEY_PURPOSE_",
                                        purpose))
        if prefix:
            req.name_prefix = _util.key_name(prefix)
        return self._pages(_S, "ListKeys", req, "keys", timeout=timeout)

    def update_key(self, key: str, *, timeout: Optional[float] = None,
                   **fields: Any) -> common_pb2.Key:
        """Changes the given fields (description, labels (replaced whole),
        rotation_period (0 stops it), min_decryption_version,
        min_encryption_version, jwt_max_ttl, jwt_default_ttl, jwt_issuer);
        returns the key. ValueError if none is given. Errors:
        InvalidArgumentError (value out of range); NotFoundError;
        FailedPreconditionError (minimum above primary version)."""
        msg = common_pb2.Key(name=_util.key_name(key))
        mask = _set_fields(msg, fields)
        if not mask:
            raise ValueError("update_key needs at least one field to change")
        req = pb.UpdateKeyRequest(key=msg, update_mask=mask)
        return self._unary(_S, "UpdateKey", req, _key, idempotent=False,
                           timeout=timeout)

    def rotate_key(self, key: str, *, timeout: Optional[float] = None
                   ) -> common_pb2.KeyVersion:
        """Generates a new version and makes it primary; returns it
        (keyward.v1.KeyVersion). Errors: InvalidArgumentError;
        NotFoundError; FailedPreconditionError (public-only key);
        ResourceExhaustedError (10000 versions)."""
        return self._unary(_S, "RotateKey",
                           pb.RotateKeyRequest(name=_util.key_name(key)),
                           _version, idempotent=False, timeout=timeout)

    def rotate(self, key: str, *, timeout: Optional[float] = None) -> str:
        """rotate_key(key).name: the new primary version's name
        ("keys/{id}/versions/{n}"). Errors: as rotate_key()."""
        return self._then(self.rotate_key(key, timeout=timeout),
                          lambda v: v.name)

    def list_key_versions(self, key: str, *, state: Optional[Enum] = None,
                          page_size: int = 0, timeout: Optional[float] = None
                          ) -> Iterator[common_pb2.KeyVersion]:
        """Iterates over the key's versions by number; state: e.g.
        "ENABLED". Errors (while iterating): InvalidArgumentError;
        NotFoundError."""
        req = pb.ListKeyVersionsRequest(
            parent=_util.key_name(key), page_size=page_size,
            state=_util.optional_enum(common_pb2.VersionState,
                                      "VERSION_STATE_", state))
        return self._pages(_S, "ListKeyVersions", req, "versions",
                           timeout=timeout)

    def get_key_version(self, key: str, number: Optional[int] = None, *,
                        timeout: Optional[float] = None
                        ) -> common_pb2.KeyVersion:
        """One version's metadata: get_key_version("pay", 2) or
        ("keys/pay/versions/2"). Errors: InvalidArgumentError;
        NotFoundError."""
        req = pb.GetKeyVersionRequest(name=_util.version_name(key, number))
        return self._unary(_S, "GetKeyVersion", req, _version, idempotent=True,
                           timeout=timeout)

    def disable_key_version(self, key: str, number: Optional[int] = None, *,
                            timeout: Optional[float] = None
                            ) -> common_pb2.KeyVersion:
        """Makes a version unusable until re-enabled; returns it. Errors:
        InvalidArgumentError; NotFoundError; FailedPreconditionError (the
        primary version, a destroyed one)."""
        return self._version_change("Disable", key, number, timeout)

    def enable_key_version(self, key: str, number: Optional[int] = None, *,
                           timeout: Optional[float] = None
                           ) -> common_pb2.KeyVersion:
        """Makes a disabled version usable again; returns it. Errors:
        InvalidArgumentError; NotFoundError; FailedPreconditionError
        (destroyed)."""
        return self._version_change("Enable", key, number, timeout)

    def destroy_key_version(self, key: str, number: Optional[int] = None, *,
                            timeout: Optional[float] = None
                            ) -> common_pb2.KeyVersion:
        """Wipes a disabled version's material, irreversibly; returns it.
        Errors: InvalidArgumentError; NotFoundError;
        FailedPreconditionError (not disabled first)."""
        return self._version_change("Destroy", key, number, timeout)

    def import_key(self, material: Optional[bytes] = None, format: Enum = "",
                   *, key_id: Optional[str] = None, into: Optional[str] = None,
                   material_file: Optional[_util.PathLike] = None,
                   key_type: Optional[Enum] = None,
                   purpose: Optional[Enum] = None,
                   passphrase: Optional[bytes] = None,
                   passphrase_file: Optional[_util.PathLike] = None,
                   kid: str = "", algorithms: Optional[Iterable[Enum]] = None,
                   jwe_algorithm: Optional[Enum] = None,
                   exportable: bool = False, allow_short_secret: bool = False,
                   timeout: Optional[float] = None,
                   **fields: Any) -> ImportedKey:
        """Imports key material (bytes or material_file) as a new key
        `key_id` or as a new primary version of the existing key `into`
        (exactly one). format: "PRIVATE_KEY_PEM", "PRIVATE_KEY_DER",
        "RAW_SECRET", "PUBLIC_KEY_PEM", "PUBLIC_KEY_DER", "PUBLIC_KEY_JWK".
        passphrase(_file): of an encrypted PKCS#8. algorithms: for a JWT
        key its one JWS algorithm (e.g. ["RSA_PSS_SHA384"] for PS384; a
        PUBLIC_KEY_JWK's "alg" otherwise). allow_short_secret: accept an
        HMAC secret below RFC 7518's minimum (the key is then marked
        legacy_short_secret). Other arguments as create_key(). Returns
        ImportedKey(key, version). Errors: InvalidArgumentError
        (unparseable or weak material, a short secret without
        allow_short_secret, wrong passphrase, type mismatch, an algorithm
        the material cannot have, bad kid); AlreadyExistsError (key_id or
        kid taken); NotFoundError (into); FailedPreconditionError."""
        if (key_id is None) == (into is None):
            raise ValueError("give exactly one of key_id and into")
        req = pb.ImportKeyRequest(
            format=_util.enum_value(pb.KeyMaterialFormat,
                                    "KEY_MATERIAL_FORMAT_", format),
            material=_util.read_secret(material, material_file,
                                       "key material"),
            passphrase=_util.read_secret(passphrase, passphrase_file,
                                         "passphrase", required=False),
            kid=kid, allow_short_secret=bool(allow_short_secret))
        if key_id is not None:
            req.key_id = key_id
            req.key.CopyFrom(_template(key_type, purpose, algorithms,
                                       jwe_algorithm, exportable, fields))
        else:
            req.name = _util.key_name(into)  # type: ignore[arg-type]
        return self._unary(_S, "ImportKey", req, ImportedKey.from_pb,
                           idempotent=False, timeout=timeout)

    def export_key(self, key: str, *, format: Optional[Enum] = None,
                   passphrase: Optional[bytes] = None,
                   passphrase_file: Optional[_util.PathLike] = None,
                   timeout: Optional[float] = None) -> ExportedKey:
        """The private or secret material of an exportable key's primary
        (or named) version: PKCS#8 ("PRIVATE_KEY_PEM"/"PRIVATE_KEY_DER",
        encrypted with passphrase if given, 12 to 1024 bytes) or
        "RAW_SECRET". Errors: InvalidArgumentError (format, passphrase);
        NotFoundError; FailedPreconditionError (not exportable, public-only,
        destroyed)."""
        req = pb.ExportKeyRequest(
            name=_util.key_name(key),
            format=_util.optional_enum(pb.KeyMaterialFormat,
                                       "KEY_MATERIAL_FORMAT_", format),
            passphrase=_util.read_secret(passphrase, passphrase_file,
                                         "passphrase", required=False))
        return self._unary(_S, "ExportKey", req, ExportedKey.from_pb,
                           idempotent=False, timeout=timeout)

    def _version_change(self, verb: str, key: str, number: Optional[int],
                        timeout: Optional[float]) -> Any:
        """{verb}KeyVersion: Disable, Enable or Destroy."""
        method = verb + "KeyVersion"
        request = getattr(pb, method + "Request")(
            name=_util.version_name(key, number))
        return self._unary(_S, method, request, _version, idempotent=False,
                           timeout=timeout)
