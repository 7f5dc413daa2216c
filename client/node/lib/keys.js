// KeyService methods (key lifecycle). Reads are retried on UNAVAILABLE;
// changes never. Errors of every method (beyond its own, in index.d.ts):
// UnauthenticatedError, PermissionDeniedError, ResourceExhaustedError,
// UnavailableError, DataLossError; TypeError/RangeError before any call.
'use strict';

const util = require('./util');

const S = 'KeyService';

// Key fields a template or an update may set: option -> update_mask path.
const MUTABLE = {
  description: 'description', labels: 'labels', rotationPeriod: 'rotation_period',
  minDecryptionVersion: 'min_decryption_version',
  minEncryptionVersion: 'min_encryption_version', jwtMaxTtl: 'jwt.max_ttl',
  jwtDefaultTtl: 'jwt.default_ttl', jwtIssuer: 'jwt.issuer',
};
const TEMPLATE = ['purpose', 'algorithms', 'jweAlgorithm', 'exportable',
  ...Object.keys(MUTABLE)];

// Sets the given mutable fields on `key`; returns their update_mask paths.
function setFields(key, o) {
  const paths = [];
  for (const name of Object.keys(MUTABLE)) {
    const value = o[name];
    if (value === undefined || value === null) continue;
    paths.push(MUTABLE[name]);
    if (name === 'labels') key.labels = util.labels(value, 'labels');
    else if (name === 'description') key.description = util.str(value, 'description');
    else if (name === 'rotationPeriod') key.rotationPeriod = util.duration(value, name);
    else if (name.startsWith('min')) key[name] = util.int(value, name, {max: 0xffffffff});
    else {
      key.jwt = key.jwt || {};
      if (name === 'jwtIssuer') key.jwt.issuer = util.str(value, name);
      else key.jwt[name === 'jwtMaxTtl' ? 'maxTtl' : 'defaultTtl'] = util.duration(value, name);
    }
  }
  return paths;
}

function defaultPurpose(keyType) {
  if (['KEY_TYPE_AES256_GCM', 'KEY_TYPE_X25519', 'KEY_TYPE_XSALSA20_POLY1305',
    'KEY_TYPE_XCHACHA20_POLY1305'].includes(keyType)) {
    return 'KEY_PURPOSE_ENCRYPT_DECRYPT';
  }
  if (keyType.startsWith('KEY_TYPE_HMAC_')) return 'KEY_PURPOSE_MAC';
  if (keyType === 'KEY_TYPE_ECDH_P256') return 'KEY_PURPOSE_JWE';
  return 'KEY_PURPOSE_SIGN_VERIFY';
}

function template(client, keyType, o) {
  const key = {
    keyType: client._optionalEnum('KeyType', 'KEY_TYPE_', keyType, 'keyType'),
    jweAlgorithm: client._optionalEnum('JweAlgorithm', 'JWE_ALGORITHM_', o.jweAlgorithm,
                                       'jweAlgorithm'),
    exportable: util.bool(o.exportable, 'exportable'),
  };
  if (o.purpose !== undefined && o.purpose !== null) {
    key.purpose = client._enum('KeyPurpose', 'KEY_PURPOSE_', o.purpose, 'purpose');
  } else if (key.keyType !== 'KEY_TYPE_UNSPECIFIED') {
    key.purpose = defaultPurpose(key.keyType);
  }
  if (o.algorithms !== undefined) {
    if (!Array.isArray(o.algorithms)) throw new TypeError('algorithms must be an array');
    key.signatureAlgorithms = o.algorithms.map((a) => client._enum(
        'SignatureAlgorithm', 'SIGNATURE_ALGORITHM_', a, 'algorithms'));
  }
  setFields(key, o);
  return key;
}

const keyOf = (r) => r.key;
const versionOf = (r) => r.version;

