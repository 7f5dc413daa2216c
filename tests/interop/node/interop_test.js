// Interop: the real keywardd driven by Node's gRPC stack through the Node
// client (client/node: @keyward/client, on @grpc/grpc-js and
// @grpc/proto-loader reading proto/keyward/v1/*.proto), its raw signatures
// checked independently with Node's crypto.
//
// Run by //tests/interop:node_interop_test (after `npm ci` here), or by hand:
//   node tests/interop/node/interop_test.js --keywardd=bazel-bin/daemon/keywardd
// Options: --keywardd=PATH (required), --proto_root=DIR (default: the repo's
// proto/). Exits 0 only if every check passed.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');

// The Node client and its keywardd fixture, from the source tree (the
// runfiles under Bazel).
const clientDir = path.join(__dirname, '..', '..', '..', 'client', 'node');
const keyward = require(clientDir);
const {Daemon} = require(path.join(clientDir, 'test', 'daemon.js'));

const MESSAGE = Buffer.from(
    'interop: signed by keywardd, verified by node:crypto');

function parseArgs(argv) {
  const args = {proto_root: path.resolve(__dirname, '..', '..', '..', 'proto')};
  for (const arg of argv) {
    const m = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}`);
    args[m[1]] = m[2];
  }
  if (!args.keywardd) throw new Error('--keywardd=PATH is required');
  return args;
}

// A @keyward/client Client for the daemon, with the protos of --proto_root.
function connect(daemon, protoRoot) {
  return new keyward.Client(daemon.target, {protoRoot});
}

function flip(buf) {
  const t = Buffer.from(buf);
  t[t.length >> 1] ^= 0x80;
  return t;
}

// Suite runs the cases of one test program against one daemon (start()):
// test() runs a case and counts its failure; stopDaemon() checks that
// SIGTERM stops the daemon with exit code 0; finish() cleans up, prints PASS
// or the count of failures and exits with 0 or 1.
class Suite {
  constructor() {
    this.daemon = null;
    this.failures = 0;
  }

  // keywardd (the --keywardd binary) on a temp dir and Unix socket.
  async start(binary) {
    this.daemon = await Daemon.start({binary});
    return this.daemon;
  }

  async test(name, fn) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      this.failures++;
      console.log(`FAIL ${name}\n${e && e.stack || e}`);
    }
  }

  async stopDaemon() {
    await this.test('SIGTERM exits 0', () => this.daemon.stop());
  }

  setupFailed(e) {
    this.failures++;
    console.log(`FAIL setup\n${e && e.stack || e}`);
  }

  finish() {
    if (this.daemon) this.daemon.cleanup();
    console.log(this.failures ? `${this.failures} FAILED` : 'PASS');
    process.exit(this.failures ? 1 : 0);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const suite = new Suite();
  const test = (name, fn) => suite.test(name, fn);
  let client;


  async function signAndFetch(keyId, keyType, wantAlgorithm) {
    const created = await client.createKey(keyId, keyType,
                                           {purpose: 'SIGN_VERIFY'});
    assert.equal(created.name, `keys/${keyId}`);
    assert.equal(created.keyType, keyType);
    assert.equal(created.signatureAlgorithms[0], wantAlgorithm);
    const signed = await client.sign(keyId, MESSAGE);
    assert.equal(signed.keyVersion, `keys/${keyId}/versions/1`);
    assert.equal(signed.algorithm, wantAlgorithm);
    assert.ok(Buffer.isBuffer(signed.rawSignature));
    assert.ok(signed.rawSignature.length > 0);
    const got = await client.getPublicKey(signed.keyVersion, {format: 'pem'});
    assert.equal(got.format, 'PUBLIC_KEY_FORMAT_PEM');
    assert.equal(got.keyType, keyType);
    const pem = got.publicKey.toString('utf8');
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
    const publicKey = crypto.createPublicKey(pem);
    // The JWK and DER forms are the same key.
    const spki = publicKey.export({type: 'spki', format: 'der'});
    const der = await client.publicKey(signed.keyVersion, {format: 'der'});
    assert.deepEqual(der, spki);
    const jwk = await client.publicKey(signed.keyVersion, {format: 'jwk'});
    const fromJwk = crypto.createPublicKey({
      key: JSON.parse(jwk.toString('utf8')), format: 'jwk'});
    assert.deepEqual(fromJwk.export({type: 'spki', format: 'der'}), spki);
    return {signed, publicKey};
  }

  async function daemonVerify(keyId, data, signature) {
    return client.verify(keyId, data, signature);
  }

  async function checkDaemonVerify(keyId, signature) {
    assert.equal(await daemonVerify(keyId, MESSAGE, signature), true,
                 'Verify rejects a genuine signature');
    assert.equal(
        await daemonVerify(keyId, Buffer.concat([MESSAGE, Buffer.from('x')]),
                           signature),
        false, 'Verify accepts a signature over other data');
    const tampered = Buffer.from(signature);
    tampered[tampered.length - 1] ^= 0x01;
    assert.equal(await daemonVerify(keyId, MESSAGE, tampered), false,
                 'Verify accepts a tampered signature');
  }

  try {
    client = connect(await suite.start(args.keywardd), args.proto_root);
    const other = Buffer.concat([MESSAGE, Buffer.from('x')]);

    await test('ed25519', async () => {
      const {signed, publicKey} = await signAndFetch(
          'js-ed25519', 'KEY_TYPE_ED25519', 'SIGNATURE_ALGORITHM_ED25519');
      assert.equal(publicKey.asymmetricKeyType, 'ed25519');
      const raw = signed.rawSignature;
      assert.equal(raw.length, 64);
      assert.equal(crypto.verify(null, MESSAGE, publicKey, raw), true,
                   'node:crypto rejects the raw Ed25519 signature');
      assert.equal(crypto.verify(null, MESSAGE, publicKey, flip(raw)), false);
      assert.equal(crypto.verify(null, other, publicKey, raw), false);
      await checkDaemonVerify('js-ed25519', signed.signature);
    });

    await test('ecdsa p-256', async () => {
      const {signed, publicKey} = await signAndFetch(
          'js-p256', 'KEY_TYPE_ECDSA_P256',
          'SIGNATURE_ALGORITHM_ECDSA_SHA256_DER');
      assert.equal(publicKey.asymmetricKeyType, 'ec');
      assert.equal(publicKey.asymmetricKeyDetails.namedCurve, 'prime256v1');
      const raw = signed.rawSignature;
      assert.equal(raw[0], 0x30);  // DER SEQUENCE
      assert.equal(crypto.verify('sha256', MESSAGE, publicKey, raw), true,
                   'node:crypto rejects the raw ECDSA P-256 signature');
      assert.equal(crypto.verify('sha256', MESSAGE, publicKey, flip(raw)),
                   false);
      assert.equal(crypto.verify('sha256', other, publicKey, raw), false);
      await checkDaemonVerify('js-p256', signed.signature);
    });

    await test('rsa-2048 pss', async () => {
      const {signed, publicKey} = await signAndFetch(
          'js-rsa', 'KEY_TYPE_RSA_2048', 'SIGNATURE_ALGORITHM_RSA_PSS_SHA256');
      assert.equal(publicKey.asymmetricKeyType, 'rsa');
      assert.equal(publicKey.asymmetricKeyDetails.modulusLength, 2048);
      const raw = signed.rawSignature;
      assert.equal(raw.length, 256);
      const pss = {key: publicKey,
                   padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
                   saltLength: 32};
      assert.equal(crypto.verify('sha256', MESSAGE, pss, raw), true,
                   'node:crypto rejects the raw RSA-PSS (salt 32) signature');
      assert.equal(crypto.verify('sha256', MESSAGE, pss, flip(raw)), false);
      assert.equal(crypto.verify('sha256', other, pss, raw), false);
      // The salt is 32 bytes: a verifier demanding 20 fails.
      assert.equal(crypto.verify('sha256', MESSAGE, {...pss, saltLength: 20},
                                 raw),
                   false);
      await checkDaemonVerify('js-rsa', signed.signature);
    });

    await test('encrypt/decrypt aes-256-gcm', async () => {
      const key = await client.createKey('js-aes', 'AES256_GCM',
                                         {purpose: 'ENCRYPT_DECRYPT'});
      assert.equal(key.primaryVersion, 1);
      const plaintext = Buffer.from('interop plaintext \u0000\u00ff');
      const aad = Buffer.from('record-17');
      const ciphertext = await client.encrypt('js-aes', plaintext, aad);
      assert.equal(ciphertext.includes(plaintext), false);
      assert.deepEqual(await client.decrypt('js-aes', ciphertext, aad),
                       plaintext);
      const tampered = Buffer.from(ciphertext);
      tampered[tampered.length - 1] ^= 0x01;
      for (const [ct, ad] of [[tampered, aad],
                              [ciphertext, Buffer.from('record-18')]]) {
        await assert.rejects(
            client.decrypt('js-aes', ct, ad),
            (err) => err instanceof keyward.InvalidArgumentError &&
                     err.status === 3);
      }
    });

    await test('errors carry gRPC codes', async () => {
      await assert.rejects(
          client.sign('js-missing', MESSAGE),
          (err) => err instanceof keyward.NotFoundError &&
                   err.code === 'NOT_FOUND' &&
                   err.method === 'CryptoService/Sign');
    });

    client.close();
    await suite.stopDaemon();
  } catch (e) {
    suite.setupFailed(e);
  } finally {
    suite.finish();
  }
}

// jose_interop_test.js reuses the daemon fixture and helpers.
module.exports = {Suite, connect, flip, keyward, parseArgs};

if (require.main === module) main();
