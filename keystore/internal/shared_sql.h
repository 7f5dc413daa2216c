// SQL that SQLite's and PostgreSQL's schemas share word for word (the two
// dialects agree on it), as string-literal macros so that each backend's
// migration stays one literal (a raw string cannot span a macro's lines).
// Part of shipped migrations: never edit one; add the next. Internal to
// //keystore.
#ifndef KEYWARD_KEYSTORE_INTERNAL_SHARED_SQL_H_
#define KEYWARD_KEYSTORE_INTERNAL_SHARED_SQL_H_

// Schema 7: existing keys get their type's default signature algorithms
// (key_types.h DefaultSignatureAlgorithms, which they signed with).
#define KEYWARD_SQL_BACKFILL_SIGNATURE_ALGORITHMS \
  "UPDATE keys SET signature_algorithms = CASE\n" \
  "  WHEN purpose = 2 AND type = 'ED25519' THEN 'ED25519'\n" \
  "  WHEN purpose = 2 AND type = 'ECDSA_P256'\n" \
  "    THEN 'ECDSA-P256-SHA256-DER,ECDSA-P256-SHA256-P1363'\n" \
  "  WHEN purpose = 2 AND type = 'ECDSA_P384'\n" \
  "    THEN 'ECDSA-P384-SHA384-DER,ECDSA-P384-SHA384-P1363'\n" \
  "  WHEN purpose = 2 AND type = 'ECDSA_P521'\n" \
  "    THEN 'ECDSA-P521-SHA512-DER,ECDSA-P521-SHA512-P1363'\n" \
  "  WHEN purpose = 2 AND type IN ('RSA2048', 'RSA3072', 'RSA4096')\n" \
  "    THEN 'RSA-PSS-SHA256,RSA-PKCS1-SHA256,RSA-PKCS1-SHA384," \
  "RSA-PKCS1-SHA512,RSA-PSS-SHA384,RSA-PSS-SHA512'\n" \
  "  WHEN purpose = 5 AND type = 'ED25519' THEN 'ED25519'\n" \
  "  WHEN purpose = 5 AND type = 'ECDSA_P256' THEN 'ECDSA-P256-SHA256-P1363'\n" \
  "  WHEN purpose = 5 AND type = 'ECDSA_P384' THEN 'ECDSA-P384-SHA384-P1363'\n" \
  "  WHEN purpose = 5 AND type = 'ECDSA_P521' THEN 'ECDSA-P521-SHA512-P1363'\n" \
  "  WHEN purpose = 5 AND type IN ('RSA2048', 'RSA3072', 'RSA4096')\n" \
  "    THEN 'RSA-PKCS1-SHA256'\n" \
  "  ELSE '' END;\n"

#endif  // KEYWARD_KEYSTORE_INTERNAL_SHARED_SQL_H_
