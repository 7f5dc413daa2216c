// CryptoService methods. None changes state, so each is retried on
// UNAVAILABLE. Errors of every method (beyond its own, in index.d.ts):
// UnauthenticatedError, PermissionDeniedError, ResourceExhaustedError,
// UnavailableError, DataLossError; TypeError/RangeError before any call
// for a bad argument.
'use strict';

const util = require('./util');
const {errorFor} = require('./errors');

const S = 'CryptoService';
const FORMATS = {pem: 'PUBLIC_KEY_FORMAT_PEM', der: 'PUBLIC_KEY_FORMAT_DER',
  jwk: 'PUBLIC_KEY_FORMAT_JWK'};

function algorithm(client, value) {
  return client._optionalEnum('SignatureAlgorithm', 'SIGNATURE_ALGORITHM_', value,
                              'algorithm');
}

function signRequest(client, key, data, digest, alg) {
  const req = {name: util.keyName(key), algorithm: algorithm(client, alg)};
  util.oneOf(req, {data, digest});
  return req;
}

function verifyRequest(client, key, data, signature, o = {}) {
  const req = {name: util.keyName(key), algorithm: algorithm(client, o.algorithm)};
  util.oneOf(req, {data, digest: o.digest});
  util.oneOf(req, {signature, rawSignature: o.rawSignature});
  return req;
}

function encryptRequest(key, plaintext, associatedData) {
  return {name: util.keyName(key), plaintext: util.bytes(plaintext, 'plaintext'),
    associatedData: util.bytes(associatedData, 'associatedData', {optional: true})};
}

function decryptRequest(key, ciphertext, associatedData, rawCiphertext) {
  const req = {name: util.keyName(key),
    associatedData: util.bytes(associatedData, 'associatedData', {optional: true})};
  util.oneOf(req, {ciphertext, rawCiphertext});
  return req;
}

const valid = (r) => r.valid;

// Each item's {value} or {error} (a KeywardError), in order.
function batchResults(method, convert) {
  return (response) => response.results.map((r) => (r.status && r.status.code ?
    {value: null, error: errorFor(r.status.code, r.status.message, `${S}/${method}`)} :
    {value: convert(r.response), error: null}));
}

function items(list, what) {
  if (!Array.isArray(list)) throw new TypeError(`${what} must be an array of arrays`);
  return list.map((item, i) => {
    if (!Array.isArray(item)) throw new TypeError(`${what}[${i}] must be an array`);
    return item;
  });
}

