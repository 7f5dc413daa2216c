// Loads proto/keyward/v1/*.proto with @grpc/proto-loader: from the package's
// own proto/ directory (copied there by `npm pack`, scripts/copy-protos.js),
// else from the repository's proto/ when run from a source tree, or from
// the protoRoot option / $KEYWARD_PROTO_ROOT.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const protoLoader = require('@grpc/proto-loader');

const SERVICES = ['CryptoService', 'KeyService', 'AccessService',
  'SystemService', 'JwtService', 'DataPlaneService'];
const FILES = ['crypto_service', 'key_service', 'access_service',
  'system_service', 'jwt_service', 'data_plane_service'].map((f) => `keyward/v1/${f}.proto`);

// Results are plain objects: camelCase fields, enums as their full names
// ('KEY_TYPE_ED25519'), 64-bit integers as decimal strings, bytes as
// Buffers, unset fields as their defaults, oneofs named.
const LOADER_OPTIONS = {
  keepCase: false, longs: String, enums: String, defaults: true,
  oneofs: true,
};

function candidateRoots(explicit) {
  const roots = [];
  if (explicit) roots.push(explicit);
  if (process.env.KEYWARD_PROTO_ROOT) roots.push(process.env.KEYWARD_PROTO_ROOT);
  roots.push(path.join(__dirname, '..', 'proto'));
  roots.push(path.join(__dirname, '..', '..', '..', 'proto'));
  return roots;
}

function findRoot(explicit) {
  const roots = candidateRoots(explicit);
  for (const root of roots) {
    if (fs.existsSync(path.join(root, 'keyward', 'v1', 'common.proto'))) {
      return root;
    }
  }
  throw new Error('keyward: the keyward/v1 .proto files are not in any of ' +
                  roots.join(', ') + '; pass protoRoot');
}

const cache = new Map();

// The proto-loader package definition (cached per root).
function load(explicitRoot) {
  const root = findRoot(explicitRoot);
  if (!cache.has(root)) {
    cache.set(root, protoLoader.loadSync(
        FILES, {...LOADER_OPTIONS, includeDirs: [root]}));
  }
  return cache.get(root);
}

// Enum value names of keyward.v1.`name` (e.g. 'KeyType'), UNSPECIFIED
// included.
function enumNames(definition, name) {
  const entry = definition[`keyward.v1.${name}`];
  if (!entry || !entry.type || !entry.type.value) {
    throw new Error(`keyward: no enum keyward.v1.${name} in the protos`);
  }
  return entry.type.value.map((v) => v.name);
}

// The RPC names of each service: {CryptoService: ['Sign', ...], ...}.
function rpcNames(definition) {
  const out = {};
  for (const s of SERVICES) out[s] = Object.keys(definition[`keyward.v1.${s}`]);
  return out;
}

module.exports = {SERVICES, FILES, load, enumNames, rpcNames, findRoot};