module.exports = {
  createKey(keyId, keyType, opts) {
    const o = util.checkOptions('createKey', opts, TEMPLATE);
    const req = {keyId: util.str(keyId, 'keyId'), key: template(this, keyType, o)};
    return this._unary(S, 'CreateKey', req, keyOf, {idempotent: false, timeout: o.timeout});
  },

  getKey(key, opts) {
    const o = util.checkOptions('getKey', opts, []);
    return this._unary(S, 'GetKey', {name: util.keyName(key)}, keyOf,
                       {idempotent: true, timeout: o.timeout});
  },

  listKeys(opts) {
    const o = util.checkOptions('listKeys', opts, ['prefix', 'labels', 'purpose', 'pageSize']);
    const req = {pageSize: util.int(o.pageSize, 'pageSize', {max: 2 ** 31 - 1}),
      labels: util.labels(o.labels, 'labels'),
      purpose: this._optionalEnum('KeyPurpose', 'KEY_PURPOSE_', o.purpose, 'purpose')};
    if (o.prefix) req.namePrefix = util.keyName(o.prefix, 'prefix');
    return this._pages(S, 'ListKeys', req, 'keys', o.timeout);
  },

  updateKey(key, opts) {
    const o = util.checkOptions('updateKey', opts, Object.keys(MUTABLE));
    const msg = {name: util.keyName(key)};
    const updateMask = setFields(msg, o);
    if (!updateMask.length) throw new TypeError('updateKey needs at least one field to change');
    return this._unary(S, 'UpdateKey', {key: msg, updateMask}, keyOf,
                       {idempotent: false, timeout: o.timeout});
  },

  rotateKey(key, opts) {
    const o = util.checkOptions('rotateKey', opts, []);
    return this._unary(S, 'RotateKey', {name: util.keyName(key)}, versionOf,
                       {idempotent: false, timeout: o.timeout});
  },

  listKeyVersions(key, opts) {
    const o = util.checkOptions('listKeyVersions', opts, ['state', 'pageSize']);
    const req = {parent: util.keyName(key),
      pageSize: util.int(o.pageSize, 'pageSize', {max: 2 ** 31 - 1}),
      state: this._optionalEnum('VersionState', 'VERSION_STATE_', o.state, 'state')};
    return this._pages(S, 'ListKeyVersions', req, 'versions', o.timeout);
  },

  getKeyVersion(key, number, opts) {
    return this._version('GetKeyVersion', key, number, opts, true);
  },

  disableKeyVersion(key, number, opts) {
    return this._version('DisableKeyVersion', key, number, opts, false);
  },

  enableKeyVersion(key, number, opts) {
    return this._version('EnableKeyVersion', key, number, opts, false);
  },

  destroyKeyVersion(key, number, opts) {
    return this._version('DestroyKeyVersion', key, number, opts, false);
  },

  importKey(material, format, opts) {
    const o = util.checkOptions('importKey', opts, ['keyId', 'into', 'materialFile',
      'keyType', 'passphrase', 'passphraseFile', 'kid', 'allowShortSecret', ...TEMPLATE]);
    if ((o.keyId === undefined) === (o.into === undefined)) {
      throw new TypeError('importKey: give exactly one of keyId and into');
    }
    const req = {
      format: this._enum('KeyMaterialFormat', 'KEY_MATERIAL_FORMAT_', format, 'format'),
      material: util.secret(material, o.materialFile, 'key material'),
      passphrase: util.secret(o.passphrase, o.passphraseFile, 'passphrase',
                              {required: false}),
      kid: util.str(o.kid, 'kid', {optional: true}),
      allowShortSecret: util.bool(o.allowShortSecret, 'allowShortSecret'),
    };
    if (o.keyId !== undefined) {
      req.keyId = util.str(o.keyId, 'keyId');
      req.key = template(this, o.keyType, o);
    } else {
      req.name = util.keyName(o.into, 'into');
    }
    return this._unary(S, 'ImportKey', req, (r) => r, {idempotent: false, timeout: o.timeout});
  },

  exportKey(key, opts) {
    const o = util.checkOptions('exportKey', opts, ['format', 'passphrase', 'passphraseFile']);
    const req = {name: util.keyName(key),
      format: this._optionalEnum('KeyMaterialFormat', 'KEY_MATERIAL_FORMAT_', o.format,
                                 'format'),
      passphrase: util.secret(o.passphrase, o.passphraseFile, 'passphrase',
                              {required: false})};
    return this._unary(S, 'ExportKey', req, (r) => r, {idempotent: false, timeout: o.timeout});
  },

  _version(method, key, number, opts, idempotent) {
    if (number !== null && typeof number === 'object') [number, opts] = [undefined, number];
    const o = util.checkOptions(util.camelCase(method), opts, []);
    return this._unary(S, method, {name: util.versionName(key, number)}, versionOf,
                       {idempotent, timeout: o.timeout});
  },
};
