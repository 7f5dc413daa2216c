// @keyward/client against the real keywardd on a real Unix socket (and a
// loopback TCP listener for sessions): every RPC of every service, errors by
// status code, paging, streams. Run: KEYWARDD=... node --test test/
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const {after, before, describe, test} = require('node:test');

const keyward = require('..');
const protos = require('../lib/protos');
const {Daemon, writeSecret} = require('./daemon');

// Records every RPC made, to check at the end that each one was.
const called = new Set();
class RecordingClient extends keyward.Client {
  _unary(service, method, ...rest) {
    called.add(`${service}/${method}`);
    return super._unary(service, method, ...rest);
  }
  _serverStream(service, method, ...rest) {
    called.add(`${service}/${method}`);
    return super._serverStream(service, method, ...rest);
  }
  _clientStream(service, method, ...rest) {
    called.add(`${service}/${method}`);
    return super._clientStream(service, method, ...rest);
  }
  stream(...args) {
    called.add('DataPlaneService/Stream');
    return super.stream(...args);
  }
}

// Asserts that `promise` rejects with the KeywardError subclass `Cls` and
// the status `code`; returns the error.
async function rejectsWith(promise, Cls, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof Cls, `expected ${Cls.name}, got ${error && error.stack}`);
  assert.ok(error instanceof keyward.KeywardError);
  assert.equal(error.code, code);
  assert.equal(typeof error.details, 'string');
  return error;
}

async function collect(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}

let daemon;
let c;

before(async () => {
  daemon = await Daemon.start({tcp: true});
  c = new RecordingClient(daemon.target);
});

after(async () => {
  if (c) c.close();
  if (daemon) await daemon.stop();
});

