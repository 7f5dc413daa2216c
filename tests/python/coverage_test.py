"""The coverage bar for every client: every RPC of every service in the
generated keyward.v1 descriptors (*_pb2 modules, compiled from
proto/keyward/v1/*.proto) has a method in the Python sync client
(keyward.Client), the Python asyncio client (keyward.aio.Client), the Node
client (client/node: @keyward/client's Client) and the C++ client (class
Client in client/client.h).

Naming rules: Python, the RPC name in snake_case (keyward._util.snake_case):
"Sign" -> sign, "GetJwks" -> get_jwks, "WhoAmI" -> who_am_i; Node, in
camelCase: sign, getJwks, whoAmI; C++, the RPC name itself. EXCEPTIONS lists
RPCs whose Python method is named otherwise (none today); a new RPC either
follows the rules or is added there with its reason.

Run by //tests/python:coverage_test (no daemon needed; node for the Node
client, with client/node/node_modules from `npm ci`).
"""

import inspect
import json
import os
import re
import shutil
import subprocess
import unittest

import keyward
import keyward.aio
from keyward import _util
from keyward.v1 import (access_service_pb2, common_pb2, config_pb2,
                        crypto_service_pb2, data_plane_service_pb2,
                        jwt_service_pb2, key_service_pb2, system_service_pb2)

# "Service/Method" -> Python method name, for RPCs that do not follow the
# snake_case rule. Empty: every RPC follows it.
EXCEPTIONS = {}

MODULES = [access_service_pb2, common_pb2, config_pb2, crypto_service_pb2,
           data_plane_service_pb2,
           jwt_service_pb2, key_service_pb2, system_service_pb2]


def all_rpcs():
    """(service name, method descriptor) for every RPC of every service."""
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield service.name, method


class CoverageTest(unittest.TestCase):

    def test_rule(self):
        self.assertEqual(_util.snake_case("WhoAmI"), "who_am_i")
        self.assertEqual(_util.snake_case("GetJwks"), "get_jwks")
        self.assertEqual(_util.snake_case("ReEncrypt"), "re_encrypt")

    def test_services_found(self):
        services = {s for s, _ in all_rpcs()}
        self.assertEqual(services, {"CryptoService", "KeyService",
                                    "AccessService", "SystemService",
                                    "JwtService", "DataPlaneService"})
        self.assertGreaterEqual(len(list(all_rpcs())), 50)

    def check(self, client_class, want_async):
        missing = []
        for service, method in all_rpcs():
            name = EXCEPTIONS.get(service + "/" + method.name,
                                  _util.snake_case(method.name))
            fn = getattr(client_class, name, None)
            if fn is None or not callable(fn):
                missing.append("%s/%s -> %s" % (service, method.name, name))
                continue
            self.assertTrue(fn.__doc__ and "Error" in fn.__doc__,
                            "%s.%s: its docstring must state its errors"
                            % (client_class.__module__, name))
        self.assertEqual(missing, [], "RPCs without a method in %s.%s"
                         % (client_class.__module__, client_class.__name__))
        # Transport hooks have the right kind in each client.
        self.assertEqual(inspect.iscoroutinefunction(client_class._unary),
                         want_async)
        self.assertEqual(inspect.isasyncgenfunction(client_class._pages),
                         want_async)

    def test_sync_client_covers_every_rpc(self):
        self.check(keyward.Client, want_async=False)

    def test_aio_client_covers_every_rpc(self):
        self.check(keyward.aio.Client, want_async=True)

    def test_node_client_covers_every_rpc(self):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is not installed")
        package = os.path.join(source_root(), "client", "node")
        listing = subprocess.run(
            [node, "--preserve-symlinks", "-e",
             "const {Client} = require(process.argv[1]);"
             "console.log(JSON.stringify(Object.getOwnPropertyNames("
             "Client.prototype).filter((n) => typeof Client.prototype[n] "
             "=== 'function')))", package],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
            check=False)
        self.assertEqual(listing.returncode, 0,
                         "cannot load client/node (npm ci there?): %s"
                         % listing.stderr.decode(errors="replace"))
        methods = set(json.loads(listing.stdout))
        missing = ["%s/%s -> %s" % (s, m.name, camel_case(m.name))
                   for s, m in all_rpcs() if camel_case(m.name) not in methods]
        self.assertEqual(missing, [], "RPCs without a method in the Node "
                         "client (client/node)")

    def test_cpp_client_covers_every_rpc(self):
        # keyward::Client implements ClientInterface (client_interface.h):
        # the unary calls listed in KEYWARD_CLIENT_UNARY_RPCS, and the others
        # declared one by one as pure virtual methods.
        with open(os.path.join(source_root(), "client", "client.h")) as f:
            self.assertRegex(f.read(),
                             r"class Client : public ClientInterface \{")
        with open(os.path.join(source_root(), "client",
                               "client_interface.h")) as f:
            header = f.read()
        listed = re.search(r"#define KEYWARD_CLIENT_UNARY_RPCS\(X\)(.*?)\n\n",
                           header, re.DOTALL)
        self.assertIsNotNone(listed, "no KEYWARD_CLIENT_UNARY_RPCS in "
                             "client/client_interface.h")
        methods = set(re.findall(r"X\(([A-Z][A-Za-z0-9]*)\)", listed.group(1)))
        methods |= set(re.findall(r"virtual [^;(]*?\b([A-Z][A-Za-z0-9]*)\(",
                                  header))
        # DataPlaneService/Stream is keyward::StreamMux (stream_mux.h), which
        # opens the stream over a Client's channel.
        with open(os.path.join(source_root(), "client",
                               "stream_mux.h")) as f:
            mux = f.read()
        self.assertRegex(mux, r"class StreamMux final")
        self.assertIn("DataPlaneService", mux)
        methods.add("Stream")
        missing = ["%s/%s" % (s, m.name) for s, m in all_rpcs()
                   if m.name not in methods]
        self.assertEqual(missing, [], "RPCs without a method in the C++ "
                         "client (client/client_interface.h)")


def source_root():
    """The runfiles root under Bazel, else the repository (this file is
    tests/python/coverage_test.py)."""
    if "TEST_SRCDIR" in os.environ:
        return os.path.join(os.environ["TEST_SRCDIR"],
                            os.environ.get("TEST_WORKSPACE", "keyward"))
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def camel_case(rpc_name):
    """The Node client's method name: "GetJwks" -> "getJwks"."""
    return rpc_name[:1].lower() + rpc_name[1:]


if __name__ == "__main__":
    unittest.main(verbosity=2)
