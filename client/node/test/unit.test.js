// @keyward/client without a daemon: targets, refusals before any call (wrong
// argument types, unknown enum names and options), secrets never shown,
// error classes, the retry rule, and index.d.ts declaring every method.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {test} = require('node:test');

const keyward = require('..');
const protos = require('../lib/protos');

const NOWHERE = 'unix:///nonexistent/keyward-test/k.sock';

// A client whose calls would fail UNAVAILABLE; records each attempt.
class CountingClient extends keyward.Client {
  constructor(...args) {
    super(...args);
    this.attempts = 0;
    const real = this._channel.makeUnaryRequest.bind(this._channel);
    this._channel.makeUnaryRequest = (...a) => {
      this.attempts++;
      return real(...a);
    };
  }
}

test('targets', () => {
  assert.equal(keyward.selectTarget('/run/k.sock'), 'unix:///run/k.sock');
  assert.equal(keyward.selectTarget('', {KEYWARD_ADDR: '127.0.0.1:7443'}), '127.0.0.1:7443');
  assert.equal(keyward.selectTarget('', {XDG_RUNTIME_DIR: '/run/user/7'}),
               'unix:///run/user/7/keyward/keyward.sock');
  assert.equal(keyward.selectTarget('', {}), `unix://${keyward.DEFAULT_SYSTEM_SOCKET}`);
  assert.deepEqual(keyward.parseTarget('unix:///a/b.sock'), {grpcTarget: 'unix:/a/b.sock', host: null});
  assert.deepEqual(keyward.parseTarget('[::1]:7443'), {grpcTarget: '[::1]:7443', host: '::1'});
  assert.throws(() => keyward.parseTarget('https://example.org'), /unsupported scheme/);
  assert.throws(() => keyward.parseTarget('host:0'), /port from 1 to 65535/);
  assert.throws(() => new keyward.Client('10.1.2.3:7443'), /only to loopback/);
  assert.throws(() => new keyward.Client(NOWHERE, {tls: {}}), /not Unix sockets/);
  assert.throws(() => new keyward.Client('127.0.0.1:7443', {tls: {certFile: '/x'}}),
                /both certFile and keyFile/);
  assert.throws(() => new keyward.Client(NOWHERE, {timeout: 0}), /positive/);
  assert.throws(() => new keyward.Client(NOWHERE, {colour: 'red'}), /unknown option 'colour'/);
  assert.throws(() => new keyward.Client(42), /target must be a string/);
});

test('bad arguments are refused before any call, naming them', async () => {
  const c = new CountingClient(NOWHERE);
  try {
    const cases = [
      [() => c.createKey('k', 'ED25591'), /unknown KeyType "ED25591" for keyType; one of: .*ED25519/],
      [() => c.createKey('k', 'ED25519', {purpose: 'SIGNING'}), /unknown KeyPurpose "SIGNING"/],
      [() => c.createPolicy('unix:uid:1', ['SING'], '*'), /unknown Operation "SING" for operations/],
      [() => c.sign('k', 'text'), /data must be a Buffer or Uint8Array, not string/],
      [() => c.sign('k', Buffer.from('x'), {algorithm: 'ES999'}), /SignatureAlgorithm "ES999"/],
      [() => c.sign(7, Buffer.from('x')), /key must be a non-empty key name string, not number/],
      [() => c.sign('k', Buffer.from('x'), {digets: Buffer.from('y')}), /unknown option 'digets'/],
      [() => c.encryptJwe('k', Buffer.from('x'), {encryption: 'A999GCM'}), /JweEncryption "A999GCM"/],
      [() => c.getPublicKey('k', {format: 'xml'}), /one of pem, der, jwk/],
      [() => c.getKeyVersion('k', 0), /version number must be an integer from 1/],
      [() => c.updateKey('k', {}), /at least one field/],
      [() => c.unseal({passphrase: 'a string secret'}), /passphrase must be a Buffer/],
      [() => c.unseal({}), /passphrase is required/],
      [() => c.login({apiKeyFile: '/nonexistent/key'}), /cannot read the API key secret file/],
      [() => c.signJwt('k', {sub: 'a'}, {ttl: '60'}), /ttl must be a number of seconds/],
      [() => c.readAuditLog({follow: 'yes'}).next(), /follow must be a boolean/],
      [() => c.importKey(Buffer.from('s'), 'RAW_SECRET', {keyId: 'k', allowShortSecret: 1}),
       /allowShortSecret must be a boolean/],
    ];
    for (const [fn, pattern] of cases) {
      await assert.rejects(async () => fn(), (e) => {
        assert.ok(e instanceof TypeError || e instanceof RangeError, `${pattern}: ${e.stack}`);
        assert.match(e.message, pattern);
        return true;
      });
    }
    assert.throws(() => c.listKeys({purpose: 'SIGNS'}), /unknown KeyPurpose "SIGNS"/);
    assert.throws(() => c.listKeys({pageSize: -1}), /pageSize must be an integer/);
    assert.equal(c.attempts, 0, 'no call was made');
  } finally {
    c.close();
  }
});

