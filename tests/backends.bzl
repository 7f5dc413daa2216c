"""The keystore backends an end-to-end test runs on (tests/test_storage.h).

Each entry is (name suffix, env, tags, data): NAME on SQLite, NAME_postgres
on a real PostgreSQL server (tag "postgres": default flavor only; tools/test
leaves the tag out in the BoringSSL one). C++ tests start the server
themselves (:test_storage); Python and Node tests ask
//tests:postgres_test_server for it (tests/python/kwstorage.py,
client/node/test/daemon.js), so theirs is in `data`.
"""

BACKENDS = [
    ("", {}, [], []),
    (
        "_postgres",
        {"KEYWARD_TEST_BACKEND": "postgres"},
        ["postgres"],
        ["//tests:postgres_test_server"],
    ),
]
