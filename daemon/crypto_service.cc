#include "daemon/crypto_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/keys.h"
#include "keystore/format.h"
#include "keystore/jose/jwk.h"
#include "keystore/jwt.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

absl::Status KeyNotVersion(const KeyName& name, absl::string_view rpc) {
  if (name.version == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      rpc, " always uses the primary version: name the key (keys/", name.id,
      "), not a version"));
}

// The version the caller pinned by naming it, against the one the input
// names: a mismatch is the input's fault.
bool PinnedMismatch(const KeyName& name, int32_t used) {
  return name.version != 0 && name.version != used;
}

// CheckDigest: a digest request's shape (an error, not a verdict): the key
// must sign digests (not Ed25519) and the digest have its hash's length.
absl::Status CheckDigest(Rpc& rpc, const std::string& id,
                         std::optional<crypto::SignatureAlgorithm> algorithm,
                         absl::string_view digest) {
  auto key = rpc.keystore().GetKey(id);
  if (!key.ok()) return key.status();
  const std::vector<crypto::SignatureAlgorithm>& offered =
      key->signature_algorithms;
  if (offered.empty()) return absl::OkStatus();  // the keystore says why
  size_t want = 32;
  switch (algorithm.value_or(offered.front())) {
    case crypto::SignatureAlgorithm::kEd25519:
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", id, "' is Ed25519, which signs whole messages: send data, "
          "not a digest"));
    case crypto::SignatureAlgorithm::kEcdsaP384Sha384Der:
    case crypto::SignatureAlgorithm::kEcdsaP384Sha384P1363:
    case crypto::SignatureAlgorithm::kRsaPkcs1Sha384:
    case crypto::SignatureAlgorithm::kRsaPssSha384:
      want = 48;
      break;
    case crypto::SignatureAlgorithm::kEcdsaP521Sha512Der:
    case crypto::SignatureAlgorithm::kEcdsaP521Sha512P1363:
    case crypto::SignatureAlgorithm::kRsaPkcs1Sha512:
    case crypto::SignatureAlgorithm::kRsaPssSha512:
      want = 64;
      break;
    default:
      break;
  }
  if (digest.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digest is ", digest.size(), " bytes; this algorithm takes a ", want,
        "-byte digest of the message"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DoSign(Rpc& rpc, const pb::SignRequest& req,
                    pb::SignResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_SIGN, ResourceOf(name), [&](int32_t* version) {
    absl::Status s = KeyNotVersion(*name, "Sign");
    if (!s.ok()) return s;
    const bool is_digest = req.input_case() == pb::SignRequest::kDigest;
    if (!is_digest && req.input_case() != pb::SignRequest::kData) {
      return absl::InvalidArgumentError(
          "set data (the message to sign) or digest (its hash)");
    }
    if (req.data().size() > kMaxDataBytes) {
      return TooLarge("data", req.data().size(), kMaxDataBytes);
    }
    auto alg = FromProto(req.algorithm());
    if (!alg.ok()) return alg.status();
    if (is_digest) {
      absl::Status shape = CheckDigest(rpc, name->id, *alg, req.digest());
      if (!shape.ok()) return shape;
    }
    auto signed_ = rpc.keystore().Sign(
        name->id, is_digest ? req.digest() : req.data(), *alg, is_digest);
    if (!signed_.ok()) return signed_.status();
    *version = signed_->version;
    resp->set_signature(signed_->Enveloped());
    resp->set_raw_signature(signed_->signature);
    resp->set_key_version(VersionName(name->id, signed_->version));
    resp->set_algorithm(ToProto(signed_->algorithm));
    return absl::OkStatus();
  });
}

