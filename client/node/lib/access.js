// AccessService methods (policies, API keys, login, whoAmI). Lists and
// whoAmI are retried on UNAVAILABLE; changes and login never. Errors of
// every method (beyond its own, in index.d.ts): UnauthenticatedError,
// PermissionDeniedError, ResourceExhaustedError, UnavailableError;
// TypeError/RangeError before any call.
'use strict';

const util = require('./util');

const S = 'AccessService';

// '*' stays; 'pay', 'pay*' -> 'keys/pay', 'keys/pay*'.
const resource = (r) => (r === '*' ? r : util.keyName(r, 'resource'));

module.exports = {
  createPolicy(principal, operations, res, opts) {
    const o = util.checkOptions('createPolicy', opts, ['policyId', 'description', 'expireTime']);
    if (!Array.isArray(operations)) throw new TypeError('operations must be an array');
    const policy = {
      principal: util.str(principal, 'principal'),
      operations: operations.map((op) => this._enum('Operation', 'OPERATION_', op,
                                                    'operations')),
      resource: resource(res),
      description: util.str(o.description, 'description', {optional: true}),
      expireTime: util.timestamp(o.expireTime, 'expireTime'),
    };
    const req = {policyId: util.str(o.policyId, 'policyId', {optional: true}), policy};
    return this._unary(S, 'CreatePolicy', req, (r) => r.policy,
                       {idempotent: false, timeout: o.timeout});
  },

  deletePolicy(name, opts) {
    const o = util.checkOptions('deletePolicy', opts, []);
    return this._unary(S, 'DeletePolicy', {name: util.prefixed('policies/', name, 'name')},
                       () => undefined, {idempotent: false, timeout: o.timeout});
  },

  listPolicies(opts) {
    const o = util.checkOptions('listPolicies', opts, ['principal', 'key', 'pageSize']);
    const req = {pageSize: util.int(o.pageSize, 'pageSize', {max: 2 ** 31 - 1}),
      principal: util.str(o.principal, 'principal', {optional: true})};
    if (o.key) req.key = util.keyName(o.key);
    return this._pages(S, 'ListPolicies', req, 'policies', o.timeout);
  },

  createApiKey(apiKeyId, opts) {
    const o = util.checkOptions('createApiKey', opts, ['description', 'expireTime']);
    const req = {apiKeyId: util.str(apiKeyId, 'apiKeyId'), apiKey: {
      description: util.str(o.description, 'description', {optional: true}),
      expireTime: util.timestamp(o.expireTime, 'expireTime')}};
    return this._unary(S, 'CreateApiKey', req, (r) => r,
                       {idempotent: false, timeout: o.timeout});
  },

  revokeApiKey(name, opts) {
    const o = util.checkOptions('revokeApiKey', opts, []);
    return this._unary(S, 'RevokeApiKey', {name: util.prefixed('apiKeys/', name, 'name')},
                       (r) => r.apiKey, {idempotent: false, timeout: o.timeout});
  },

  listApiKeys(opts) {
    const o = util.checkOptions('listApiKeys', opts, ['state', 'pageSize']);
    const req = {pageSize: util.int(o.pageSize, 'pageSize', {max: 2 ** 31 - 1}),
      state: this._optionalEnum('ApiKeyState', 'API_KEY_STATE_', o.state, 'state')};
    return this._pages(S, 'ListApiKeys', req, 'apiKeys', o.timeout);
  },

  // Exchanges an API key secret (apiKeyFile, or apiKey Buffer) for a
  // session token that this client then sends on every later call.
  async login(opts) {
    const o = util.checkOptions('login', opts, ['apiKeyFile', 'apiKey', 'ttl']);
    const secret = util.secret(o.apiKey, o.apiKeyFile, 'API key secret');
    const req = {apiKeySecret: secret.toString('latin1'), ttl: util.duration(o.ttl, 'ttl')};
    const r = await this._unary(S, 'Login', req, (x) => x,
                                {idempotent: false, timeout: o.timeout});
    this.setToken(r.sessionToken);
    const session = {principal: r.principal, expireTime: util.toDate(r.expireTime)};
    // The token is not enumerable, so logging the session does not show it.
    Object.defineProperty(session, 'token', {value: r.sessionToken, enumerable: false});
    return session;
  },

  whoAmI(opts) {
    const o = util.checkOptions('whoAmI', opts, []);
    return this._unary(S, 'WhoAmI', {}, (r) => r, {idempotent: true, timeout: o.timeout});
  },
};
