"""Run by package_test.sh with the venv's python and no PYTHONPATH: the
installed keyward (with its keyward.v1 stubs) imports from the venv and
works against a real keywardd.

    package_smoke.py --keywardd=PATH --venv=DIR
"""

import argparse
import os
import sys
import unittest

import kwtest

VENV = None


class InstalledPackageTest(unittest.TestCase):

    def test_imports_from_venv(self):
        import keyward
        import keyward.aio
        import keyward.envelope
        import keyward.jwt
        from keyward.v1 import crypto_service_pb2_grpc
        venv = os.path.realpath(VENV)
        for module in (keyward, keyward.aio, crypto_service_pb2_grpc):
            self.assertTrue(os.path.realpath(module.__file__).startswith(venv),
                            module.__file__)
        self.assertEqual(keyward.__version__, "0.2.0")

    def test_against_daemon(self):
        import keyward
        daemon = kwtest.Daemon()
        try:
            with keyward.Client(daemon.target) as client:
                client.create_key("pkg-ed", "ED25519")
                sig = client.sign("pkg-ed", b"installed")
                self.assertTrue(client.verify("pkg-ed", b"installed",
                                              sig.signature))
                with self.assertRaises(keyward.NotFoundError):
                    client.get_key("pkg-missing")
        finally:
            daemon.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", required=True)
    parser.add_argument("--keywardd", required=True)
    args, rest = parser.parse_known_args()
    VENV = args.venv
    kwtest.ARGS.keywardd = args.keywardd
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