absl::Status DoVerify(Rpc& rpc, const pb::VerifyRequest& req,
                      pb::VerifyResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_VERIFY, ResourceOf(name), [&](int32_t* version) {
    const bool is_digest = req.input_case() == pb::VerifyRequest::kDigest;
    if (!is_digest && req.input_case() != pb::VerifyRequest::kData) {
      return absl::InvalidArgumentError(
          "set data (the message that was signed) or digest (its hash)");
    }
    if (req.data().size() > kMaxDataBytes) {
      return TooLarge("data", req.data().size(), kMaxDataBytes);
    }
    std::optional<int32_t> raw_version;
    absl::string_view signature;
    switch (req.signature_input_case()) {
      case pb::VerifyRequest::kSignature:
        signature = req.signature();
        break;
      case pb::VerifyRequest::kRawSignature:
        if (name->version == 0) {
          return absl::InvalidArgumentError(
              "a raw_signature needs a version name: keys/NAME/versions/N");
        }
        raw_version = name->version;
        signature = req.raw_signature();
        break;
      default:
        return absl::InvalidArgumentError("set signature or raw_signature");
    }
    if (signature.size() > (64 << 10)) {
      return TooLarge("signature", signature.size(), 64 << 10);
    }
    auto alg = FromProto(req.algorithm());
    if (!alg.ok()) return alg.status();
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    // An algorithm the key does not have is the request's fault (an
    // error), not a verdict: the keystore's INVALID_ARGUMENT below is.
    if (alg->has_value() && key->purpose == keystore::KeyPurpose::kSignVerify &&
        std::find(key->signature_algorithms.begin(),
                  key->signature_algorithms.end(),
                  **alg) == key->signature_algorithms.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm ", pb::SignatureAlgorithm_Name(req.algorithm()),
          " is not one of key '", name->id, "''s signature algorithms (",
          keystore::SignatureAlgorithmsText(key->signature_algorithms), ")"));
    }
    if (is_digest) {
      absl::Status shape = CheckDigest(rpc, name->id, *alg, req.digest());
      if (!shape.ok()) return shape;
    }
    int32_t used = 0;
    absl::Status v = rpc.keystore().Verify(
        name->id, is_digest ? req.digest() : req.data(), signature, *alg,
        raw_version, &used, is_digest);
    // INVALID_ARGUMENT from the keystore's Verify means "not valid".
    if (!v.ok() && !absl::IsInvalidArgument(v)) return v;
    bool valid = v.ok() && !PinnedMismatch(*name, used);
    resp->set_valid(valid);
    if (valid) {
      *version = used;
      resp->set_key_version(VersionName(name->id, used));
      if (!key->signature_algorithms.empty()) {
        resp->set_algorithm(ToProto(
            alg->value_or(key->signature_algorithms.front())));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status DoEncrypt(Rpc& rpc, const pb::EncryptRequest& req,
                       pb::EncryptResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_ENCRYPT, ResourceOf(name), [&](int32_t* version) {
    absl::Status s = KeyNotVersion(*name, "Encrypt");
    if (!s.ok()) return s;
    if (req.plaintext().size() > kMaxPlaintextBytes) {
      return TooLarge("plaintext", req.plaintext().size(), kMaxPlaintextBytes);
    }
    if (req.associated_data().size() > kMaxPlaintextBytes) {
      return TooLarge("associated_data", req.associated_data().size(),
                      kMaxPlaintextBytes);
    }
    auto sealed =
        rpc.keystore().Encrypt(name->id, req.plaintext(), req.associated_data());
    if (!sealed.ok()) return sealed.status();
    auto envelope = keystore::ParseEnvelope(*sealed, "ciphertext");
    *version = envelope.ok() ? envelope->version : 0;
    resp->set_ciphertext(*sealed);
    if (envelope.ok()) {
      resp->set_raw_ciphertext(envelope->payload.data(),
                               envelope->payload.size());
    }
    resp->set_key_version(VersionName(name->id, *version));
    return absl::OkStatus();
  });
}

absl::Status DoDecrypt(Rpc& rpc, const pb::DecryptRequest& req,
                       pb::DecryptResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_DECRYPT, ResourceOf(name), [&](int32_t* version) {
    absl::string_view ciphertext;  // the request's, not copied
    std::string enveloped;         // a raw_ciphertext in its envelope
    switch (req.ciphertext_input_case()) {
      case pb::DecryptRequest::kCiphertext:
        ciphertext = req.ciphertext();
        break;
      case pb::DecryptRequest::kRawCiphertext:
        if (name->version == 0) {
          return absl::InvalidArgumentError(
              "a raw_ciphertext needs a version name: keys/NAME/versions/N");
        }
        enveloped = keystore::EncodeEnvelope(name->version, req.raw_ciphertext());
        ciphertext = enveloped;
        break;
      default:
        return absl::InvalidArgumentError("set ciphertext or raw_ciphertext");
    }
    if (ciphertext.size() > kMaxCiphertextBytes) {
      return TooLarge("ciphertext", ciphertext.size(), kMaxCiphertextBytes);
    }
    int32_t used = 0;
    auto plaintext = rpc.keystore().Decrypt(name->id, ciphertext,
                                            req.associated_data(), &used);
    if (!plaintext.ok()) return plaintext.status();
    if (PinnedMismatch(*name, used)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ciphertext names version ", used, ", not the version ",
          name->version, " in name"));
    }
    *version = used;
    const absl::string_view opened = plaintext->InsecureView();
    resp->set_plaintext(opened.data(), opened.size());
    resp->set_key_version(VersionName(name->id, used));
    auto primary = rpc.keystore().PrimaryVersion(name->id);
    resp->set_used_primary(primary.ok() && *primary == used);
    return absl::OkStatus();
  });
}

