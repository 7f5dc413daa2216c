// Argument checks and conversions shared by the service methods. Nothing
// here makes a call: every check throws a TypeError or RangeError naming
// the argument before one is made. Secret values are never shown.
'use strict';

const fs = require('node:fs');

// 'GetJwks' -> 'getJwks', 'WhoAmI' -> 'whoAmI' (the naming rule the
// coverage test checks).
function camelCase(rpcName) {
  return rpcName.charAt(0).toLowerCase() + rpcName.slice(1);
}

function describe(value) {
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return 'Buffer';
  return typeof value;
}

// Refuses options not in `allowed` (a requested option is honoured or
// refused, never ignored).
function checkOptions(method, opts, allowed) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new TypeError(`${method}: options must be an object, not ${describe(opts)}`);
  }
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k) && k !== 'timeout') {
      throw new TypeError(`${method}: unknown option '${k}'; one of: ` +
                          [...allowed, 'timeout'].join(', '));
    }
  }
  return opts;
}

function str(value, what, {optional = false} = {}) {
  if (value === undefined || value === null) {
    if (optional) return '';
    throw new TypeError(`${what} is required (a string)`);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${what} must be a string, not ${describe(value)}`);
  }
  return value;
}

function bool(value, what) {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') {
    throw new TypeError(`${what} must be a boolean, not ${describe(value)}`);
  }
  return value;
}

function int(value, what, {min = 0, max = Number.MAX_SAFE_INTEGER} = {}) {
  if (value === undefined || value === null) return 0;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} must be an integer from ${min} to ${max}, ` +
                         `not ${typeof value === 'number' ? value : describe(value)}`);
  }
  return value;
}

// 'pay' -> 'keys/pay'; 'keys/pay' and 'keys/pay/versions/2' unchanged.
function keyName(key, what = 'key') {
  if (typeof key !== 'string' || key === '') {
    throw new TypeError(`${what} must be a non-empty key name string, not ${describe(key)}`);
  }
  return key.startsWith('keys/') ? key : `keys/${key}`;
}

// ('pay', 2) -> 'keys/pay/versions/2'; 'keys/pay/versions/2' unchanged.
function versionName(key, number) {
  const name = keyName(key);
  if (number === undefined || number === null) {
    if (!name.includes('/versions/')) {
      throw new TypeError(`${key} names no version: pass a number or "keys/ID/versions/N"`);
    }
    return name;
  }
  int(number, 'version number', {min: 1, max: 0xffffffff});
  return `${name}/versions/${number}`;
}

// 'p1' -> 'policies/p1' (prefix 'policies/'); full names unchanged.
function prefixed(prefix, value, what) {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${what} must be a non-empty string, not ${describe(value)}`);
  }
  return value.startsWith(prefix) ? value : prefix + value;
}

// An enum value name from its short ('ED25519', 'ed25519', 'ecdsa-p256')
// or full name ('KEY_TYPE_ED25519'). `names` are the enum's value names.
function enumValue(names, prefix, typeName, value, what) {
  if (typeof value === 'string') {
    let text = value.trim().toUpperCase().replace(/-/g, '_');
    if (!text.startsWith(prefix)) text = prefix + text;
    if (names.includes(text) && !text.endsWith('_UNSPECIFIED')) return text;
  }
  const accepted = names.filter((n) => !n.endsWith('_UNSPECIFIED'))
      .map((n) => n.slice(prefix.length));
  throw new TypeError(`unknown ${typeName} ${JSON.stringify(value)} for ${what}; ` +
                      `one of: ${accepted.join(', ')}`);
}

function isBytes(value) {
  return Buffer.isBuffer(value) || value instanceof Uint8Array;
}

// A Buffer from a Buffer or Uint8Array; a string is refused (say
// Buffer.from(text) explicitly).
function bytes(value, what, {optional = false} = {}) {
  if ((value === undefined || value === null) && optional) return Buffer.alloc(0);
  if (!isBytes(value)) {
    throw new TypeError(`${what} must be a Buffer or Uint8Array, not ${describe(value)}`);
  }
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

// A secret from a Buffer or from a file (one trailing newline removed, as
// keywardd reads its passphrase file). Exactly one; never shown.
function secret(value, file, what, {required = true} = {}) {
  const hasValue = value !== undefined && value !== null;
  const hasFile = file !== undefined && file !== null;
  if (hasValue && hasFile) {
    throw new TypeError(`give ${what} either as a Buffer or as a file, not both`);
  }
  if (hasFile) {
    if (typeof file !== 'string') {
      throw new TypeError(`the ${what} file must be a path string, not ${describe(file)}`);
    }
    let data;
    try {
      data = fs.readFileSync(file);
    } catch (e) {
      throw new TypeError(`cannot read the ${what} file ${JSON.stringify(file)}: ${e.code}`);
    }
    if (data.length && data[data.length - 1] === 0x0a) {
      const cut = data.length > 1 && data[data.length - 2] === 0x0d ? 2 : 1;
      data = data.subarray(0, data.length - cut);
    }
    return data;
  }
  if (!hasValue) {
    if (required) throw new TypeError(`${what} is required (a Buffer, or a file)`);
    return Buffer.alloc(0);
  }
  if (!isBytes(value)) {
    throw new TypeError(`${what} must be a Buffer or Uint8Array (or a file), ` +
                        `not ${describe(value)}`);
  }
  return Buffer.from(value);
}

// Sets on `message` the one field of `choices` that is given.
function oneOf(message, choices, what) {
  const given = Object.entries(choices).filter(([, v]) => v !== undefined && v !== null);
  if (given.length !== 1) {
    throw new TypeError(`give exactly one of ${Object.keys(choices).join(' and ')}` +
                        (what ? ` (${what})` : ''));
  }
  const [name, value] = given[0];
  message[name] = bytes(value, name);
}

// A google.protobuf.Duration from seconds; undefined stays undefined.
function duration(seconds, what) {
  if (seconds === undefined || seconds === null) return undefined;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new TypeError(`${what} must be a number of seconds, not ${describe(seconds)}`);
  }
  const whole = Math.trunc(seconds);
  return {seconds: String(whole), nanos: Math.round((seconds - whole) * 1e9)};
}

// A google.protobuf.Timestamp from a Date; undefined stays undefined.
function timestamp(date, what) {
  if (date === undefined || date === null) return undefined;
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new TypeError(`${what} must be a valid Date, not ${describe(date)}`);
  }
  const ms = date.getTime();
  return {seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6};
}

// A Date from a Timestamp result; null if unset.
function toDate(ts) {
  if (!ts || (Number(ts.seconds) === 0 && !ts.nanos)) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos || 0) / 1e6));
}

// Claims as JSON text: an object is stringified; a string passed as given.
function claimsJson(claims) {
  if (claims === undefined || claims === null) return '';
  if (typeof claims === 'string') return claims;
  if (typeof claims === 'object' && !Array.isArray(claims) && !isBytes(claims)) {
    return JSON.stringify(claims);
  }
  throw new TypeError(`claims must be an object or JSON text, not ${describe(claims)}`);
}

function jsonOrNull(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return null; }
}

// {a: 'b'} string map, checked.
function labels(value, what) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object of strings, not ${describe(value)}`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new TypeError(`${what}.${k} must be a string`);
  }
  return {...value};
}

module.exports = {
  camelCase, checkOptions, str, bool, int, keyName, versionName, prefixed,
  enumValue, bytes, secret, oneOf, duration, timestamp, toDate, claimsJson,
  jsonOrNull, labels, describe,
};