module.exports = {
  sign(key, data, opts) {
    const o = util.checkOptions('sign', opts, ['digest', 'algorithm']);
    return this._unary(S, 'Sign', signRequest(this, key, data, o.digest, o.algorithm),
                       (r) => r, {idempotent: true, timeout: o.timeout});
  },

  verify(key, data, signature, opts) {
    const o = util.checkOptions('verify', opts, ['digest', 'rawSignature', 'algorithm']);
    return this._unary(S, 'Verify', verifyRequest(this, key, data, signature, o),
                       valid, {idempotent: true, timeout: o.timeout});
  },

  // opts.raw: the bare ciphertext in the key type's own format (NaCl's for
  // XSALSA20_POLY1305, XCHACHA20_POLY1305 and X25519 sealed boxes).
  encrypt(key, plaintext, associatedData, opts) {
    const o = util.checkOptions('encrypt', opts, ['raw']);
    const raw = util.bool(o.raw, 'raw');
    return this._unary(S, 'Encrypt', encryptRequest(key, plaintext, associatedData),
                       (r) => (raw ? r.rawCiphertext : r.ciphertext),
                       {idempotent: true, timeout: o.timeout});
  },

  // A NaCl crypto_box from an X25519 key to a peer's raw 32-byte public key.
  box(key, peerPublicKey, plaintext, opts) {
    const o = util.checkOptions('box', opts, []);
    const req = {name: util.keyName(key),
      peerPublicKey: util.bytes(peerPublicKey, 'peerPublicKey'),
      plaintext: util.bytes(plaintext, 'plaintext')};
    return this._unary(S, 'Box', req, (r) => r, {idempotent: true, timeout: o.timeout});
  },

  // Opens a NaCl box (nonce || box, or the bare box with opts.nonce).
  boxOpen(key, peerPublicKey, ciphertext, opts) {
    const o = util.checkOptions('boxOpen', opts, ['nonce']);
    const req = {name: util.keyName(key),
      peerPublicKey: util.bytes(peerPublicKey, 'peerPublicKey'),
      ciphertext: util.bytes(ciphertext, 'ciphertext')};
    if (o.nonce !== undefined) req.nonce = util.bytes(o.nonce, 'nonce');
    return this._unary(S, 'BoxOpen', req, (r) => r.plaintext,
                       {idempotent: true, timeout: o.timeout});
  },

  decrypt(key, ciphertext, associatedData, opts) {
    const o = util.checkOptions('decrypt', opts, ['rawCiphertext']);
    return this._unary(S, 'Decrypt',
                       decryptRequest(key, ciphertext, associatedData, o.rawCiphertext),
                       (r) => r.plaintext, {idempotent: true, timeout: o.timeout});
  },

  mac(key, data, opts) {
    const o = util.checkOptions('mac', opts, []);
    const req = {name: util.keyName(key), data: util.bytes(data, 'data')};
    return this._unary(S, 'Mac', req, (r) => r, {idempotent: true, timeout: o.timeout});
  },

  verifyMac(key, data, mac, opts) {
    const o = util.checkOptions('verifyMac', opts, ['rawMac']);
    const req = {name: util.keyName(key), data: util.bytes(data, 'data')};
    util.oneOf(req, {mac, rawMac: o.rawMac});
    return this._unary(S, 'VerifyMac', req, valid, {idempotent: true, timeout: o.timeout});
  },

  generateDataKey(key, opts) {
    const o = util.checkOptions('generateDataKey', opts,
                                ['length', 'associatedData', 'wrappedOnly']);
    const req = {name: util.keyName(key),
      lengthBytes: o.length === undefined ? 32 : util.int(o.length, 'length', {max: 1024}),
      associatedData: util.bytes(o.associatedData, 'associatedData', {optional: true}),
      wrappedOnly: util.bool(o.wrappedOnly, 'wrappedOnly')};
    return this._unary(S, 'GenerateDataKey', req, (r) => r,
                       {idempotent: true, timeout: o.timeout});
  },

  reEncrypt(key, ciphertext, associatedData, opts) {
    const o = util.checkOptions('reEncrypt', opts,
                                ['destination', 'destinationAssociatedData']);
    const req = {name: util.keyName(key), ciphertext: util.bytes(ciphertext, 'ciphertext'),
      associatedData: util.bytes(associatedData, 'associatedData', {optional: true})};
    if (o.destination !== undefined) req.destinationName = util.keyName(o.destination, 'destination');
    if (o.destinationAssociatedData !== undefined) {
      req.destinationAssociatedData = util.bytes(o.destinationAssociatedData,
                                                 'destinationAssociatedData');
    }
    return this._unary(S, 'ReEncrypt', req, (r) => r, {idempotent: true, timeout: o.timeout});
  },

  getPublicKey(key, opts) {
    const o = util.checkOptions('getPublicKey', opts, ['format']);
    const format = FORMATS[String(o.format ?? 'pem').toLowerCase()];
    if (!format) throw new TypeError(`format must be one of pem, der, jwk, not ${o.format}`);
    return this._unary(S, 'GetPublicKey', {name: util.keyName(key), format}, (r) => r,
                       {idempotent: true, timeout: o.timeout});
  },

  // getPublicKey(key, opts).publicKey: PEM or JWK text, or DER bytes.
  async publicKey(key, opts) {
    return (await this.getPublicKey(key, opts)).publicKey;
  },

  batchSign(list, opts) {
    const o = util.checkOptions('batchSign', opts, ['algorithm']);
    const requests = items(list, 'items').map(
        ([key, data]) => signRequest(this, key, data, undefined, o.algorithm));
    return this._batch('BatchSign', requests, (r) => r, o.timeout);
  },

  batchVerify(list, opts) {
    const o = util.checkOptions('batchVerify', opts, []);
    const requests = items(list, 'items').map(
        ([key, data, sig]) => verifyRequest(this, key, data, sig));
    return this._batch('BatchVerify', requests, valid, o.timeout);
  },

  batchEncrypt(list, opts) {
    const o = util.checkOptions('batchEncrypt', opts, []);
    const requests = items(list, 'items').map(([k, p, ad]) => encryptRequest(k, p, ad));
    return this._batch('BatchEncrypt', requests, (r) => r.ciphertext, o.timeout);
  },

  batchDecrypt(list, opts) {
    const o = util.checkOptions('batchDecrypt', opts, []);
    const requests = items(list, 'items').map(([k, c, ad]) => decryptRequest(k, c, ad));
    return this._batch('BatchDecrypt', requests, (r) => r.plaintext, o.timeout);
  },

  _batch(method, requests, convert, timeout) {
    return this._unary(S, method, {requests}, batchResults(method, convert),
                       {idempotent: true, timeout});
  },
};
