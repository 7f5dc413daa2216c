// Test support: the real keywardd ($KEYWARDD, or the binary option) on a
// temp dir and Unix socket, its keystore on the test target's backend
// (storageConfig), optionally with a plaintext loopback TCP listener and a
// mutual-TLS listener (certificates made with the openssl CLI). No mocks.
// Also used by tests/interop/node.
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const readline = require('node:readline');

const {Client} = require('..');

const PASSPHRASE = 'node client test passphrase';

function keywardd(binary) {
  const chosen = binary || process.env.KEYWARDD;
  if (!chosen) throw new Error('set KEYWARDD to the keywardd binary');
  return path.resolve(chosen);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function writeSecret(file, data) {
  fs.writeFileSync(file, data, {mode: 0o600, flag: 'wx'});
  return file;
}

function openssl(args, cwd) {
  const r = childProcess.spawnSync('openssl', args, {cwd, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

// A CA, a server certificate for localhost/127.0.0.1 and a client
// certificate with URI SAN spiffe://test.example/ci.
function makePki(dir) {
  fs.mkdirSync(dir, {mode: 0o700});
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1',
    '-subj', '/CN=test CA', '-addext', 'basicConstraints=critical,CA:TRUE'], dir);
  const leaf = (stem, cn, san) => {
    openssl(['req', ...ec, '-keyout', `${stem}.key`, '-out', `${stem}.csr`,
      '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:FALSE'], dir);
    openssl(['x509', '-req', '-in', `${stem}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', `${stem}.pem`], dir);
  };
  leaf('server', 'keywardd', 'DNS:localhost,IP:127.0.0.1');
  leaf('client', 'ci-client', 'URI:spiffe://test.example/ci');
  const p = (f) => path.join(dir, f);
  return {ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'),
    clientCert: p('client.pem'), clientKey: p('client.key')};
}

// The keystore's backend, chosen by the test target as for the C++ and
// Python tests (tests/test_storage.h, tests/python/kwstorage.py):
// KEYWARD_TEST_BACKEND unset or "sqlite" is the data dir's SQLite file;
// "postgres" is a new, empty database per daemon on a real throwaway
// PostgreSQL server, //tests:postgres_test_server from the runfiles, started
// on first use and stopped when this process exits (its stdin closes).
let pgServer = null;

async function createDatabase() {
  if (!pgServer) {
    const root = path.join(process.env.TEST_SRCDIR || '.',
        process.env.TEST_WORKSPACE || 'keyward');
    const binary = path.join(root, 'tests', 'postgres_test_server');
    if (!fs.existsSync(binary)) {
      throw new Error(`KEYWARD_TEST_BACKEND=postgres needs ${binary} in the ` +
                      'runfiles (tests/backends.bzl)');
    }
    const proc = childProcess.spawn(binary, [], {stdio: ['pipe', 'pipe', 'inherit']});
    const lines = readline.createInterface({input: proc.stdout})[Symbol.asyncIterator]();
    // Not kept alive by the server: it stops when this process exits.
    proc.unref();
    pgServer = {proc, lines, next: async () => {
      proc.stdout.ref();
      try {
        const {value, done} = await lines.next();
        return done ? 'error: postgres_test_server exited' : value;
      } finally {
        proc.stdout.unref();
      }
    }};
    proc.stdin.unref();
    const ready = await pgServer.next();
    if (ready !== 'ready') throw new Error(`postgres_test_server: ${ready}`);
  }
  pgServer.proc.stdin.write('createdb\n');
  const dsn = await pgServer.next();
  if (dsn.startsWith('error:')) throw new Error(`postgres_test_server: ${dsn}`);
  return dsn;
}

// storageConfig is the config text to put first in the config given to
// both `keywardd init` and the daemon ('' for SQLite).
async function storageConfig() {
  const backend = process.env.KEYWARD_TEST_BACKEND || 'sqlite';
  if (backend === 'sqlite') return '';
  if (backend !== 'postgres') {
    throw new Error(`KEYWARD_TEST_BACKEND=${backend}: use sqlite or postgres`);
  }
  return `storage { postgres { dsn: "${await createDatabase()}" pool_size: 4 } }\n`;
}

class Daemon {
  // Starts keywardd; resolves when it serves (GetStatus answers). On a
  // failure to start, the temp dir is removed and the error names why.
  static async start({tcp = false, tls = false, binary = undefined} = {}) {
    const d = new Daemon();
    try {
      await d._start(tcp, tls, binary);
    } catch (e) {
      d.cleanup();
      throw e;
    }
    return d;
  }

  async _start(tcp, tls, binary) {
    this.binary = keywardd(binary);
    this.dir = fs.mkdtempSync('/tmp/kwnode');
    this.socket = path.join(this.dir, 'k.sock');
    this.target = `unix://${this.socket}`;
    this.passphraseFile = writeSecret(path.join(this.dir, 'passphrase'), `${PASSPHRASE}\n`);
    this.dataDir = path.join(this.dir, 'data');
    fs.mkdirSync(this.dataDir, {mode: 0o700});
    const storage = await storageConfig();
    const config = [storage, 'audit { fsync: AUDIT_FSYNC_INTERVAL }'];
    if (tcp) {
      this.tcpTarget = `127.0.0.1:${await freePort()}`;
      config.push(`tcp_listeners { address: "${this.tcpTarget}" }`);
    }
    if (tls) {
      this.pki = makePki(path.join(this.dir, 'pki'));
      this.tlsTarget = `127.0.0.1:${await freePort()}`;
      config.push(`tcp_listeners { address: "${this.tlsTarget}" tls { cert_file: ` +
                  `"${this.pki.serverCert}" key_file: "${this.pki.serverKey}" ` +
                  `client_ca_file: "${this.pki.ca}" require_client_cert: true } }`);
    }
    this.config = path.join(this.dir, 'keywardd.conf');
    fs.writeFileSync(this.config, config.join('\n') + '\n');
    // init gets the storage only (the listeners are the daemon's).
    const initConfig = path.join(this.dir, 'init.conf');
    fs.writeFileSync(initConfig, storage);
    const init = childProcess.spawnSync(this.binary, ['init', '--config', initConfig,
      '--data_dir', this.dataDir, '--passphrase_file', this.passphraseFile],
    {encoding: 'utf8', timeout: 120000});
    if (init.status !== 0) {
      throw new Error(`keywardd init exited ${init.status}:\n${init.stdout}${init.stderr}`);
    }
    this.logPath = path.join(this.dir, 'keywardd.log');
    const log = fs.openSync(this.logPath, 'w');
    this.proc = childProcess.spawn(this.binary, ['--config', this.config, '--data_dir',
      this.dataDir, '--passphrase_file', this.passphraseFile, '--socket', this.socket],
    {stdio: ['ignore', log, log]});
    fs.closeSync(log);
    this.exit = null;
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      this.exit = {code, signal};
      resolve(this.exit);
    }));
    const probe = new Client(this.target, {timeout: 2, retry: {maxAttempts: 1}});
    try {
      const deadline = Date.now() + 60000;
      for (;;) {
        if (this.exit) throw new Error(`keywardd exited before serving:\n${this.output()}`);
        try {
          await probe.getStatus();
          return;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`keywardd not serving:\n${this.output()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      probe.close();
    }
  }

  output() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  // SIGTERM; throws unless keywardd exits 0 within 30 s. Removes the dir.
  async stop() {
    try {
      if (!this.exit) this.proc.kill('SIGTERM');
      const timer = new Promise((r) => setTimeout(r, 30000, null).unref());
      const exit = await Promise.race([this.exited, timer]);
      if (!exit) throw new Error('keywardd ignored SIGTERM for 30 s');
      if (exit.code !== 0) throw new Error(`keywardd exited ${JSON.stringify(exit)}:\n${this.output()}`);
    } finally {
      this.cleanup();
    }
  }

  // SIGKILL if still running; removes the temp dir.
  cleanup() {
    if (this.proc && !this.exit) this.proc.kill('SIGKILL');
    if (this.dir) fs.rmSync(this.dir, {recursive: true, force: true});
  }
}

module.exports = {Daemon, writeSecret, PASSPHRASE};