absl::Status DoMac(Rpc& rpc, const pb::MacRequest& req,
                   pb::MacResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_MAC, ResourceOf(name), [&](int32_t* version) {
    absl::Status s = KeyNotVersion(*name, "Mac");
    if (!s.ok()) return s;
    if (req.data().size() > kMaxDataBytes) {
      return TooLarge("data", req.data().size(), kMaxDataBytes);
    }
    auto tag = rpc.keystore().Mac(name->id, req.data());
    if (!tag.ok()) return tag.status();
    *version = tag->version;
    resp->set_mac(tag->Enveloped());
    resp->set_raw_mac(tag->signature);
    resp->set_key_version(VersionName(name->id, tag->version));
    return absl::OkStatus();
  });
}

namespace {

absl::Status DoBox(Rpc& rpc, const pb::BoxRequest& req, pb::BoxResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_ENCRYPT, ResourceOf(name), [&](int32_t* version) {
    absl::Status s = KeyNotVersion(*name, "Box");
    if (!s.ok()) return s;
    if (req.plaintext().size() > kMaxPlaintextBytes) {
      return TooLarge("plaintext", req.plaintext().size(), kMaxPlaintextBytes);
    }
    auto boxed =
        rpc.keystore().Box(name->id, req.peer_public_key(), req.plaintext());
    if (!boxed.ok()) return boxed.status();
    *version = boxed->version;
    resp->set_ciphertext(boxed->ciphertext);
    resp->set_key_version(VersionName(name->id, boxed->version));
    resp->set_sender_public_key(boxed->sender_public_key);
    return absl::OkStatus();
  });
}

}  // namespace

absl::Status DoVerifyMac(Rpc& rpc, const pb::VerifyMacRequest& req,
                         pb::VerifyMacResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_MAC_VERIFY, ResourceOf(name),
                 [&](int32_t* version) {
    if (req.data().size() > kMaxDataBytes) {
      return TooLarge("data", req.data().size(), kMaxDataBytes);
    }
    std::string mac;
    switch (req.mac_input_case()) {
      case pb::VerifyMacRequest::kMac:
        mac = req.mac();
        break;
      case pb::VerifyMacRequest::kRawMac:
        if (name->version == 0) {
          return absl::InvalidArgumentError(
              "a raw_mac needs a version name: keys/NAME/versions/N");
        }
        mac = keystore::EncodeEnvelope(name->version, req.raw_mac());
        break;
      default:
        return absl::InvalidArgumentError("set mac or raw_mac");
    }
    int32_t used = 0;
    absl::Status v = rpc.keystore().VerifyMac(name->id, req.data(), mac, &used);
    if (!v.ok() && !absl::IsInvalidArgument(v)) return v;
    bool valid = v.ok() && !PinnedMismatch(*name, used);
    resp->set_valid(valid);
    if (valid) {
      *version = used;
      resp->set_key_version(VersionName(name->id, used));
    }
    return absl::OkStatus();
  });
}

namespace {

absl::Status DoBoxOpen(Rpc& rpc, const pb::BoxOpenRequest& req,
                       pb::BoxOpenResponse* resp) {
  auto name = ParseKeyName(req.name());
  return rpc.Run(pb::OPERATION_DECRYPT, ResourceOf(name), [&](int32_t* version) {
    if (req.ciphertext().size() > kMaxCiphertextBytes) {
      return TooLarge("ciphertext", req.ciphertext().size(),
                      kMaxCiphertextBytes);
    }
    int32_t used = 0;
    auto plaintext =
        rpc.keystore().BoxOpen(name->id, name->version, req.peer_public_key(),
                               req.nonce(), req.ciphertext(), &used);
    if (!plaintext.ok()) return plaintext.status();
    *version = used;
    const absl::string_view opened = plaintext->InsecureView();
    resp->set_plaintext(opened.data(), opened.size());
    resp->set_key_version(VersionName(name->id, used));
    return absl::OkStatus();
  });
}

}  // namespace

