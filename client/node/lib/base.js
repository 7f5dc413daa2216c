// The part of the Client that does not depend on the RPC: target selection,
// credentials, the session token, deadlines, the retry rule (the C++
// client's: client/client.h) and the four call shapes (unary, paged,
// server stream, client stream). The RPC methods live in the service files
// (crypto.js, keys.js, access.js, system.js, jwt.js).
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const grpc = require('@grpc/grpc-js');

const protos = require('./protos');
const {KeywardError, errorFromGrpc} = require('./errors');
const util = require('./util');

// The socket used when no target is given and neither $KEYWARD_ADDR nor
// $XDG_RUNTIME_DIR is set (as the C++ client's kDefaultSystemSocket).
const DEFAULT_SYSTEM_SOCKET = '/var/lib/keyward/keyward.sock';
const MAX_MESSAGE = 4 * 1024 * 1024;  // the API's message limit

// The target string: `target` if given, else $KEYWARD_ADDR, else
// unix://$XDG_RUNTIME_DIR/keyward/keyward.sock, else the system socket. An
// absolute path '/p' means the Unix socket 'unix:///p'.
function selectTarget(target, env = process.env) {
  let chosen = target || env.KEYWARD_ADDR || '';
  if (!chosen) {
    chosen = env.XDG_RUNTIME_DIR ?
      `unix://${env.XDG_RUNTIME_DIR}/keyward/keyward.sock` :
      `unix://${DEFAULT_SYSTEM_SOCKET}`;
  }
  return chosen.startsWith('/') ? `unix://${chosen}` : chosen;
}

function isLoopback(host) {
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}

// {grpcTarget, host (null for a Unix socket)} with the C++ client's forms:
// unix:///abs, unix:rel, /abs, host:port, [v6]:port, dns:///host:port.
function parseTarget(target) {
  let t = String(target).trim();
  if (!t) throw new TypeError('empty target');
  if (t.startsWith('unix:')) {
    const long = t.startsWith('unix://');
    const p = long ? t.slice(7) : t.slice(5);
    if (long && !p.startsWith('/')) {
      throw new TypeError(`target ${target}: unix:// takes an absolute path (unix:///run/x.sock)`);
    }
    if (!p) throw new TypeError(`target ${target} has an empty socket path`);
    return {grpcTarget: `unix:${p}`, host: null};
  }
  if (t.startsWith('dns:///')) t = t.slice(7);
  else if (t.includes('://')) {
    throw new TypeError(`target ${target} has an unsupported scheme; use unix:///path or host:port`);
  }
  let host; let port;
  if (t.startsWith('[')) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(t);
    [host, port] = m ? [m[1], m[2]] : ['', ''];
  } else {
    const i = t.lastIndexOf(':');
    host = i > 0 ? t.slice(0, i) : '';
    port = i > 0 ? t.slice(i + 1) : '';
    if (host.includes(':')) {
      throw new TypeError(`target ${target}: write IPv6 hosts as [addr]:port`);
    }
  }
  if (!host || !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new TypeError(`target ${target} needs a host and a port from 1 to 65535`);
  }
  return {grpcTarget: t, host};
}

function readPem(file, what) {
  if (!file) return null;
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TypeError(`cannot read the ${what} file ${JSON.stringify(file)}: ${e.code}`);
  }
}

const DEFAULT_RETRY = {maxAttempts: 3, initialBackoff: 0.05, multiplier: 2,
  maxBackoff: 1};
const CLIENT_OPTIONS = ['timeout', 'streamTimeout', 'tls', 'token',
  'tokenFile', 'retry', 'protoRoot'];
