"""Conversions shared by every service mixin: resource names, enum names,
secrets from files or bytes, durations and timestamps. Nothing here makes a
call; every check raises ValueError or TypeError before one is made."""

import datetime
import json
import os
import re
from typing import Any, Iterable, List, Mapping, Optional, Union

from google.protobuf import duration_pb2, timestamp_pb2

PathLike = Union[str, "os.PathLike[str]"]
Seconds = Union[int, float, datetime.timedelta]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# json.dumps(..., separators=(",", ":")), without a new encoder per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
# The C encoder that _COMPACT_JSON.encode makes anew at each call (a
# quarter of its cost for a small dict), made once; without the circular
# reference check (markers None), so that a RecursionError, which a cycle
# also raises, goes back to _COMPACT_JSON for its error (ValueError).
try:
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover (CPython has _json)
    _c_make_encoder = None
_FAST_JSON = _c_make_encoder and _c_make_encoder(
    None, _COMPACT_JSON.default, json.encoder.encode_basestring_ascii, None,
    ":", ",", False, False, True)


def snake_case(rpc_name: str) -> str:
    """The Python method name of an RPC: "GetJwks" -> "get_jwks",
    "WhoAmI" -> "who_am_i" (the naming rule the coverage test checks)."""
    return _CAMEL.sub("_", rpc_name).lower()


def key_name(key: str) -> str:
    """"pay" -> "keys/pay"; "keys/pay" and "keys/pay/versions/2" unchanged."""
    if not isinstance(key, str) or not key:
        raise ValueError("a key name must be a non-empty string, not %r"
                         % (key,))
    return key if key.startswith("keys/") else "keys/" + key


def version_name(key: str, number: Optional[int] = None) -> str:
    """("pay", 2) -> "keys/pay/versions/2"; ("pay/versions/2") and
    ("keys/pay/versions/2") -> the same."""
    name = key_name(key)
    if number is None:
        if "/versions/" not in name:
            raise ValueError("%r names no version: pass number= or "
                             "\"keys/ID/versions/N\"" % key)
        return name
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError("a version number is an int >= 1, not %r"
                         % (number,))
    return "%s/versions/%d" % (name, number)


def prefixed(prefix: str, value: str) -> str:
    """"p1" -> "policies/p1" (prefix "policies/"); full names unchanged."""
    if not isinstance(value, str) or not value:
        raise ValueError("a %sID name must be a non-empty string, not %r"
                         % (prefix, value))
    return value if value.startswith(prefix) else prefix + value


def enum_value(enum_type: Any, prefix: str, value: Union[str, int]) -> int:
    """An enum number from its short name ("ED25519"), full name
    ("KEY_TYPE_ED25519") or number. ValueError naming the value and the
    accepted names otherwise."""
    names = [n[len(prefix):] for n in enum_type.keys()
             if not n.endswith("_UNSPECIFIED")]
    if isinstance(value, int) and not isinstance(value, bool):
        if value in enum_type.values():
            return value
    elif isinstance(value, str):
        text = value.strip().upper().replace("-", "_")
        if not text.startswith(prefix):
            text = prefix + text
        if text in enum_type.keys():
            return enum_type.Value(text)
    raise ValueError("unknown %s %r; one of: %s" % (
        enum_type.DESCRIPTOR.name, value, ", ".join(names)))


def optional_enum(enum_type: Any, prefix: str,
                  value: Union[str, int, None]) -> int:
    """enum_value, with None meaning 0 (UNSPECIFIED)."""
    return 0 if value is None else enum_value(enum_type, prefix, value)


def enum_name(enum_type: Any, prefix: str, number: int) -> str:
    """The short name of an enum number ("ED25519"); "" for 0."""
    if not number:
        return ""
    try:
        return enum_type.Name(number)[len(prefix):]
    except ValueError:
        return str(number)


def read_secret(value: Union[bytes, bytearray, str, None],
                path: Optional[PathLike], what: str,
                required: bool = True) -> bytes:
    """A secret from bytes or from a file (one trailing newline removed, as
    keywardd reads its passphrase file). Exactly one of value and path;
    neither is ever shown in an error."""
    if value is not None and path is not None:
        raise ValueError("give %s either as bytes or as a file, not both"
                         % what)
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ValueError("cannot read the %s file %r: %s"
                             % (what, os.fspath(path), e.strerror)) from None
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        return data
    if value is None:
        if required:
            raise ValueError("%s is required (bytes, or a file)" % what)
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("%s must be bytes, not %s" % (what, type(value).__name__))


def as_bytes(value: Any, what: str) -> bytes:
    """bytes, bytearray or memoryview as bytes; TypeError otherwise (a str
    is refused: say .encode() explicitly)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("%s must be bytes, not %s" % (what, type(value).__name__))


def set_one_of(message: Any, **choices: Optional[bytes]) -> None:
    """Sets the one bytes field of a oneof that is given (not None);
    ValueError unless exactly one is."""
    given = [(name, v) for name, v in choices.items() if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of %s" % " and ".join(choices))
    name, value = given[0]
    setattr(message, name, as_bytes(value, name))


def duration(value: Optional[Seconds], what: str
             ) -> Optional[duration_pb2.Duration]:
    """A Duration from seconds or a timedelta; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError("%s must be seconds or a timedelta, not %r"
                        % (what, value))
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d


def timestamp(value: Optional[datetime.datetime], what: str
              ) -> Optional[timestamp_pb2.Timestamp]:
    """A Timestamp from an aware datetime (naive ones are refused)."""
    if value is None:
        return None
    if not isinstance(value, datetime.datetime) or value.tzinfo is None:
        raise ValueError("%s must be a timezone-aware datetime" % what)
    t = timestamp_pb2.Timestamp()
    t.FromDatetime(value.astimezone(datetime.timezone.utc))
    return t


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_datetime(message: Any, field: str) -> Optional[datetime.datetime]:
    """The aware UTC datetime of a Timestamp field (microseconds, rounded
    toward zero, as Timestamp.ToDatetime); None if unset."""
    if not message.HasField(field):
        return None
    t = getattr(message, field)
    nanos = t.nanos
    micros = nanos // 1000 if nanos >= 0 else -(-nanos // 1000)
    return _EPOCH + datetime.timedelta(seconds=t.seconds, microseconds=micros)


def claims_json(claims: Union[Mapping[str, Any], str, bytes, None]) -> str:
    """Claims as a JSON object text: a mapping is dumped compactly; a str or
    bytes is passed as given (the daemon checks it)."""
    if type(claims) is dict:  # the usual case, first
        if _FAST_JSON is not None:
            try:
                return "".join(_FAST_JSON(claims, 0))
            except RecursionError:
                pass
        return _COMPACT_JSON.encode(claims)
    if claims is None:
        return ""
    if isinstance(claims, bytes):
        return claims.decode()
    if isinstance(claims, str):
        return claims
    if isinstance(claims, Mapping):
        return _COMPACT_JSON.encode(dict(claims))
    raise TypeError("claims must be a mapping or JSON text, not %s"
                    % type(claims).__name__)


def names_list(keys: Union[str, Iterable[str]]) -> List[str]:
    """One key name or several, each with the "keys/" shorthand."""
    if isinstance(keys, str):
        return [key_name(keys)]
    return [key_name(k) for k in keys]
