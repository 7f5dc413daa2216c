// SystemService methods (status, seal, unseal, passphrase, backup and
// restore, the audit log). getStatus and verifyAuditLog are retried on
// UNAVAILABLE; the others never. Errors of every method (beyond its own, in
// index.d.ts): UnauthenticatedError, PermissionDeniedError,
// ResourceExhaustedError, UnavailableError; TypeError/RangeError before any
// call.
'use strict';

const util = require('./util');

const S = 'SystemService';
const CHUNK = 1 << 20;  // the most data one stream message may carry

// The backup's bytes in pieces of at most 1 MiB, from a Buffer or an (async)
// iterable of Buffers (a Readable stream is one).
async function* chunks(source) {
  if (Buffer.isBuffer(source) || source instanceof Uint8Array) {
    for (let i = 0; i < source.length; i += CHUNK) {
      yield Buffer.from(source.subarray(i, i + CHUNK));
    }
    return;
  }
  if (!source || (typeof source[Symbol.asyncIterator] !== 'function' &&
                  typeof source[Symbol.iterator] !== 'function')) {
    throw new TypeError('source must be a Buffer, a Readable or an iterable of Buffers');
  }
  for await (const piece of source) yield* chunks(util.bytes(piece, 'a backup chunk'));
}

// The passphrase and the replace flag in the first message only.
async function* restoreRequests(source, passphrase, replaceExisting) {
  let first = {passphrase, replaceExisting, data: Buffer.alloc(0)};
  for await (const data of chunks(source)) {
    if (first) {
      yield {...first, data};
      first = null;
    } else {
      yield {data};
    }
  }
  if (first) yield first;
}

module.exports = {
  getStatus(opts) {
    const o = util.checkOptions('getStatus', opts, []);
    return this._unary(S, 'GetStatus', {}, (r) => r, {idempotent: true, timeout: o.timeout});
  },

  seal(opts) {
    const o = util.checkOptions('seal', opts, []);
    return this._unary(S, 'Seal', {}, () => undefined, {idempotent: false, timeout: o.timeout});
  },

  unseal(opts) {
    const o = util.checkOptions('unseal', opts, ['passphraseFile', 'passphrase', 'initialize']);
    const req = {passphrase: util.secret(o.passphrase, o.passphraseFile, 'passphrase'),
      initialize: util.bool(o.initialize, 'initialize')};
    return this._unary(S, 'Unseal', req, (r) => r, {idempotent: false, timeout: o.timeout});
  },

  changePassphrase(opts) {
    const o = util.checkOptions('changePassphrase', opts, ['oldPassphraseFile',
      'newPassphraseFile', 'oldPassphrase', 'newPassphrase']);
    const req = {
      oldPassphrase: util.secret(o.oldPassphrase, o.oldPassphraseFile, 'old passphrase'),
      newPassphrase: util.secret(o.newPassphrase, o.newPassphraseFile, 'new passphrase'),
    };
    return this._unary(S, 'ChangePassphrase', req, () => undefined,
                       {idempotent: false, timeout: o.timeout});
  },

  // Streams the backup into `sink` (a function taking each Buffer chunk, or
  // a Writable) in order; resolves to its BackupInfo.
  async createBackup(sink, opts) {
    const o = util.checkOptions('createBackup', opts, []);
    const write = typeof sink === 'function' ? sink :
      sink && typeof sink.write === 'function' ? (c) => sink.write(c) : null;
    if (!write) throw new TypeError('sink must be a function or a Writable');
    let info = null;
    for await (const m of this._serverStream(S, 'CreateBackup', {},
                                             this._deadline(o.timeout, true))) {
      if (!info && m.info) info = m.info;
      await write(m.data);
    }
    return info;
  },

  restoreBackup(source, opts) {
    const o = util.checkOptions('restoreBackup', opts,
                                ['passphraseFile', 'passphrase', 'replaceExisting']);
    const requests = restoreRequests(
        source, util.secret(o.passphrase, o.passphraseFile, 'passphrase'),
        util.bool(o.replaceExisting, 'replaceExisting'));
    return this._clientStream(S, 'RestoreBackup', requests, (r) => r.info,
                              this._deadline(o.timeout, true));
  },

  // An async iterator over audit records in sequence order; with follow, it
  // waits for new ones (no deadline unless timeout is given) until the loop
  // is left, which cancels the stream.
  async* readAuditLog(opts) {
    const o = util.checkOptions('readAuditLog', opts, ['startSequence', 'follow',
      'maxRecords', 'principal', 'resourcePrefix']);
    const req = {
      startSequence: String(util.int(o.startSequence, 'startSequence')),
      follow: util.bool(o.follow, 'follow'),
      maxRecords: String(util.int(o.maxRecords, 'maxRecords')),
      principal: util.str(o.principal, 'principal', {optional: true}),
      resourcePrefix: util.str(o.resourcePrefix, 'resourcePrefix', {optional: true}),
    };
    const deadline = req.follow && o.timeout === undefined ? null :
      this._deadline(o.timeout, true);
    for await (const m of this._serverStream(S, 'ReadAuditLog', req, deadline)) {
      yield* m.records;
    }
  },

  // rotateAuditLog rotates the audit log now: {rotatedFile, lastSequence,
  // firstSequence}. Requires global ADMIN. FailedPreconditionError when
  // nothing was recorded since the last rotation.
  rotateAuditLog(opts) {
    const o = util.checkOptions('rotateAuditLog', opts, []);
    return this._unary(S, 'RotateAuditLog', {}, (r) => r, {idempotent: false, timeout: o.timeout});
  },

  verifyAuditLog(opts) {
    const o = util.checkOptions('verifyAuditLog', opts, ['startSequence', 'endSequence']);
    const req = {startSequence: String(util.int(o.startSequence, 'startSequence')),
      endSequence: String(util.int(o.endSequence, 'endSequence'))};
    return this._unary(S, 'VerifyAuditLog', req, (r) => r,
                       {idempotent: true, timeout: o.timeout});
  },
};
