"""The coverage bar for the Python client: every RPC of every service in
the generated keyward.v1 descriptors (*_pb2 modules) has a method in the
sync client (keyward.Client) and the asyncio client (keyward.aio.Client).

Naming rule: the RPC name in snake_case (keyward._util.snake_case):
"Sign" -> sign, "GetJwks" -> get_jwks, "WhoAmI" -> who_am_i. EXCEPTIONS
lists RPCs whose method is named otherwise (none today); a new RPC either
follows the rule or is added there with its reason.

Run by //tests/python:coverage_test (no daemon needed).
"""

import inspect
import unittest

import keyward
import keyward.aio
from keyward import _util
from keyward.v1 import (access_service_pb2, common_pb2, config_pb2,
                        crypto_service_pb2, jwt_service_pb2, key_service_pb2,
                        system_service_pb2)

# "Service/Method" -> Python method name, for RPCs that do not follow the
# snake_case rule. Empty: every RPC follows it.
EXCEPTIONS = {}

MODULES = [access_service_pb2, common_pb2, config_pb2, crypto_service_pb2,
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
                                    "JwtService"})
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
