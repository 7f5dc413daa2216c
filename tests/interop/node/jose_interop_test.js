// Interop, JOSE: the real keywardd against the npm package `jose` (panva,
// pinned in package.json), through the Node client (client/node).
// Every JWS algorithm Keyward signs (MATRIX: HS256/384/512, RS256/384/512,
// PS256/384/512, ES256/384/512, EdDSA), both ways:
// - Keyward-signed tokens verify in jose using only the JWK Set from GetJwks
//   (createLocalJWKSet), also across a rotation; HMAC keys publish nothing,
//   so their tokens verify with the secret Node made and imported.
// - jose-signed tokens (keys made in Node and imported with ImportKey, the
//   key's algorithm set) verify in Keyward's VerifyJwt, with and without a
//   kid; a header naming another alg is ALGORITHM_MISMATCH.
// - jose's JWEs (RSA-OAEP-256 + A256GCM, RSA-OAEP + A128CBC-HS256, and
//   ECDH-ES / ECDH-ES+A256KW to Keyward's X25519 JWK) decrypt in Keyward
//   (DecryptJwe), and Keyward's EncryptJwe output (RSA-OAEP*, ECDH-ES* over
//   X25519) decrypts in jose with a private key Node made and imported.
//
// Run by //tests/interop:node_jose_interop_test (after `npm ci` here), or:
//   node tests/interop/node/jose_interop_test.js --keywardd=bazel-bin/daemon/keywardd
// Exits 0 only if every check passed.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const {Suite, connect, keyward, parseArgs} = require('./interop_test.js');

const PAYLOAD = Buffer.from('{"card":"4111 1111 1111 1111","exp_month":12}');

// [JWS alg, KeyType, the key's SignatureAlgorithm (null: HMAC, whose alg
// comes from its type), JWK kty, HMAC secret bytes / RSA modulus bits].
const MATRIX = [
  ['HS256', 'KEY_TYPE_HMAC_SHA256', null, 'oct', 32],
  ['HS384', 'KEY_TYPE_HMAC_SHA384', null, 'oct', 48],
  ['HS512', 'KEY_TYPE_HMAC_SHA512', null, 'oct', 64],
  ['RS256', 'KEY_TYPE_RSA_2048', 'SIGNATURE_ALGORITHM_RSA_PKCS1_SHA256', 'RSA', 2048],
  ['RS384', 'KEY_TYPE_RSA_3072', 'SIGNATURE_ALGORITHM_RSA_PKCS1_SHA384', 'RSA', 3072],
  ['RS512', 'KEY_TYPE_RSA_2048', 'SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512', 'RSA', 2048],
  ['PS256', 'KEY_TYPE_RSA_2048', 'SIGNATURE_ALGORITHM_RSA_PSS_SHA256', 'RSA', 2048],
  ['PS384', 'KEY_TYPE_RSA_2048', 'SIGNATURE_ALGORITHM_RSA_PSS_SHA384', 'RSA', 2048],
  ['PS512', 'KEY_TYPE_RSA_4096', 'SIGNATURE_ALGORITHM_RSA_PSS_SHA512', 'RSA', 4096],
  ['ES256', 'KEY_TYPE_ECDSA_P256', 'SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363', 'EC', 0],
  ['ES384', 'KEY_TYPE_ECDSA_P384', 'SIGNATURE_ALGORITHM_ECDSA_SHA384_P1363', 'EC', 0],
  ['ES512', 'KEY_TYPE_ECDSA_P521', 'SIGNATURE_ALGORITHM_ECDSA_SHA512_P1363', 'EC', 0],
  ['EdDSA', 'KEY_TYPE_ED25519', 'SIGNATURE_ALGORITHM_ED25519', 'OKP', 0],
];

// Another alg of the matrix than `alg`, for mismatches.
function otherAlg(alg) {
  const i = MATRIX.findIndex(([a]) => a === alg);
  return MATRIX[(i + 1) % MATRIX.length][0];
}

function b64u(buf) {
  return Buffer.from(buf).toString('base64url');
}

function headerOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));
}

// One bit of a compact token's part `index` flipped, decoded and re-encoded
// (editing a base64url character could touch only padding bits).
function tamperPart(token, index) {
  const parts = token.split('.');
  const raw = Buffer.from(parts[index], 'base64url');
  raw[raw.length >> 1] ^= 0x01;
  parts[index] = b64u(raw);
  return parts.join('.');
}

// The JWS with "sub" changed in its payload, signature kept.
function tamperClaims(token) {
  const [head, payload, sig] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  claims.sub = 'mallory';
  return [head, b64u(JSON.stringify(claims)), sig].join('.');
}

// Rejects with a jose error of this code.
function joseCode(code) {
  return (err) => {
    assert.equal(err && err.code, code, `want ${code}, got ${err && err.stack}`);
    return true;
  };
}

// Rejects with the Node client's error class for the status `code`.
function keywardCode(Cls, code) {
  return (err) => {
    assert.ok(err instanceof Cls && err.code === code,
              `want ${code}, got ${err && err.stack}`);
    return true;
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  // jose 6 is an ES module; import() works from CommonJS on Node 18+.
  const jose = await import('jose');
  const suite = new Suite();
  const test = (name, fn) => suite.test(name, fn);
  let client;


  // A JWT key of one matrix row: made by Keyward with the row's algorithm,
  // or for HMAC a secret made here and imported (returned; else null).
  async function createJwtKey(keyId, [alg, keyType, algorithm, , size]) {
    if (!algorithm) {
      const secret = crypto.randomBytes(size);
      await importKey(keyId, keyType, 'KEY_PURPOSE_JWT', 'KEY_MATERIAL_FORMAT_RAW_SECRET',
                      secret);
      return secret;
    }
    const created = await client.createKey(keyId, keyType,
                                           {purpose: 'JWT', algorithms: [algorithm]});
    assert.equal(created.name, `keys/${keyId}`);
    assert.deepEqual(created.signatureAlgorithms, [algorithm], alg);
    assert.equal((await client.getKeyVersion(keyId, 1)).kid, `${keyId}:v1`);
    return null;
  }

  // extra: {jweAlgorithm, algorithms} of the new key.
  async function importKey(keyId, keyType, purpose, format, material, extra = {}) {
    const resp = await client.importKey(Buffer.from(material), format, {
      keyId, keyType, purpose, ...extra});
    assert.equal(resp.key.name, `keys/${keyId}`);
    assert.equal(resp.key.keyType, keyType);
    assert.equal(resp.key.purpose, purpose);
    assert.deepEqual(resp.key.signatureAlgorithms, extra.algorithms || []);
    assert.equal(resp.version.kid, `${keyId}:v1`);
    return resp;
  }

  function getJwks(names) {
    return client.getJwks(names);
  }

  function verifyJwt(token, name = '', audience = 'api') {
    return client.verifyJwt(token, {key: name || undefined, audience});
  }

  function assertValid(verdict, keyId, claims, kid) {
    assert.deepEqual([verdict.valid, verdict.failure], [true, ''],
                     verdict.failureDetail);
    assert.deepEqual(verdict.claims, claims);
    assert.equal(verdict.header.kid, kid);
    assert.equal(verdict.keyVersion, `keys/${keyId}/versions/1`);
  }

  // failure: the JwtFailure's short name ('BAD_SIGNATURE').
  function assertInvalid(verdict, failure) {
    assert.deepEqual([verdict.valid, verdict.failure], [false, failure],
                     verdict.failureDetail);
    assert.ok(verdict.failureDetail);
    assert.equal(verdict.claims, null);
  }

  try {
    client = connect(await suite.start(args.keywardd), args.proto_root);

    // --- Keyward signs, jose verifies with the published JWKS ---

    // The key of a matrix row that Keyward signs with.
    const kwKeyId = (alg) => `js-kw-${alg.toLowerCase()}`;
    const asymmetric = MATRIX.filter(([, , algorithm]) => algorithm);
    await test('keyward JWTs of every alg verify in jose with only GetJwks', async () => {
      const secrets = new Map();  // HMAC alg -> the secret Keyward holds too
      for (const row of MATRIX) {
        const secret = await createJwtKey(kwKeyId(row[0]), row);
        if (secret) secrets.set(row[0], secret);
      }
      // An HMAC key publishes nothing.
      await assert.rejects(getJwks([`keys/${kwKeyId('HS256')}`]),
                           keywardCode(keyward.FailedPreconditionError,
                                       'FAILED_PRECONDITION'));
      const jwks = await getJwks(asymmetric.map(([alg]) => `keys/${kwKeyId(alg)}`));
      assert.equal(jwks.keys.length, asymmetric.length);
      for (const [i, [alg, , , kty]] of asymmetric.entries()) {
        const jwk = jwks.keys[i];
        assert.deepEqual([jwk.kid, jwk.alg, jwk.use, jwk.kty],
                         [`${kwKeyId(alg)}:v1`, alg, 'sig', kty]);
        for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
          assert.equal(priv in jwk, false, `JWKS member ${priv} in ${alg}`);
        }
      }
      const JWKS = jose.createLocalJWKSet(jwks);
      for (const [alg] of MATRIX) {
        const keyId = kwKeyId(alg);
        const key = secrets.get(alg) || JWKS;
        const signed = await client.signJwt(keyId, {sub: 'alice', aud: 'api', n: 17},
                                            {ttl: 120});
        const {payload, protectedHeader} = await jose.jwtVerify(
            signed.token, key, {audience: 'api', algorithms: [alg]});
        assert.deepEqual(protectedHeader,
                         {alg, kid: `${keyId}:v1`, typ: 'JWT'});
        assert.equal(payload.sub, 'alice');
        assert.equal(payload.n, 17);
        assert.equal(payload.jti, signed.jti);
        assert.equal(payload.exp - payload.iat, 120);
        await assert.rejects(
            jose.jwtVerify(tamperPart(signed.token, 2), key,
                           {audience: 'api', algorithms: [alg]}),
            joseCode('ERR_JWS_SIGNATURE_VERIFICATION_FAILED'));
        await assert.rejects(
            jose.jwtVerify(tamperClaims(signed.token), key,
                           {audience: 'api', algorithms: [alg]}),
            joseCode('ERR_JWS_SIGNATURE_VERIFICATION_FAILED'));
        await assert.rejects(
            jose.jwtVerify(signed.token, key,
                           {audience: 'web', algorithms: [alg]}),
            joseCode('ERR_JWT_CLAIM_VALIDATION_FAILED'));
        if (key === JWKS) {
          // Only the key's own JWK verifies it: the set of the others has
          // no key with this kid.
          const others = jose.createLocalJWKSet(
              {keys: jwks.keys.filter((k) => k.kid !== `${keyId}:v1`)});
          await assert.rejects(
              jose.jwtVerify(signed.token, others, {audience: 'api'}),
              joseCode('ERR_JWKS_NO_MATCHING_KEY'));
        }
      }
    });

    await test('keyward JWTs verify in jose across a rotation', async () => {
      const keyId = kwKeyId('ES256');
      const name = `keys/${keyId}`;
      const sign = async () => (await client.signJwt(name, {sub: 'bob'},
                                                     {ttl: 60})).token;
      const before = await sign();
      const oldSet = jose.createLocalJWKSet(await getJwks([name]));
      const rotated = await client.rotateKey(name);
      assert.equal(rotated.kid, `${keyId}:v2`);
      const after = await sign();
      assert.equal(headerOf(after).kid, `${keyId}:v2`);
      const jwks = await getJwks([name]);
      // Both versions are published (jose picks by kid; order is not
      // checked here).
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(),
                       [`${keyId}:v1`, `${keyId}:v2`]);
      const newSet = jose.createLocalJWKSet(jwks);
      for (const token of [before, after]) {
        const {payload} = await jose.jwtVerify(token, newSet,
                                               {algorithms: ['ES256']});
        assert.equal(payload.sub, 'bob');
      }
      // A relying party still holding the old set cannot find v2.
      await assert.rejects(jose.jwtVerify(after, oldSet),
                           joseCode('ERR_JWKS_NO_MATCHING_KEY'));
    });

    // --- jose signs with keys made in Node, Keyward verifies ---

    for (const [alg, keyType, algorithm, , size] of MATRIX) {
      const keyId = `js-imp-${alg.toLowerCase()}`;
      const kid = `${keyId}:v1`;
      const name = `keys/${keyId}`;
      let signingKey = null;
      const mint = async (header) => {
        const now = Math.floor(Date.now() / 1000);
        const claims = {sub: 'alice', aud: 'api', iss: 'node-login',
                        iat: now, nbf: now, exp: now + 300,
                        roles: ['admin'], alg};
        const token = await new jose.SignJWT(claims)
            .setProtectedHeader(header).sign(signingKey);
        return {token, claims};
      };

      await test(`jose ${alg} tokens verify in keyward`, async () => {
        if (!algorithm) {
          const secret = crypto.randomBytes(size);
          await importKey(keyId, keyType, 'KEY_PURPOSE_JWT',
                          'KEY_MATERIAL_FORMAT_RAW_SECRET', secret);
          signingKey = secret;
        } else {
          const pair = await jose.generateKeyPair(alg, {
            extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
            modulusLength: size || undefined});
          await importKey(keyId, keyType, 'KEY_PURPOSE_JWT',
                          'KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM',
                          await jose.exportPKCS8(pair.privateKey),
                          {algorithms: [algorithm]});
          signingKey = pair.privateKey;
        }
        const {token, claims} = await mint({alg, kid, typ: 'JWT'});
        // Found by kid, and pinned.
        assertValid(await verifyJwt(token), keyId, claims, kid);
        assertValid(await verifyJwt(token, name), keyId, claims, kid);
        assertInvalid(await verifyJwt(token, '', 'web'),
                      'AUDIENCE_MISMATCH');
        assertInvalid(await verifyJwt(tamperPart(token, 2)),
                      'BAD_SIGNATURE');
        assertInvalid(await verifyJwt(tamperClaims(token)),
                      'BAD_SIGNATURE');
        assertInvalid(await verifyJwt(tamperPart(token, 2), name),
                      'BAD_SIGNATURE');
        // Another alg in the header: refused before the signature.
        const [, payload, sig] = token.split('.');
        const forged = [b64u(JSON.stringify({alg: otherAlg(alg), kid, typ: 'JWT'})),
          payload, sig].join('.');
        assertInvalid(await verifyJwt(forged), 'ALGORITHM_MISMATCH');
      });

      await test(`jose ${alg} tokens without kid verify in keyward pinned`,
                 async () => {
        assert.ok(signingKey, 'the key was not imported (see above)');
        // Issued before the service moved its key into Keyward: no kid.
        // Verifies with the key pinned; unpinned, nothing names a key.
        const {token, claims} = await mint({alg, typ: 'JWT'});
        assert.equal('kid' in headerOf(token), false);
        assertValid(await verifyJwt(token, name), keyId, claims, undefined);
        assertInvalid(await verifyJwt(tamperPart(token, 2), name),
                      'BAD_SIGNATURE');
        assertInvalid(await verifyJwt(token), 'KEY_NOT_FOUND');
      });
    }

    // --- JWE both ways ---

    const jweCases = [
      ['RSA-OAEP-256', 'A256GCM', 'JWE_ALGORITHM_RSA_OAEP_256',
       'JWE_ENCRYPTION_A256GCM', 'oaep256'],
      ['RSA-OAEP', 'A128CBC-HS256', 'JWE_ALGORITHM_RSA_OAEP',
       'JWE_ENCRYPTION_A128CBC_HS256', 'oaep'],
    ];
    for (const [alg, enc, algorithm, encryption, tag] of jweCases) {
      await test(`jose JWE ${alg} + ${enc} decrypts in keyward`, async () => {
        // Keyward makes the key; Node encrypts to its published public JWK.
        const keyId = `js-jwe-${tag}`;
        const created = await client.createKey(keyId, 'RSA_2048', {
          purpose: 'JWE', jweAlgorithm: algorithm});
        assert.equal(created.jweAlgorithm, algorithm);
        const pub = await client.getPublicKey(keyId, {format: 'jwk'});
        assert.equal(pub.kid, `${keyId}:v1`);
        const jwk = JSON.parse(pub.publicKey.toString('utf8'));
        assert.equal(jwk.kty, 'RSA');
        assert.equal('d' in jwk, false);
        const publicKey = await jose.importJWK(jwk, alg);
        const token = await new jose.CompactEncrypt(PAYLOAD)
            .setProtectedHeader({alg, enc, kid: `${keyId}:v1`})
            .encrypt(publicKey);
        // Pinned, and found by kid.
        for (const name of [`keys/${keyId}`, '']) {
          const out = await client.decryptJwe(token, {key: name || undefined});
          assert.deepEqual(out.payload, PAYLOAD);
          assert.equal(out.keyVersion, `keys/${keyId}/versions/1`);
          const header = out.header;
          assert.deepEqual([header.alg, header.enc], [alg, enc]);
        }
        for (const part of [3, 4, 2]) {  // ciphertext, tag, iv
          await assert.rejects(
              client.decryptJwe(tamperPart(token, part), {key: keyId}),
              keywardCode(keyward.InvalidArgumentError, 'INVALID_ARGUMENT'));
        }
        // Encrypted to another RSA key (made in Node): refused.
        const stranger = await jose.generateKeyPair(alg, {extractable: true});
        const foreign = await new jose.CompactEncrypt(PAYLOAD)
            .setProtectedHeader({alg, enc}).encrypt(stranger.publicKey);
        await assert.rejects(
            client.decryptJwe(foreign, {key: keyId}),
            keywardCode(keyward.InvalidArgumentError, 'INVALID_ARGUMENT'));
      });

      await test(`keyward JWE ${alg} + ${enc} decrypts in jose`, async () => {
        // Node makes the key pair and imports the private key into Keyward
        // as a JWE key; Keyward encrypts, Node decrypts.
        const keyId = `js-jwe-imp-${tag}`;
        const pair = await jose.generateKeyPair(
            alg, {extractable: true, modulusLength: 2048});
        await importKey(keyId, 'KEY_TYPE_RSA_2048', 'KEY_PURPOSE_JWE',
                        'KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM',
                        await jose.exportPKCS8(pair.privateKey), {jweAlgorithm: algorithm});
        const out = await client.encryptJwe(keyId, PAYLOAD, {algorithm, encryption});
        assert.equal(out.keyVersion, `keys/${keyId}/versions/1`);
        assert.equal(out.token.split('.').length, 5);
        const {plaintext, protectedHeader} = await jose.compactDecrypt(
            out.token, pair.privateKey);
        assert.deepEqual(Buffer.from(plaintext), PAYLOAD);
        assert.equal(protectedHeader.alg, alg);
        assert.equal(protectedHeader.enc, enc);
        assert.equal(protectedHeader.kid, `${keyId}:v1`);
        // jose refuses it with another private key, or altered.
        const stranger = await jose.generateKeyPair(alg, {extractable: true});
        await assert.rejects(jose.compactDecrypt(out.token, stranger.privateKey),
                             joseCode('ERR_JWE_DECRYPTION_FAILED'));
        await assert.rejects(
            jose.compactDecrypt(tamperPart(out.token, 3), pair.privateKey),
            joseCode('ERR_JWE_DECRYPTION_FAILED'));
        // Each EncryptJwe is fresh (new content key and IV).
        const again = await client.encryptJwe(keyId, PAYLOAD, {algorithm, encryption});
        assert.notEqual(again.token, out.token);
        assert.deepEqual(
            Buffer.from((await jose.compactDecrypt(again.token,
                                                   pair.privateKey)).plaintext),
            PAYLOAD);
      });
    }

    // --- JWE ECDH-ES over X25519 (RFC 8037) both ways ---

    const x25519Cases = [
      ['ECDH-ES', 'JWE_ALGORITHM_ECDH_ES', 'x'],
      ['ECDH-ES+A256KW', 'JWE_ALGORITHM_ECDH_ES_A256KW', 'xkw'],
    ];
    for (const [alg, algorithm, tag] of x25519Cases) {
      await test(`jose JWE ${alg} to keyward's X25519 JWK decrypts in keyward`, async () => {
        const keyId = `js-jwe-${tag}`;
        const created = await client.createKey(keyId, 'X25519', {
          purpose: 'JWE', jweAlgorithm: algorithm});
        assert.equal(created.jweAlgorithm, algorithm);
        const jwk = JSON.parse(
            (await client.getPublicKey(keyId, {format: 'jwk'})).publicKey.toString('utf8'));
        assert.deepEqual([jwk.kty, jwk.crv, jwk.alg, jwk.use, 'd' in jwk],
                         ['OKP', 'X25519', alg, 'enc', false]);
        const token = await new jose.CompactEncrypt(PAYLOAD)
            .setProtectedHeader({alg, enc: 'A256GCM', kid: `${keyId}:v1`})
            .encrypt(await jose.importJWK(jwk, alg));
        const {epk} = headerOf(token);
        assert.deepEqual([epk.kty, epk.crv], ['OKP', 'X25519']);
        assert.equal(token.split('.')[1] === '', alg === 'ECDH-ES');
        for (const name of [`keys/${keyId}`, '']) {
          const out = await client.decryptJwe(token, {key: name || undefined});
          assert.deepEqual(out.payload, PAYLOAD);
          assert.equal(out.keyVersion, `keys/${keyId}/versions/1`);
        }
        await assert.rejects(
            client.decryptJwe(tamperPart(token, 3), {key: keyId}),
            keywardCode(keyward.InvalidArgumentError, 'INVALID_ARGUMENT'));
        // Encrypted to another X25519 key (made in Node): refused.
        const stranger = await jose.generateKeyPair(alg, {crv: 'X25519'});
        const foreign = await new jose.CompactEncrypt(PAYLOAD)
            .setProtectedHeader({alg, enc: 'A256GCM'}).encrypt(stranger.publicKey);
        await assert.rejects(
            client.decryptJwe(foreign, {key: keyId}),
            keywardCode(keyward.InvalidArgumentError, 'INVALID_ARGUMENT'));
      });

      await test(`keyward JWE ${alg} over X25519 decrypts in jose`, async () => {
        const keyId = `js-jwe-imp-${tag}`;
        const pair = await jose.generateKeyPair(alg, {crv: 'X25519', extractable: true});
        await importKey(keyId, 'KEY_TYPE_X25519', 'KEY_PURPOSE_JWE',
                        'KEY_MATERIAL_FORMAT_PRIVATE_KEY_PEM',
                        await jose.exportPKCS8(pair.privateKey), {jweAlgorithm: algorithm});
        const out = await client.encryptJwe(keyId, PAYLOAD, {algorithm});
        const {plaintext, protectedHeader} = await jose.compactDecrypt(
            out.token, pair.privateKey);
        assert.deepEqual(Buffer.from(plaintext), PAYLOAD);
        assert.deepEqual([protectedHeader.alg, protectedHeader.enc, protectedHeader.kid],
                         [alg, 'A256GCM', `${keyId}:v1`]);
        const stranger = await jose.generateKeyPair(alg, {crv: 'X25519'});
        await assert.rejects(jose.compactDecrypt(out.token, stranger.privateKey),
                             joseCode('ERR_JWE_DECRYPTION_FAILED'));
      });
    }

    client.close();
    await suite.stopDaemon();
  } catch (e) {
    suite.setupFailed(e);
  } finally {
    suite.finish();
  }
}

main();
