// JwtService methods (JWS tokens, JWK Sets, JWE, token records). Calls that
// keep a token record, and revokeToken, are never retried; the others are
// retried on UNAVAILABLE. Errors of every method (beyond its own, in
// index.d.ts): UnauthenticatedError, PermissionDeniedError,
// ResourceExhaustedError, UnavailableError, DataLossError;
// TypeError/RangeError before any call.
'use strict';

const util = require('./util');

const S = 'JwtService';
const SIGN_OPTIONS = ['ttl', 'typ', 'record', 'externalId', 'metadata', 'storeToken',
  'retention'];
const VERIFY_OPTIONS = ['key', 'issuer', 'audience', 'typ', 'leeway', 'allowMissingExp',
  'maxAgeWithoutExp'];

function signJwtRequest(key, claims, o) {
  const req = {name: util.keyName(key), claimsJson: util.claimsJson(claims),
    ttl: util.duration(o.ttl, 'ttl'), typ: util.str(o.typ, 'typ', {optional: true})};
  if (o.record || o.externalId !== undefined || o.metadata || o.storeToken ||
      o.retention !== undefined) {
    req.record = {
      externalId: util.str(o.externalId, 'externalId', {optional: true}),
      metadata: util.labels(o.metadata, 'metadata'),
      storeToken: util.bool(o.storeToken, 'storeToken'),
      retention: util.duration(o.retention, 'retention'),
    };
  }
  return req;
}

function verifyJwtRequest(token, o) {
  const req = {token, issuer: util.str(o.issuer, 'issuer', {optional: true}),
    audience: util.str(o.audience, 'audience', {optional: true}),
    typ: util.str(o.typ, 'typ', {optional: true}), leeway: util.duration(o.leeway, 'leeway'),
    allowMissingExp: util.bool(o.allowMissingExp, 'allowMissingExp'),
    maxAgeWithoutExp: util.duration(o.maxAgeWithoutExp, 'maxAgeWithoutExp')};
  if (o.key) req.name = util.keyName(o.key);
  return req;
}

function signedJwt(r) {
  return {token: r.token, jti: r.jti, keyVersion: r.keyVersion,
    issueTime: util.toDate(r.issueTime), expireTime: util.toDate(r.expireTime),
    recordName: r.recordName};
}

// The verdict: failure as its short name ('EXPIRED'), header and claims
// parsed.
function verdict(r) {
  return {valid: r.valid, failure: r.failure === 'JWT_FAILURE_UNSPECIFIED' ? '' :
    r.failure.replace(/^JWT_FAILURE_/, ''),
  failureDetail: r.failureDetail, header: util.jsonOrNull(r.headerJson),
  claims: util.jsonOrNull(r.claimsJson), keyVersion: r.keyVersion};
}

module.exports = {
  signJwt(key, claims, opts) {
    const o = util.checkOptions('signJwt', opts, SIGN_OPTIONS);
    const req = signJwtRequest(key, claims, o);
    return this._unary(S, 'SignJwt', req, signedJwt,
                       {idempotent: !req.record, timeout: o.timeout});
  },

  verifyJwt(token, opts) {
    const o = util.checkOptions('verifyJwt', opts, VERIFY_OPTIONS);
    const req = verifyJwtRequest(util.str(token, 'token'), o);
    return this._unary(S, 'VerifyJwt', req, verdict, {idempotent: true, timeout: o.timeout});
  },

  getJwks(keys, opts) {
    const o = util.checkOptions('getJwks', opts, []);
    const names = (typeof keys === 'string' ? [keys] : keys);
    if (!Array.isArray(names)) throw new TypeError('keys must be a key name or an array of them');
    return this._unary(S, 'GetJwks', {names: names.map((k) => util.keyName(k))},
                       (r) => JSON.parse(r.jwksJson), {idempotent: true, timeout: o.timeout});
  },

  encryptJwe(key, payload, opts) {
    const o = util.checkOptions('encryptJwe', opts, ['signWith', 'claims', 'ttl', 'algorithm',
      'encryption', 'typ', 'contentType']);
    const hasPayload = payload !== undefined && payload !== null;
    if (hasPayload === (o.signWith !== undefined)) {
      throw new TypeError('encryptJwe: give exactly one of payload and signWith');
    }
    const req = {name: util.keyName(key),
      algorithm: this._optionalEnum('JweAlgorithm', 'JWE_ALGORITHM_', o.algorithm, 'algorithm'),
      encryption: this._optionalEnum('JweEncryption', 'JWE_ENCRYPTION_', o.encryption,
                                     'encryption'),
      typ: util.str(o.typ, 'typ', {optional: true}),
      contentType: util.str(o.contentType, 'contentType', {optional: true})};
    if (hasPayload) req.payload = util.bytes(payload, 'payload');
    else req.nestedJwt = signJwtRequest(o.signWith, o.claims, {ttl: o.ttl});
    return this._unary(S, 'EncryptJwe', req, (r) => ({token: r.token,
      keyVersion: r.keyVersion, nested: r.nested ? signedJwt(r.nested) : null}),
    {idempotent: true, timeout: o.timeout});
  },

  decryptJwe(token, opts) {
    const o = util.checkOptions('decryptJwe', opts, ['key', 'verifyNested', 'nestedKey',
      'issuer', 'audience', 'typ', 'leeway']);
    const req = {token: util.str(token, 'token')};
    if (o.key) req.name = util.keyName(o.key);
    if (util.bool(o.verifyNested, 'verifyNested')) {
      req.verifyNested = verifyJwtRequest('', {...o, key: o.nestedKey});
    }
    return this._unary(S, 'DecryptJwe', req, (r) => ({payload: r.payload,
      header: util.jsonOrNull(r.headerJson), keyVersion: r.keyVersion,
      nested: r.nested ? verdict(r.nested) : null}), {idempotent: true, timeout: o.timeout});
  },

  getTokenRecord(jti, opts) {
    if (jti !== null && typeof jti === 'object') [jti, opts] = [undefined, jti];
    const o = util.checkOptions('getTokenRecord', opts, ['externalId', 'key']);
    if ((jti === undefined || jti === null) === (o.externalId === undefined)) {
      throw new TypeError('getTokenRecord: give exactly one of jti and externalId');
    }
    const req = jti !== undefined && jti !== null ?
      {name: util.prefixed('tokens/', jti, 'jti')} :
      {externalId: util.str(o.externalId, 'externalId')};
    if (o.key) req.key = util.keyName(o.key);
    return this._unary(S, 'GetTokenRecord', req, (r) => r.record,
                       {idempotent: true, timeout: o.timeout});
  },

  revokeToken(jti, reason, opts) {
    const o = util.checkOptions('revokeToken', opts, []);
    const req = {name: util.prefixed('tokens/', jti, 'jti'),
      reason: util.str(reason, 'reason', {optional: true})};
    return this._unary(S, 'RevokeToken', req, (r) => r.record,
                       {idempotent: false, timeout: o.timeout});
  },

  listTokenRecords(opts) {
    const o = util.checkOptions('listTokenRecords', opts, ['key', 'externalId', 'state',
      'pageSize']);
    const req = {pageSize: util.int(o.pageSize, 'pageSize', {max: 2 ** 31 - 1}),
      externalId: util.str(o.externalId, 'externalId', {optional: true}),
      state: this._optionalEnum('TokenState', 'TOKEN_STATE_', o.state, 'state')};
    if (o.key) req.key = util.keyName(o.key);
    return this._pages(S, 'ListTokenRecords', req, 'records', o.timeout);
  },
};