describe('CryptoService', () => {
  test('sign and verify, checked with node:crypto', async () => {
    await c.createKey('ed', 'ED25519');
    const msg = Buffer.from('signed by keywardd');
    const sig = await c.sign('ed', msg);
    assert.equal(sig.keyVersion, 'keys/ed/versions/1');
    assert.equal(await c.verify('ed', msg, sig.signature), true);
    assert.equal(await c.verify('ed', Buffer.from('other'), sig.signature), false);
    const pem = await c.publicKey('ed');
    assert.ok(crypto.verify(null, msg, pem.toString(), sig.rawSignature));
    const jwk = await c.getPublicKey('ed', {format: 'jwk'});
    assert.equal(jwk.format, 'PUBLIC_KEY_FORMAT_JWK');
    assert.equal(JSON.parse(jwk.publicKey).kty, 'OKP');
  });

  test('encrypt, decrypt, mac, data keys, re-encryption', async () => {
    await c.createKey('aes', 'AES256_GCM');
    const ad = Buffer.from('order-7');
    const ct = await c.encrypt('aes', Buffer.from('card'), ad);
    assert.deepEqual(await c.decrypt('aes', ct, ad), Buffer.from('card'));
    await rejectsWith(c.decrypt('aes', ct, Buffer.from('other')),
                      keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
    await c.createKey('hm', 'HMAC_SHA256');
    const tag = await c.mac('hm', Buffer.from('x'));
    assert.equal(tag.rawMac.length, 32);
    assert.equal(await c.verifyMac('hm', Buffer.from('x'), tag.mac), true);
    assert.equal(await c.verifyMac('hm', Buffer.from('y'), tag.mac), false);
    const dk = await c.generateDataKey('aes', {length: 32, associatedData: ad});
    assert.equal(dk.plaintext.length, 32);
    assert.deepEqual(await c.decrypt('aes', dk.ciphertext, ad), dk.plaintext);
    await c.rotateKey('aes');
    const moved = await c.reEncrypt('aes', ct, ad);
    assert.equal(moved.keyVersion, 'keys/aes/versions/2');
    assert.equal(moved.sourceKeyVersion, 'keys/aes/versions/1');
    assert.deepEqual(await c.decrypt('aes', moved.ciphertext, ad), Buffer.from('card'));
  });

  test('NaCl: box, boxOpen and raw sealed boxes', async () => {
    await c.createKey('x1', 'X25519');
    await c.createKey('x2', 'X25519');
    const second = await c.box('x2', Buffer.alloc(32, 9), Buffer.from('probe'));
    const first = await c.box('x1', second.senderPublicKey, Buffer.from('hi'));
    assert.equal(first.keyVersion, 'keys/x1/versions/1');
    assert.deepEqual(await c.boxOpen('x2', first.senderPublicKey, first.ciphertext),
                     Buffer.from('hi'));
    assert.deepEqual(await c.boxOpen('x2', first.senderPublicKey, first.ciphertext.subarray(24),
                                     {nonce: first.ciphertext.subarray(0, 24)}),
                     Buffer.from('hi'));
    await rejectsWith(c.boxOpen('x2', second.senderPublicKey, first.ciphertext),
                      keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
    await rejectsWith(c.boxOpen('x2', first.senderPublicKey, first.ciphertext,
                                {nonce: Buffer.alloc(23)}),
                      keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
    const raw = await c.encrypt('x1', Buffer.from('sealed'), undefined, {raw: true});
    assert.equal(raw.length, 48 + 6);
    assert.deepEqual(await c.decrypt('keys/x1/versions/1', null, undefined, {rawCiphertext: raw}),
                     Buffer.from('sealed'));
  });

  test('batches: per-item values and errors', async () => {
    const signed = await c.batchSign([['ed', Buffer.from('a')], ['nope', Buffer.from('b')]]);
    assert.ok(signed[0].value.signature.length > 0);
    assert.ok(signed[1].error instanceof keyward.NotFoundError);
    const verified = await c.batchVerify([['ed', Buffer.from('a'), signed[0].value.signature]]);
    assert.equal(verified[0].value, true);
    const enc = await c.batchEncrypt([['aes', Buffer.from('p1')], ['aes', Buffer.from('p2')]]);
    const dec = await c.batchDecrypt(enc.map((r) => ['aes', r.value]));
    assert.deepEqual(dec.map((r) => r.value.toString()), ['p1', 'p2']);
  });
});

describe('KeyService', () => {
  test('lifecycle: update, versions, disable, enable, destroy', async () => {
    const key = await c.createKey('life', 'ECDSA_P256', {description: 'd1',
      labels: {team: 'pay'}, algorithms: ['ECDSA_SHA256_DER']});
    assert.equal(key.name, 'keys/life');
    assert.equal(key.purpose, 'KEY_PURPOSE_SIGN_VERIFY');
    const updated = await c.updateKey('life', {description: 'd2', labels: {team: 'ops'}});
    assert.equal(updated.description, 'd2');
    assert.equal((await c.getKey('life')).labels.team, 'ops');
    const v2 = await c.rotateKey('life');
    assert.equal(v2.name, 'keys/life/versions/2');
    assert.equal((await c.getKeyVersion('life', 1)).state, 'VERSION_STATE_ENABLED');
    assert.equal((await c.disableKeyVersion('life', 1)).state, 'VERSION_STATE_DISABLED');
    assert.equal((await c.enableKeyVersion('keys/life/versions/1')).state,
                 'VERSION_STATE_ENABLED');
    await rejectsWith(c.destroyKeyVersion('life', 1), keyward.FailedPreconditionError,
                      'FAILED_PRECONDITION');
    await c.disableKeyVersion('life', 1);
    assert.equal((await c.destroyKeyVersion('life', 1)).state, 'VERSION_STATE_DESTROYED');
    const versions = await collect(c.listKeyVersions('life', {pageSize: 1}));
    assert.deepEqual(versions.map((v) => v.number), [1, 2]);
    await rejectsWith(c.getKey('missing'), keyward.NotFoundError, 'NOT_FOUND');
    await rejectsWith(c.createKey('life', 'ED25519'), keyward.AlreadyExistsError,
                      'ALREADY_EXISTS');
  });

  test('listKeys follows pages', async () => {
    for (let i = 0; i < 5; i++) await c.createKey(`pg-${i}`, 'ED25519');
    const keys = await collect(c.listKeys({prefix: 'pg-', pageSize: 2}));
    assert.deepEqual(keys.map((k) => k.name), [0, 1, 2, 3, 4].map((i) => `keys/pg-${i}`));
    const signing = await collect(c.listKeys({purpose: 'SIGN_VERIFY', prefix: 'pg-'}));
    assert.equal(signing.length, 5);
  });

  test('import and export', async () => {
    const {privateKey} = crypto.generateKeyPairSync('ed25519');
    const pem = privateKey.export({type: 'pkcs8', format: 'pem'});
    const imported = await c.importKey(Buffer.from(pem), 'PRIVATE_KEY_PEM',
                                       {keyId: 'imp', keyType: 'ED25519', exportable: true});
    assert.equal(imported.key.name, 'keys/imp');
    const file = writeSecret(path.join(daemon.dir, 'imp.pem'), pem);
    const again = await c.importKey(null, 'PRIVATE_KEY_PEM', {into: 'imp', materialFile: file});
    assert.equal(again.version.number, 2);
    const exported = await c.exportKey('imp');
    assert.equal(exported.format, 'KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM');
    assert.ok(exported.material.toString().includes('BEGIN PRIVATE KEY'));
    await rejectsWith(c.importKey(Buffer.from('junk'), 'PRIVATE_KEY_PEM', {keyId: 'junk',
      keyType: 'ED25519'}), keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
    await rejectsWith(c.exportKey('ed'), keyward.FailedPreconditionError,
                      'FAILED_PRECONDITION');
  });

  test('import a JWT key with its algorithm, settings and a short secret', async () => {
    const short = Buffer.from('nineteen-byte-sec!!');
    const hs = {keyId: 'imp-short', keyType: 'HMAC_SHA256', purpose: 'JWT'};
    await rejectsWith(c.importKey(short, 'RAW_SECRET', hs), keyward.InvalidArgumentError,
                      'INVALID_ARGUMENT');
    const legacy = await c.importKey(short, 'RAW_SECRET',
                                     {...hs, allowShortSecret: true, jwtIssuer: 'https://legacy'});
    assert.equal(legacy.key.legacyShortSecret, true);
    assert.equal(legacy.key.jwt.issuer, 'https://legacy');
    const {privateKey} = crypto.generateKeyPairSync('rsa', {modulusLength: 2048});
    const pem = Buffer.from(privateKey.export({type: 'pkcs8', format: 'pem'}));
    const ps = await c.importKey(pem, 'PRIVATE_KEY_PEM',
                                {keyId: 'imp-ps384', purpose: 'JWT', algorithms: ['RSA_PSS_SHA384']});
    assert.deepEqual(ps.key.signatureAlgorithms, ['SIGNATURE_ALGORITHM_RSA_PSS_SHA384']);
    assert.equal(ps.key.legacyShortSecret, false);
    const {token} = await c.signJwt('imp-ps384', {sub: 'a'}, {ttl: 60});
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')).alg, 'PS384');
    // An algorithm the material cannot have is refused, not dropped.
    await rejectsWith(c.importKey(pem, 'PRIVATE_KEY_PEM', {keyId: 'imp-rs-es', purpose: 'JWT',
      algorithms: ['ECDSA_SHA256_P1363']}), keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
  });
});

describe('JwtService', () => {
  test('sign, verify, JWKS, token records', async () => {
    await c.createKey('jwt-es', 'ECDSA_P256', {purpose: 'JWT'});
    const signed = await c.signJwt('jwt-es', {sub: 'alice', aud: 'api'}, {ttl: 60});
    assert.ok(signed.expireTime instanceof Date);
    const ok = await c.verifyJwt(signed.token, {audience: 'api'});
    assert.equal(ok.valid, true);
    assert.equal(ok.claims.sub, 'alice');
    assert.equal(ok.header.kid, 'jwt-es:v1');
    const lenient = await c.verifyJwt(signed.token,
      {audience: 'api', allowMissingExp: true, maxAgeWithoutExp: 600});
    assert.equal(lenient.valid, true);
    const wrong = await c.verifyJwt(signed.token, {audience: 'other'});
    assert.deepEqual([wrong.valid, wrong.failure], [false, 'AUDIENCE_MISMATCH']);
    const jwks = await c.getJwks('jwt-es');
    assert.deepEqual(jwks.keys.map((k) => k.kid), ['jwt-es:v1']);
    await rejectsWith(c.signJwt('jwt-es', {sub: 'x'}, {ttl: 2 * 86400}),
                      keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
    const rec = await c.signJwt('jwt-es', {sub: 'bob'}, {ttl: 90, externalId: 'txn-42',
      metadata: {phone: '555'}});
    assert.equal(rec.recordName, `tokens/${rec.jti}`);
    const found = await c.getTokenRecord({externalId: 'txn-42'});
    assert.equal(found.jti, rec.jti);
    assert.equal(found.metadata.phone, '555');
    assert.equal((await c.getTokenRecord(rec.jti)).subject, 'bob');
    const listed = await collect(c.listTokenRecords({key: 'jwt-es', externalId: 'txn-42'}));
    assert.deepEqual(listed.map((r) => r.jti), [rec.jti]);
    const revoked = await c.revokeToken(rec.jti, 'lost phone');
    assert.equal(revoked.state, 'TOKEN_STATE_REVOKED');
    assert.equal((await c.verifyJwt(rec.token)).failure, 'REVOKED');
    await rejectsWith(c.getTokenRecord('no-such-jti'), keyward.NotFoundError, 'NOT_FOUND');
  });

  test('JWE, plain and nested', async () => {
    await c.createKey('jwe-rsa', 'RSA_2048', {purpose: 'JWE'});
    await c.createKey('jwe-signer', 'ED25519', {purpose: 'JWT'});
    const enc = await c.encryptJwe('jwe-rsa', Buffer.from('card 4111'),
                                   {encryption: 'A128CBC_HS256'});
    const out = await c.decryptJwe(enc.token);
    assert.deepEqual(out.payload, Buffer.from('card 4111'));
    assert.equal(out.header.enc, 'A128CBC-HS256');
    const nested = await c.encryptJwe('jwe-rsa', null, {signWith: 'jwe-signer',
      claims: {sub: 'carol'}, ttl: 60});
    assert.ok(nested.nested.jti);
    const opened = await c.decryptJwe(nested.token, {key: 'jwe-rsa', verifyNested: true});
    assert.equal(opened.nested.valid, true);
    assert.equal(opened.nested.claims.sub, 'carol');
    await rejectsWith(c.decryptJwe(`${enc.token.slice(0, -4)}AAAA`, {key: 'jwe-rsa'}),
                      keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
  });
});

describe('AccessService and sessions', () => {
  test('policies and API keys', async () => {
    const policy = await c.createPolicy('unix:uid:4242', ['SIGN', 'VERIFY'], 'pay-*',
                                        {policyId: 'p-pay'});
    assert.deepEqual([policy.name, policy.resource], ['policies/p-pay', 'keys/pay-*']);
    const mine = await collect(c.listPolicies({principal: 'unix:uid:4242'}));
    assert.deepEqual(mine.map((p) => p.name), ['policies/p-pay']);
    await rejectsWith(c.createPolicy('unix:uid:4242', ['SIGN'], 'x', {policyId: 'p-pay'}),
                      keyward.AlreadyExistsError, 'ALREADY_EXISTS');
    assert.equal(await c.deletePolicy('p-pay'), undefined);
    await rejectsWith(c.deletePolicy('p-pay'), keyward.NotFoundError, 'NOT_FOUND');
    const created = await c.createApiKey('svc-a', {description: 'service a'});
    assert.ok(created.secret.length > 20);
    const active = await collect(c.listApiKeys({state: 'ACTIVE'}));
    assert.ok(active.some((k) => k.name === 'apiKeys/svc-a'));
    assert.equal((await c.revokeApiKey('svc-a')).state, 'API_KEY_STATE_REVOKED');
  });

  test('login over loopback TCP, then the token from a file', async () => {
    await c.createKey('sess-sig', 'ED25519');
    const {secret} = await c.createApiKey('ci');
    const secretFile = writeSecret(path.join(daemon.dir, 'ci.key'), `${secret}\n`);
    const anon = new RecordingClient(daemon.tcpTarget);
    try {
      await rejectsWith(anon.sign('sess-sig', Buffer.from('x')),
                        keyward.UnauthenticatedError, 'UNAUTHENTICATED');
      const bad = await rejectsWith(anon.login({apiKey: Buffer.from('kw_ak_not-the-secret')}),
                                    keyward.UnauthenticatedError, 'UNAUTHENTICATED');
      assert.ok(!bad.message.includes('not-the-secret'));
      const session = await anon.login({apiKeyFile: secretFile, ttl: 300});
      assert.equal(session.principal, 'apikey:ci');
      assert.ok(!JSON.stringify(session).includes(session.token));
      assert.equal((await anon.whoAmI()).principal, 'apikey:ci');
      await rejectsWith(anon.sign('sess-sig', Buffer.from('x')),
                        keyward.PermissionDeniedError, 'PERMISSION_DENIED');
      await c.createPolicy('apikey:ci', ['SIGN'], 'sess-sig');
      assert.equal((await anon.sign('sess-sig', Buffer.from('x'))).keyVersion,
                   'keys/sess-sig/versions/1');
      const tokenFile = writeSecret(path.join(daemon.dir, 'session.token'),
                                    `${session.token}\n`);
      const byFile = new keyward.Client(daemon.tcpTarget, {tokenFile});
      try {
        assert.equal((await byFile.whoAmI()).principal, 'apikey:ci');
        await c.revokeApiKey('ci');
        await rejectsWith(byFile.sign('sess-sig', Buffer.from('y')),
                          keyward.UnauthenticatedError, 'UNAUTHENTICATED');
      } finally {
        byFile.close();
      }
    } finally {
      anon.close();
    }
  });
});

describe('SystemService', () => {
  test('status and the audit log', async () => {
    const status = await c.getStatus();
    assert.equal(status.sealed, false);
    assert.ok(Number(status.keyCount) >= 1);
    const records = await collect(c.readAuditLog({maxRecords: 3}));
    assert.equal(records.length, 3);
    assert.equal(records[0].sequence, '1');
    // Following: leaving the loop cancels the stream.
    for await (const r of c.readAuditLog({follow: true, startSequence: 2, timeout: 30})) {
      assert.equal(r.sequence, '2');
      break;
    }
    const rotated = await c.rotateAuditLog();
    assert.match(rotated.rotatedFile, /audit\.log\.1$/);
    assert.equal(Number(rotated.firstSequence), Number(rotated.lastSequence) + 1);
    const verdict = await c.verifyAuditLog();
    assert.equal(verdict.ok, true);
    assert.ok(Number(verdict.recordsChecked) > 3);
  });

  test('backup, passphrase change, seal, unseal, restore', async () => {
    await c.createKey('keep', 'AES256_GCM');
    const ct = await c.encrypt('keep', Buffer.from('kept'));
    const chunks = [];
    const info = await c.createBackup((chunk) => chunks.push(chunk));
    assert.ok(Number(info.keyCount) >= 1);
    const backup = Buffer.concat(chunks);
    assert.ok(backup.length > 0);
    await c.createKey('after-backup', 'AES256_GCM');
    const fresh = Buffer.from('a brand new passphrase');
    await rejectsWith(c.changePassphrase({oldPassphrase: Buffer.from('wrong passphrase!'),
      newPassphrase: fresh}), keyward.UnauthenticatedError, 'UNAUTHENTICATED');
    await c.changePassphrase({oldPassphraseFile: daemon.passphraseFile, newPassphrase: fresh});
    assert.equal(await c.seal(), undefined);
    assert.equal((await c.getStatus()).sealed, true);
    await rejectsWith(c.encrypt('keep', Buffer.from('x')), keyward.UnavailableError,
                      'UNAVAILABLE');
    await rejectsWith(c.unseal({passphraseFile: daemon.passphraseFile}),
                      keyward.UnauthenticatedError, 'UNAUTHENTICATED');
    assert.equal((await c.unseal({passphrase: fresh})).alreadyUnsealed, false);
    assert.deepEqual(await c.decrypt('keep', ct), Buffer.from('kept'));
    await rejectsWith(c.restoreBackup(backup, {passphraseFile: daemon.passphraseFile}),
                      keyward.FailedPreconditionError, 'FAILED_PRECONDITION');
    await rejectsWith(c.restoreBackup(Buffer.from('not a backup at all'),
                                      {passphrase: fresh, replaceExisting: true}),
                      keyward.InvalidArgumentError, 'INVALID_ARGUMENT');
    const restored = await c.restoreBackup(fs.createReadStream(writeSecret(
        path.join(daemon.dir, 'backup.bin'), backup)),
    {passphraseFile: daemon.passphraseFile, replaceExisting: true});
    // The daemon fills only formatVersion and keyCount of the restored
    // BackupInfo (backupId, createTime and daemonVersion stay empty).
    assert.deepEqual([restored.formatVersion, restored.keyCount],
                     [info.formatVersion, info.keyCount]);
    assert.equal((await c.getStatus()).sealed, true);
    await c.unseal({passphraseFile: daemon.passphraseFile});
    assert.deepEqual(await c.decrypt('keep', ct), Buffer.from('kept'));
    await rejectsWith(c.getKey('after-backup'), keyward.NotFoundError, 'NOT_FOUND');
  });
});

describe('DataPlaneService', () => {
  test('stream: every item answered by id, a NOT_FOUND among them', async () => {
    await c.createKey('st-ed', 'ED25519');
    const items = [0, 1, 2, 3, 4].map((id) => ({
      id, sign: {name: id === 3 ? 'keys/st-missing' : 'keys/st-ed', data: Buffer.from('m')},
    }));
    const results = new Map();
    for await (const r of c.stream([{items: items.slice(0, 2)}, {items: items.slice(2)}])) {
      results.set(Number(r.id), r);
    }
    assert.deepEqual([...results.keys()].sort(), [0, 1, 2, 3, 4]);
    assert.equal(results.get(3).status.code, 5);  // NOT_FOUND
    assert.equal(results.get(0).status.code, 0);
    assert.equal(await c.verify('st-ed', Buffer.from('m'), results.get(0).sign.signature), true);
    let error;
    try {
      for await (const r of c.stream([{items: []}])) assert.fail(`no result expected: ${r}`);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof keyward.InvalidArgumentError, String(error));
    assert.equal(error.code, 'INVALID_ARGUMENT');
  });
});

describe('coverage', () => {
  test('every RPC of every service was called through the client', () => {
    const names = protos.rpcNames(protos.load());
    const wanted = [];
    for (const [service, rpcs] of Object.entries(names)) {
      for (const rpc of rpcs) wanted.push(`${service}/${rpc}`);
    }
    assert.ok(wanted.length >= 49);
    assert.deepEqual(wanted.filter((m) => !called.has(m)), []);
  });
});