test('secrets are never in error text', async () => {
  const c = new keyward.Client(NOWHERE, {timeout: 1, retry: {maxAttempts: 1}});
  try {
    const e = await c.unseal({passphrase: Buffer.from('very secret passphrase')}).catch((x) => x);
    assert.ok(e instanceof keyward.UnavailableError);
    assert.ok(!e.message.includes('very secret'));
    assert.throws(() => c.setToken('bad token with spaces'), (x) => !x.message.includes('bad token'));
  } finally {
    c.close();
  }
});

test('secrets and tokens from files lose one trailing newline', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kwnu'));
  try {
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 'kw_session_abc\n', {mode: 0o600});
    const c = new keyward.Client(NOWHERE, {tokenFile: file});
    assert.equal(c._metadata().get('authorization')[0], 'Bearer kw_session_abc');
    c.close();
  } finally {
    fs.rmSync(dir, {recursive: true});
  }
});

test('errors: a KeywardError subclass per status code', () => {
  const {errorFor, errorFromGrpc} = require('../lib/errors');
  const e = errorFor(5, 'keys/x not found', 'KeyService/GetKey');
  assert.ok(e instanceof keyward.NotFoundError && e instanceof keyward.KeywardError);
  assert.deepEqual([e.code, e.status, e.details, e.method, e.name],
                   ['NOT_FOUND', 5, 'keys/x not found', 'KeyService/GetKey', 'NotFoundError']);
  assert.equal(e.message, 'KeyService/GetKey: NOT_FOUND: keys/x not found');
  const t = errorFromGrpc(Object.assign(new Error('x'), {code: 14, details: 'down'}), 'S/M');
  assert.ok(t instanceof keyward.UnavailableError);
  assert.equal(errorFor(16, '').code, 'UNAUTHENTICATED');
});

test('retry rule: idempotent calls only, on UNAVAILABLE, up to maxAttempts', async () => {
  const retry = {maxAttempts: 3, initialBackoff: 0.01, maxBackoff: 0.05};
  const c = new CountingClient(NOWHERE, {retry});
  try {
    await assert.rejects(c.getStatus(), keyward.UnavailableError);
    assert.equal(c.attempts, 3);
    c.attempts = 0;
    await assert.rejects(c.createKey('k', 'ED25519'), keyward.UnavailableError);
    assert.equal(c.attempts, 1);
    c.attempts = 0;
    await assert.rejects(c.signJwt('k', {}, {record: true}), keyward.UnavailableError);
    assert.equal(c.attempts, 1, 'a recorded token is state: never retried');
    c.attempts = 0;
    await assert.rejects(c.signJwt('k', {}), keyward.UnavailableError);
    assert.equal(c.attempts, 3);
  } finally {
    c.close();
  }
  // No retry that could not finish before the deadline.
  const slow = new CountingClient(NOWHERE, {timeout: 0.2,
    retry: {maxAttempts: 5, initialBackoff: 0.5}});
  try {
    await assert.rejects(slow.getKey('k'), keyward.UnavailableError);
    assert.equal(slow.attempts, 1);
  } finally {
    slow.close();
  }
});

test('index.d.ts declares every method the Client has', () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
  const methods = Object.getOwnPropertyNames(keyward.Client.prototype)
      .filter((n) => n !== 'constructor' && !n.startsWith('_'));
  const missing = methods.filter((m) => !new RegExp(`^\\s+${m}\\(`, 'm').test(dts));
  assert.deepEqual(missing, []);
  // Every RPC has its camelCase method.
  const names = protos.rpcNames(protos.load());
  for (const rpcs of Object.values(names)) {
    for (const rpc of rpcs) assert.ok(methods.includes(keyward.camelCase(rpc)), rpc);
  }
});
