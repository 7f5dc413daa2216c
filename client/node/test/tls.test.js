// Mutual TLS to the real keywardd's TCP listener (certificates from the
// openssl CLI). In the BoringSSL flavor ($KEYWARD_FLAVOR=boringssl) the
// daemon has no TLS and refuses the listener: that refusal is asserted.
'use strict';

const assert = require('node:assert/strict');
const {test} = require('node:test');

const keyward = require('..');
const {Daemon} = require('./daemon');

test('mutual TLS: the client certificate is the caller', async () => {
  if (process.env.KEYWARD_FLAVOR === 'boringssl') {
    await assert.rejects(Daemon.start({tls: true}),
                         /BoringSSL build, whose gRPC has no TLS/);
    return;
  }
  const daemon = await Daemon.start({tls: true});
  try {
    const {pki} = daemon;
    const tls = {caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey,
      serverName: 'localhost'};
    const c = new keyward.Client(daemon.tlsTarget, {tls});
    try {
      const me = await c.whoAmI();
      assert.equal(me.principal, 'spiffe://test.example/ci');
      assert.equal(me.authentication, 'AUTHENTICATION_METHOD_MTLS');
    } finally {
      c.close();
    }
    // Without a client certificate the handshake fails: UNAVAILABLE, as a
    // KeywardError.
    const anon = new keyward.Client(daemon.tlsTarget, {tls: {caFile: pki.ca},
      retry: {maxAttempts: 1}});
    try {
      await assert.rejects(anon.whoAmI(), keyward.UnavailableError);
    } finally {
      anon.close();
    }
  } finally {
    await daemon.stop();
  }
});
