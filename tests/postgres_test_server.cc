// postgres_test_server: a real, throwaway PostgreSQL server
// (keystore/testing/postgres_server.h) for the end-to-end tests that are not
// C++ (Python, Node), so that their fixtures use the same cluster setup as
// tests/test_storage.h rather than a copy of it. Test-only.
//
// Protocol, one line each way, on stdin/stdout:
//   on start          -> "ready" (or "error: ..." and exit 1)
//   "createdb"        -> a libpq DSN for a new, empty database
//                        (or "error: ..."; the server keeps running)
//   end of stdin      -> the server is stopped and its directory removed;
//                        exit 0
// Anything else on stdin is answered "error: unknown command".
#include <iostream>
#include <string>

#include "keystore/testing/postgres_server.h"

int main() {
  using keyward::keystore::testing::PostgresServer;
  auto server = PostgresServer::Start({});
  if (!server.ok()) {
    std::cout << "error: " << server.status() << std::endl;
    return 1;
  }
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line != "createdb") {
      std::cout << "error: unknown command" << std::endl;
      continue;
    }
    auto dsn = (*server)->CreateDatabase();
    if (dsn.ok()) {
      std::cout << *dsn << std::endl;
    } else {
      std::cout << "error: " << dsn.status() << std::endl;
    }
  }
  return 0;
}
