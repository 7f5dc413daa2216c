#!/bin/bash
# The peers suite (tools/peers_suite.py) for one short round: every case
# (Keyward unary and streamed, ssh-agent, SoftHSM2 in-process and behind
# p11-kit server, PyJWT) must measure a rate > 0 with no error. No timing
# assertion. Needs openssh-client, softhsm2, p11-kit and python3-jwt
# (tools/install-deps).
set -euo pipefail
root="${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:-keyward}"
exec /usr/bin/python3 "$root/tools/peers_suite.py" --bindir "$root" \
  --rounds 1 --seconds 0.3 --warmup 0.1 --check