grpc::ServerUnaryReactor* CryptoServiceImpl::Box(
    grpc::CallbackServerContext* context, const pb::BoxRequest* request,
    pb::BoxResponse* response) {
  Rpc rpc(env_, context, "CryptoService/Box");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoBox(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::BoxOpen(
    grpc::CallbackServerContext* context, const pb::BoxOpenRequest* request,
    pb::BoxOpenResponse* response) {
  Rpc rpc(env_, context, "CryptoService/BoxOpen");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoBoxOpen(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::Sign(
    grpc::CallbackServerContext* context, const pb::SignRequest* request,
    pb::SignResponse* response) {
  Rpc rpc(env_, context, "CryptoService/Sign");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoSign(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::Verify(
    grpc::CallbackServerContext* context, const pb::VerifyRequest* request,
    pb::VerifyResponse* response) {
  Rpc rpc(env_, context, "CryptoService/Verify");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoVerify(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::Encrypt(
    grpc::CallbackServerContext* context, const pb::EncryptRequest* request,
    pb::EncryptResponse* response) {
  Rpc rpc(env_, context, "CryptoService/Encrypt");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoEncrypt(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::Decrypt(
    grpc::CallbackServerContext* context, const pb::DecryptRequest* request,
    pb::DecryptResponse* response) {
  Rpc rpc(env_, context, "CryptoService/Decrypt");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoDecrypt(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::Mac(
    grpc::CallbackServerContext* context, const pb::MacRequest* request,
    pb::MacResponse* response) {
  Rpc rpc(env_, context, "CryptoService/Mac");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoMac(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::VerifyMac(
    grpc::CallbackServerContext* context, const pb::VerifyMacRequest* request,
    pb::VerifyMacResponse* response) {
  Rpc rpc(env_, context, "CryptoService/VerifyMac");
  rpc.Identify().IgnoreError();
  return rpc.Finish(DoVerifyMac(rpc, *request, response));
}

grpc::ServerUnaryReactor* CryptoServiceImpl::GenerateDataKey(
    grpc::CallbackServerContext* context,
    const pb::GenerateDataKeyRequest* request,
    pb::GenerateDataKeyResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "CryptoService/GenerateDataKey",
               pb::OPERATION_ENCRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) {
    absl::Status s = KeyNotVersion(*name, "GenerateDataKey");
    if (!s.ok()) return s;
    size_t length = request->length_bytes() == 0 ? 32 : request->length_bytes();
    if (length != 16 && length != 32 && length != 64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "length_bytes ", request->length_bytes(),
          " is not offered: use 16, 32 or 64 (0 means 32)"));
    }
    if (request->associated_data().size() > kMaxPlaintextBytes) {
      return TooLarge("associated_data", request->associated_data().size(),
                      kMaxPlaintextBytes);
    }
    auto key = rpc.keystore().GenerateDataKey(name->id, length,
                                              request->associated_data());
    if (!key.ok()) return key.status();
    auto envelope = keystore::ParseEnvelope(key->ciphertext, "ciphertext");
    *version = envelope.ok() ? envelope->version : 0;
    if (!request->wrapped_only()) {
      response->set_plaintext(std::string(key->plaintext.InsecureView()));
    }
    response->set_ciphertext(key->ciphertext);
    response->set_key_version(VersionName(name->id, *version));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CryptoServiceImpl::ReEncrypt(
    grpc::CallbackServerContext* context, const pb::ReEncryptRequest* request,
    pb::ReEncryptResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "CryptoService/ReEncrypt",
               pb::OPERATION_DECRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) {
    if (request->ciphertext().size() > kMaxCiphertextBytes) {
      return TooLarge("ciphertext", request->ciphertext().size(),
                      kMaxCiphertextBytes);
    }
    KeyName destination = *name;
    destination.version = 0;
    if (!request->destination_name().empty()) {
      auto parsed = ParseKeyName(request->destination_name(), "destination_name");
      if (!parsed.ok()) return parsed.status();
      absl::Status s = KeyNotVersion(*parsed, "ReEncrypt's destination");
      if (!s.ok()) return s;
      destination = *parsed;
    }
    absl::Status allowed =
        rpc.Authorize(pb::OPERATION_ENCRYPT, destination.Resource());
    if (!allowed.ok()) return allowed;
    int32_t source_version = 0;
    auto plaintext = rpc.keystore().Decrypt(
        name->id, request->ciphertext(), request->associated_data(),
        &source_version);
    if (!plaintext.ok()) return plaintext.status();
    if (PinnedMismatch(*name, source_version)) {
      return absl::InvalidArgumentError("the ciphertext names another version");
    }
    const std::string& aad = request->has_destination_associated_data()
                                 ? request->destination_associated_data()
                                 : request->associated_data();
    auto sealed =
        rpc.keystore().Encrypt(destination.id, plaintext->InsecureView(), aad);
    if (!sealed.ok()) return sealed.status();
    auto envelope = keystore::ParseEnvelope(*sealed, "ciphertext");
    *version = source_version;
    response->set_ciphertext(*sealed);
    response->set_key_version(
        VersionName(destination.id, envelope.ok() ? envelope->version : 0));
    response->set_source_key_version(VersionName(name->id, source_version));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CryptoServiceImpl::GetPublicKey(
    grpc::CallbackServerContext* context,
    const pb::GetPublicKeyRequest* request,
    pb::GetPublicKeyResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "CryptoService/GetPublicKey", pb::OPERATION_READ,
               ResourceOf(name), [&](Rpc& rpc, int32_t* version) {
    auto pub = rpc.keystore().GetPublicKey(name->id, name->version);
    if (!pub.ok()) return pub.status();
    *version = pub->version;
    pb::PublicKeyFormat format =
        request->format() == pb::PUBLIC_KEY_FORMAT_UNSPECIFIED
            ? pb::PUBLIC_KEY_FORMAT_PEM
            : request->format();
    auto version_record = rpc.keystore().GetVersion(name->id, pub->version);
    if (!version_record.ok()) return version_record.status();
    const std::string kid = KidOf(*version_record);
    absl::StatusOr<std::string> encoded;
    switch (format) {
      case pb::PUBLIC_KEY_FORMAT_DER:
        encoded = pub->spki_der;
        break;
      case pb::PUBLIC_KEY_FORMAT_JWK: {
        // A JWT or JWE key's purpose fixes its "alg" and "use".
        auto key = rpc.keystore().GetKey(name->id);
        if (!key.ok()) return key.status();
        std::string alg, use;
        if (key->purpose == keystore::KeyPurpose::kJwt) {
          auto jws = keystore::JwsAlgorithmOf(*key);
          if (!jws.ok()) return jws.status();
          alg = std::string(jose::JwsAlgorithmName(*jws));
          use = "sig";
        } else if (key->purpose == keystore::KeyPurpose::kKeyAgreement) {
          auto jwe = JweAlgorithmOf(*key);
          if (!jwe.ok()) return jwe.status();
          alg = std::string(jose::JweAlgorithmName(*jwe));
          use = "enc";
        }
        auto jwk = jose::PublicJwk(pub->type, pub->spki_der, kid, alg, use);
        if (!jwk.ok()) return jwk.status();
        encoded = jwk->Serialize();
        break;
      }
      default:
        encoded = crypto::SpkiToPem(pub->spki_der);
        break;
    }
    if (!encoded.ok()) return encoded.status();
    response->set_public_key(*encoded);
    response->set_format(format);
    response->set_key_version(VersionName(name->id, pub->version));
    response->set_key_type(ToProto(pub->type));
    response->set_kid(kid);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CryptoServiceImpl::BatchSign(
    grpc::CallbackServerContext* context, const pb::BatchSignRequest* request,
    pb::BatchSignResponse* response) {
  return Batch(env_, context, "CryptoService/BatchSign", *request, response,
               DoSign);
}

grpc::ServerUnaryReactor* CryptoServiceImpl::BatchVerify(
    grpc::CallbackServerContext* context, const pb::BatchVerifyRequest* request,
    pb::BatchVerifyResponse* response) {
  return Batch(env_, context, "CryptoService/BatchVerify", *request, response,
               DoVerify);
}

grpc::ServerUnaryReactor* CryptoServiceImpl::BatchEncrypt(
    grpc::CallbackServerContext* context,
    const pb::BatchEncryptRequest* request, pb::BatchEncryptResponse* response) {
  return Batch(env_, context, "CryptoService/BatchEncrypt", *request, response,
               DoEncrypt);
}

grpc::ServerUnaryReactor* CryptoServiceImpl::BatchDecrypt(
    grpc::CallbackServerContext* context,
    const pb::BatchDecryptRequest* request, pb::BatchDecryptResponse* response) {
  return Batch(env_, context, "CryptoService/BatchDecrypt", *request, response,
               DoDecrypt);
}

}  // namespace keyward::daemon