const UNAVAILABLE = grpc.status.UNAVAILABLE;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class ClientBase {
  // See index.d.ts (ClientOptions) for the options; TypeError or
  // RangeError before any call for a bad target, plaintext TCP to a
  // non-loopback host, TLS on a Unix socket, an unreadable file or a
  // non-positive timeout.
  constructor(target, options = {}) {
    if (target !== undefined && target !== null && typeof target !== 'string') {
      throw new TypeError(`target must be a string, not ${util.describe(target)}`);
    }
    const opts = util.checkOptions('Client', options, CLIENT_OPTIONS);
    this.timeout = opts.timeout ?? 10;
    this.streamTimeout = opts.streamTimeout ?? 600;
    for (const [name, v] of [['timeout', this.timeout], ['streamTimeout', this.streamTimeout]]) {
      if (typeof v !== 'number' || !(v > 0)) {
        throw new RangeError(`${name} must be a positive number of seconds`);
      }
    }
    this.retry = {...DEFAULT_RETRY, ...(opts.retry || {})};
    if (!Number.isInteger(this.retry.maxAttempts) || this.retry.maxAttempts < 1) {
      throw new RangeError('retry.maxAttempts must be an integer of at least 1');
    }
    this.target = selectTarget(target);
    this._token = '';
    if (opts.token !== undefined || opts.tokenFile !== undefined) {
      const t = typeof opts.token === 'string' ? Buffer.from(opts.token) : opts.token;
      this.setToken(util.secret(t, opts.tokenFile, 'session token'));
    }
    const {grpcTarget, host} = parseTarget(this.target);
    const channelOptions = {'grpc.max_receive_message_length': MAX_MESSAGE};
    let credentials;
    if (opts.tls) {
      const tls = opts.tls;
      if (host === null) {
        throw new TypeError('TLS options apply to host:port targets, not Unix sockets');
      }
      if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
        throw new TypeError('a client certificate needs both certFile and keyFile');
      }
      credentials = grpc.credentials.createSsl(
          readPem(tls.caFile, 'CA'), readPem(tls.keyFile, 'client key'),
          readPem(tls.certFile, 'client certificate'));
      if (tls.serverName) channelOptions['grpc.ssl_target_name_override'] = tls.serverName;
    } else {
      if (host !== null && !isLoopback(host)) {
        throw new TypeError(`plaintext TCP is allowed only to loopback hosts; ${host} needs tls`);
      }
      credentials = grpc.credentials.createInsecure();
    }
    this._definition = protos.load(opts.protoRoot);
    this._channel = new grpc.Client(grpcTarget, credentials, channelOptions);
  }

  // Closes the channel; calls in flight are cancelled.
  close() {
    this._channel.close();
  }

  // Uses `token` (string or Buffer; empty: none) as the session token of
  // later calls. TypeError if it is not printable ASCII (not shown).
  setToken(token) {
    const text = (Buffer.isBuffer(token) || token instanceof Uint8Array ?
      Buffer.from(token).toString('latin1') : String(token ?? '')).trim();
    if (text && !/^[\x21-\x7e]+$/.test(text)) {
      throw new TypeError('a session token is printable ASCII without spaces');
    }
    this._token = text;
  }

  _metadata() {
    const md = new grpc.Metadata();
    if (this._token) md.set('authorization', `Bearer ${this._token}`);
    return md;
  }

  _enum(type, prefix, value, what) {
    return util.enumValue(protos.enumNames(this._definition, type), prefix,
                          type, value, what);
  }

  _optionalEnum(type, prefix, value, what) {
    return value === undefined || value === null ? `${prefix}UNSPECIFIED` :
      this._enum(type, prefix, value, what);
  }

  // Deadline in ms since the epoch.
  _deadline(timeout, stream = false) {
    const chosen = timeout ?? (stream ? this.streamTimeout : this.timeout);
    if (typeof chosen !== 'number' || !(chosen > 0)) {
      throw new RangeError('timeout must be a positive number of seconds');
    }
    return Date.now() + chosen * 1000;
  }

  _def(service, method) {
    return this._definition[`keyward.v1.${service}`][method];
  }

  // Milliseconds to wait before attempt `attempt`+1, or -1 when the rule
  // allows no retry: a state-changing call, a code other than UNAVAILABLE,
  // attempts used up, or a pause that runs past the deadline.
  _retryPause(error, idempotent, attempt, deadline) {
    if (!idempotent || error.status !== UNAVAILABLE ||
        attempt >= this.retry.maxAttempts) return -1;
    const r = this.retry;
    const pause = 1000 * Math.min(
        r.initialBackoff * r.multiplier ** Math.max(0, attempt - 1), r.maxBackoff);
    return Date.now() + pause >= deadline ? -1 : pause;
  }

  // One unary call with the deadline and the retry rule; resolves to
  // convert(response).
  async _unary(service, method, request, convert, {idempotent, timeout}) {
    const def = this._def(service, method);
    const deadline = this._deadline(timeout);
    for (let attempt = 1; ; attempt++) {
      let error;
      try {
        const response = await new Promise((resolve, reject) => {
          this._channel.makeUnaryRequest(
              def.path, def.requestSerialize, def.responseDeserialize, request,
              this._metadata(), {deadline: new Date(deadline)},
              (err, resp) => (err ? reject(err) : resolve(resp)));
        });
        return convert(response);
      } catch (e) {
        error = errorFromGrpc(e, `${service}/${method}`);
      }
      const pause = this._retryPause(error, idempotent, attempt, deadline);
      if (pause < 0) throw error;
      await sleep(pause);
    }
  }

  // Every item of `field` over all pages, following nextPageToken.
  async* _pages(service, method, request, field, timeout) {
    const seen = new Set();
    for (;;) {
      const page = await this._unary(service, method, request, (r) => r,
                                     {idempotent: true, timeout});
      yield* page[field];
      const token = page.nextPageToken;
      if (!token) return;
      if (seen.has(token)) {
        throw new KeywardError(grpc.status.INTERNAL, 'the daemon repeated a page token',
                               `${service}/${method}`);
      }
      seen.add(token);
      request.pageToken = token;
    }
  }

  // The response messages of a server stream; leaving the iteration early
  // cancels the call. `deadline` null: none.
  async* _serverStream(service, method, request, deadline) {
    const def = this._def(service, method);
    const call = this._channel.makeServerStreamRequest(
        def.path, def.requestSerialize, def.responseDeserialize, request,
        this._metadata(), deadline ? {deadline: new Date(deadline)} : {});
    let done = false;
    try {
      for await (const message of call) yield message;
      done = true;
    } catch (e) {
      throw errorFromGrpc(e, `${service}/${method}`);
    } finally {
      if (!done) call.cancel();
    }
  }

  // A client stream of the messages of the (async) iterable `requests`.
  async _clientStream(service, method, requests, convert, deadline) {
    const def = this._def(service, method);
    const name = `${service}/${method}`;
    let call;
    const result = new Promise((resolve, reject) => {
      call = this._channel.makeClientStreamRequest(
          def.path, def.requestSerialize, def.responseDeserialize,
          this._metadata(), {deadline: new Date(deadline)},
          (err, resp) => (err ? reject(errorFromGrpc(err, name)) : resolve(resp)));
    });
    result.catch(() => {});
    try {
      for await (const message of requests) {
        if (!call.write(message)) {
          await new Promise((resolve) => {
            call.once('drain', resolve);
            result.catch(resolve);
          });
        }
      }
      call.end();
    } catch (e) {
      call.cancel();
      throw e;
    }
    return convert(await result);
  }
}

module.exports = {ClientBase, selectTarget, parseTarget, DEFAULT_SYSTEM_SOCKET};
