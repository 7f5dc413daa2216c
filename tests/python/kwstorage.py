"""Where a Python end-to-end test's keywardd keeps its keystore, chosen by
the test target as for the C++ tests (tests/test_storage.h), so that one
test source runs on every backend. KEYWARD_TEST_BACKEND:
  unset or "sqlite"  the data dir's SQLite file (keywardd's default)
  "postgres"         a new, empty database per daemon on a real throwaway
                     PostgreSQL server: //tests:postgres_test_server from
                     the runfiles (tests/backends.bzl puts it there),
                     started on first use and stopped when this process
                     exits (its stdin closes).
Shared by tests/python (kwtest) and tests/interop/python."""

import os
import subprocess

_server = None


def backend():
    """The backend's name ("sqlite" if KEYWARD_TEST_BACKEND is unset)."""
    return os.environ.get("KEYWARD_TEST_BACKEND") or "sqlite"


def _create_database():
    global _server
    if _server is None:
        binary = os.path.join(os.environ.get("TEST_SRCDIR", "."),
                              os.environ.get("TEST_WORKSPACE", "keyward"),
                              "tests", "postgres_test_server")
        if not os.path.exists(binary):
            raise RuntimeError("KEYWARD_TEST_BACKEND=postgres needs %s in "
                               "the runfiles (tests/backends.bzl)" % binary)
        _server = subprocess.Popen([binary],
                                   stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        ready = _server.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError("postgres_test_server: %s" % ready)
    _server.stdin.write("createdb\n")
    _server.stdin.flush()
    dsn = _server.stdout.readline().strip()
    if not dsn or dsn.startswith("error:"):
        raise RuntimeError("postgres_test_server: %s" % dsn)
    return dsn


def storage_config():
    """The config text to put first in the config given to both `keywardd
    init` and the daemon: "" for SQLite; for PostgreSQL, a new database."""
    name = backend()
    if name == "sqlite":
        return ""
    if name != "postgres":
        raise ValueError("KEYWARD_TEST_BACKEND=%s: use sqlite or postgres" %
                         name)
    return 'storage { postgres { dsn: "%s" pool_size: 4 } }\n' % (
        _create_database())
