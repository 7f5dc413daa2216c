// Fuzzes key import (keystore/crypto/keys.h): private keys as PEM
// ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", legacy "RSA/EC PRIVATE KEY",
// plain or Proc-Type encrypted) with and without a passphrase, public keys
// as PEM or DER (SPKI), and PKCS#8 DER through PublicKeyFromPrivate. The
// passphrase is keystore/crypto/testdata's, so the encrypted seeds decrypt.
// Asserts, beyond "no crash":
// - every refusal is INVALID_ARGUMENT (keys.h documents no other code);
// - an imported private key's PKCS#8 DER gives its public key, and
//   imports again (as PEM) to the same type and bytes;
// - an imported public key's SPKI DER imports again, as DER and as the PEM
//   SpkiToPem makes, to the same type and bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::crypto::KeyType;
using keyward::crypto::SecretData;
using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
namespace crypto = keyward::crypto;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

std::string PrivatePem(const SecretData& der) {
  std::string b64 = absl::Base64Escape(der.InsecureView());
  std::string pem = "-----BEGIN PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&pem, b64.substr(i, 64), "\n");
  }
  absl::StrAppend(&pem, "-----END PRIVATE KEY-----\n");
  return pem;
}

void CheckPrivate(const crypto::ParsedPrivateKey& key) {
  auto spki = crypto::PublicKeyFromPrivate(key.type, key.pkcs8_der);
  Require(spki.ok(), "an imported private key has no public key");
  auto again = crypto::ParsePrivateKeyPem(PrivatePem(key.pkcs8_der), nullptr);
  Require(again.ok() && again->type == key.type &&
              again->pkcs8_der.InsecureView() == key.pkcs8_der.InsecureView(),
          "an imported private key does not import again to itself");
}

void CheckPublic(const crypto::ParsedPublicKey& key) {
  auto der = crypto::ParsePublicKey(key.spki_der);
  Require(der.ok() && der->type == key.type && der->spki_der == key.spki_der,
          "an imported public key's DER does not import to itself");
  auto pem = crypto::SpkiToPem(key.spki_der);
  Require(pem.ok(), "an imported public key has no PEM");
  auto again = crypto::ParsePublicKey(*pem);
  Require(again.ok() && again->type == key.type &&
              again->spki_der == key.spki_der,
          "an imported public key's PEM does not import to itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  static const SecretData* passphrase = new SecretData("correct-horse");

  for (const SecretData* p : {static_cast<const SecretData*>(nullptr),
                              passphrase}) {
    auto key = crypto::ParsePrivateKeyPem(text, p);
    RequireCode(key.status(), {kInvalid}, "ParsePrivateKeyPem");
    if (key.ok()) CheckPrivate(*key);
  }

  auto pub = crypto::ParsePublicKey(text);
  RequireCode(pub.status(), {kInvalid}, "ParsePublicKey");
  if (pub.ok()) CheckPublic(*pub);

  const SecretData der(text);
  for (KeyType type : {KeyType::kEd25519, KeyType::kEcdsaP256,
                       KeyType::kEcdsaP384, KeyType::kRsa2048,
                       KeyType::kEcdhP256}) {
    RequireCode(crypto::PublicKeyFromPrivate(type, der).status(), {kInvalid},
                "PublicKeyFromPrivate");
  }
  return 0;
}
