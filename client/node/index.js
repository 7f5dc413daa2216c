// @keyward/client: the Node client of keywardd. Every RPC of keyward.v1 is a
// method named by the RPC in camelCase (Sign -> sign, GetJwks -> getJwks,
// WhoAmI -> whoAmI) returning a Promise (lists and streams: async
// iterators); failures reject with a KeywardError subclass per status code.
// See index.d.ts for each method's arguments and errors.
'use strict';

const {ClientBase, selectTarget, parseTarget, DEFAULT_SYSTEM_SOCKET} = require('./lib/base');
const errors = require('./lib/errors');
const util = require('./lib/util');

// Methods that return async iterators; a bad argument throws at once. Every
// other method returns a Promise, which a bad argument rejects (TypeError or
// RangeError) before any call is made.
const ITERATORS = new Set(['listKeys', 'listKeyVersions', 'listPolicies',
  'listApiKeys', 'listTokenRecords', 'readAuditLog', 'stream']);

function rejecting(fn) {
  return function(...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      return Promise.reject(e);
    }
  };
}

class Client extends ClientBase {}
for (const part of ['crypto', 'keys', 'access', 'system', 'jwt', 'data_plane']) {
  for (const [name, fn] of Object.entries(require(`./lib/${part}`))) {
    const value = ITERATORS.has(name) || name.startsWith('_') ? fn : rejecting(fn);
    Object.defineProperty(Client.prototype, name,
                          {value, writable: true, configurable: true});
  }
}

module.exports = {
  Client, selectTarget, parseTarget, DEFAULT_SYSTEM_SOCKET,
  camelCase: util.camelCase, toDate: util.toDate, ...errors,
};
delete module.exports.errorFor;
delete module.exports.errorFromGrpc;
delete module.exports.CODE_NAMES;
