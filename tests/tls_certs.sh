#!/usr/bin/env bash
# Makes a throwaway CA, a server certificate for 127.0.0.1 and a client
# certificate whose URI SAN is a SPIFFE ID, in directory $1.
set -euo pipefail
d=$1
cd "$d"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=keyward test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=keywardd" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile server.ext -out server.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=release pipeline/O=Example" -keyout client.key -out client.csr 2>/dev/null
printf 'subjectAltName=URI:spiffe://example.org/ci/release\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile client.ext -out client.pem 2>/dev/null
# A renewed server certificate, for the reload test.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=keywardd-renewed" -keyout server2.key -out server2.csr 2>/dev/null
openssl x509 -req -in server2.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile server.ext -out server2.pem 2>/dev/null
# A client certificate from a CA the daemon does not trust.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=other CA" -keyout other-ca.key -out other-ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=intruder" -keyout other.key -out other.csr 2>/dev/null
openssl x509 -req -in other.csr -CA other-ca.pem -CAkey other-ca.key \
  -CAcreateserial -days 2 -extfile client.ext -out other.pem 2>/dev/null
