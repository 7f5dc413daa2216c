// `npm pack` hook: copies the repository's proto/keyward/v1/*.proto into
// this package's proto/ so an installed package carries its protos.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, '..', '..', '..', 'proto', 'keyward', 'v1');
const to = path.join(__dirname, '..', 'proto', 'keyward', 'v1');
fs.mkdirSync(to, {recursive: true});
for (const name of fs.readdirSync(from)) {
  if (name.endsWith('.proto')) {
    fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
}
