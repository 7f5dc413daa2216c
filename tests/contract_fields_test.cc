// End-to-end: every field of the Key template (CreateKey) and every
// UpdateKey path the proto lists is honoured (the answer and GetKey show
// it); none is dropped in silence or refused. The field lists are checked against the proto descriptors, so a
// field added to Key or JwtKeySettings without a case here fails the test.
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"
#include "tests/test_storage.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using google::protobuf::util::MessageDifferencer;

// A template case: what to set on a baseline template, and how to tell
// from the created key that it was kept.
struct TemplateCase {
  std::function<void(pb::Key*)> set;
  std::function<bool(const pb::Key&)> kept;
};

// Output-only fields of Key (ignored in requests, common.proto) and those
// CreateKeyRequest documents as ignored ("Other fields are ignored"): the
// min_*_version fields, set later with UpdateKey.
const std::set<std::string>& NotTemplateFields() {
  static const auto* fields = new std::set<std::string>{
      "name", "primary_version", "next_rotation_time", "public_only",
      "create_time", "update_time", "min_decryption_version",
      "min_encryption_version", "legacy_short_secret"};
  return *fields;
}

pb::Key Baseline() {
  pb::Key key;
  key.set_key_type(pb::KEY_TYPE_ED25519);
  key.set_purpose(pb::KEY_PURPOSE_JWT);
  return key;
}

const std::map<std::string, TemplateCase>& TemplateCases() {
  static const auto* cases = new std::map<std::string, TemplateCase>{
      {"key_type",
       {[](pb::Key* k) { k->set_key_type(pb::KEY_TYPE_ECDSA_P384); },
        [](const pb::Key& k) { return k.key_type() == pb::KEY_TYPE_ECDSA_P384; }}},
      {"purpose",
       {[](pb::Key* k) { k->set_purpose(pb::KEY_PURPOSE_SIGN_VERIFY); },
        [](const pb::Key& k) {
          return k.purpose() == pb::KEY_PURPOSE_SIGN_VERIFY;
        }}},
      {"signature_algorithms",
       {[](pb::Key* k) {
          // Not the type's default (RS256): the key's own JWS algorithm.
          k->set_key_type(pb::KEY_TYPE_RSA_2048);
          k->add_signature_algorithms(pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA512);
        },
        [](const pb::Key& k) {
          return k.signature_algorithms_size() == 1 &&
                 k.signature_algorithms(0) ==
                     pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA512;
        }}},
      {"jwe_algorithm",
       {[](pb::Key* k) {
          k->set_key_type(pb::KEY_TYPE_ECDH_P256);
          k->set_purpose(pb::KEY_PURPOSE_JWE);
          k->set_jwe_algorithm(pb::JWE_ALGORITHM_ECDH_ES);
        },
        [](const pb::Key& k) {
          return k.jwe_algorithm() == pb::JWE_ALGORITHM_ECDH_ES;
        }}},
      {"description",
       {[](pb::Key* k) { k->set_description("login tokens"); },
        [](const pb::Key& k) { return k.description() == "login tokens"; }}},
      {"labels",
       {[](pb::Key* k) { (*k->mutable_labels())["team"] = "id"; },
        [](const pb::Key& k) {
          return k.labels().count("team") && k.labels().at("team") == "id";
        }}},
      {"rotation_period",
       {[](pb::Key* k) { k->mutable_rotation_period()->set_seconds(7200); },
        [](const pb::Key& k) { return k.rotation_period().seconds() == 7200; }}},
      {"exportable",
       {[](pb::Key* k) { k->set_exportable(true); },
        [](const pb::Key& k) { return k.exportable(); }}},
      {"jwt.max_ttl",
       {[](pb::Key* k) { k->mutable_jwt()->mutable_max_ttl()->set_seconds(3600); },
        [](const pb::Key& k) { return k.jwt().max_ttl().seconds() == 3600; }}},
      {"jwt.default_ttl",
       {[](pb::Key* k) {
          k->mutable_jwt()->mutable_default_ttl()->set_seconds(600);
        },
        [](const pb::Key& k) { return k.jwt().default_ttl().seconds() == 600; }}},
      {"jwt.issuer",
       {[](pb::Key* k) { k->mutable_jwt()->set_issuer("https://login.example"); },
        [](const pb::Key& k) {
          return k.jwt().issuer() == "https://login.example";
        }}},
  };
  return *cases;
}

// The UpdateKey paths update_mask allows (key_service.proto), with a value
// to set on a key made from Baseline() (rotated once, so primary = 2) and
// how to see it kept.
const std::map<std::string, TemplateCase>& UpdateCases() {
  static const auto* cases = new std::map<std::string, TemplateCase>{
      {"description", TemplateCases().at("description")},
      {"labels", TemplateCases().at("labels")},
      {"rotation_period", TemplateCases().at("rotation_period")},
      {"min_decryption_version",
       {[](pb::Key* k) { k->set_min_decryption_version(2); },
        [](const pb::Key& k) { return k.min_decryption_version() == 2; }}},
      {"min_encryption_version",
       {[](pb::Key* k) { k->set_min_encryption_version(2); },
        [](const pb::Key& k) { return k.min_encryption_version() == 2; }}},
      {"jwt",
       {[](pb::Key* k) {
          k->mutable_jwt()->mutable_max_ttl()->set_seconds(7200);
          k->mutable_jwt()->mutable_default_ttl()->set_seconds(300);
          k->mutable_jwt()->set_issuer("https://whole.example");
        },
        [](const pb::Key& k) {
          return k.jwt().max_ttl().seconds() == 7200 &&
                 k.jwt().default_ttl().seconds() == 300 &&
                 k.jwt().issuer() == "https://whole.example";
        }}},
      {"jwt.max_ttl", TemplateCases().at("jwt.max_ttl")},
      {"jwt.default_ttl", TemplateCases().at("jwt.default_ttl")},
      {"jwt.issuer", TemplateCases().at("jwt.issuer")},
  };
  return *cases;
}

class ContractFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keystore = TestKeystore::Init("contract fields");
    ASSERT_TRUE(keystore.ok()) << keystore.status();
    auto daemon = DaemonProcess::Start(keystore->dir(), keystore->Args());
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    keys_ = pb::KeyService::NewStub(daemon_->NewChannel());
  }

  pb::Key Get(const std::string& id) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    EXPECT_TRUE(keys_->GetKey(&ctx, req, &resp).ok());
    return resp.key();
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
};

// The dotted paths of every field of `message` (sub-messages of keyward's
// own types expanded), e.g. "jwt.max_ttl".
void FieldPaths(const google::protobuf::Descriptor* message,
                const std::string& prefix, std::set<std::string>* out) {
  for (int i = 0; i < message->field_count(); ++i) {
    const auto* field = message->field(i);
    const std::string path = prefix + field->name();
    if (field->message_type() != nullptr && !field->is_map() &&
        field->message_type()->file()->package() == "keyward.v1") {
      FieldPaths(field->message_type(), path + ".", out);
    } else {
      out->insert(path);
    }
  }
}

TEST_F(ContractFieldsTest, EveryKeyFieldHasACase) {
  std::set<std::string> paths;
  FieldPaths(pb::Key::descriptor(), "", &paths);
  for (const std::string& path : paths) {
    EXPECT_TRUE(NotTemplateFields().count(path) || TemplateCases().count(path))
        << "Key." << path << " has no case in this test: add one";
  }
  for (const auto& [path, unused] : TemplateCases()) {
    EXPECT_TRUE(paths.count(path)) << path << " is not a field of Key";
  }
  for (const auto& [path, unused] : UpdateCases()) {
    EXPECT_TRUE(paths.count(path) || paths.count(path + ".max_ttl"))
        << path << " is not a field (or message) of Key";
  }
}

TEST_F(ContractFieldsTest, CreateKeyKeepsEveryTemplateField) {
  int n = 0;
  for (const auto& [path, c] : TemplateCases()) {
    SCOPED_TRACE(path);
    const std::string id = absl::StrCat("t", n++);
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    *req.mutable_key() = Baseline();
    c.set(req.mutable_key());
    pb::CreateKeyResponse resp;
    grpc::Status s = keys_->CreateKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << "refused: " << s.error_message();
    EXPECT_TRUE(c.kept(resp.key())) << "dropped: " << resp.key().DebugString();
    EXPECT_TRUE(c.kept(Get(id))) << "dropped in storage";
  }
}

TEST_F(ContractFieldsTest, UpdateKeyKeepsEveryListedPath) {
  int n = 0;
  for (const auto& [path, c] : UpdateCases()) {
    SCOPED_TRACE(path);
    const std::string id = absl::StrCat("u", n++);
    {
      grpc::ClientContext ctx;
      pb::CreateKeyRequest req;
      req.set_key_id(id);
      *req.mutable_key() = Baseline();
      pb::CreateKeyResponse resp;
      ASSERT_TRUE(keys_->CreateKey(&ctx, req, &resp).ok());
      grpc::ClientContext rctx;
      pb::RotateKeyRequest rot;
      rot.set_name("keys/" + id);
      pb::RotateKeyResponse rotated;
      ASSERT_TRUE(keys_->RotateKey(&rctx, rot, &rotated).ok());
    }
    const pb::Key before = Get(id);
    grpc::ClientContext ctx;
    pb::UpdateKeyRequest req;
    req.mutable_key()->set_name("keys/" + id);
    c.set(req.mutable_key());
    req.add_update_mask(path);
    pb::UpdateKeyResponse resp;
    grpc::Status s = keys_->UpdateKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << "refused: " << s.error_message();
    EXPECT_TRUE(c.kept(resp.key())) << "dropped: " << resp.key().DebugString();
    pb::Key after = Get(id);
    EXPECT_TRUE(c.kept(after)) << "dropped in storage";
    // Nothing but the path changed.
    pb::Key expected = before;
    c.set(&expected);
    after.clear_update_time();
    expected.clear_update_time();
    if (path == "rotation_period") {
      after.clear_next_rotation_time();
      expected.clear_next_rotation_time();
    }
    EXPECT_TRUE(MessageDifferencer::Equals(after, expected))
        << "expected " << expected.DebugString() << "got " << after.DebugString();
  }
  // A path the proto does not list is refused.
  grpc::ClientContext ctx;
  pb::UpdateKeyRequest req;
  req.mutable_key()->set_name("keys/u0");
  req.mutable_key()->set_key_type(pb::KEY_TYPE_HMAC_SHA256);
  req.add_update_mask("key_type");
  pb::UpdateKeyResponse resp;
  EXPECT_EQ(keys_->UpdateKey(&ctx, req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// ImportKey takes the same template as CreateKey and refuses what CreateKey
// refuses, leaving nothing behind: here labels past the limits.
TEST_F(ContractFieldsTest, ImportKeyRefusesTheLabelsCreateKeyRefuses) {
  pb::Key hmac;
  hmac.set_key_type(pb::KEY_TYPE_HMAC_SHA256);
  hmac.set_purpose(pb::KEY_PURPOSE_MAC);
  std::vector<std::pair<std::string, pb::Key>> bad;
  pb::Key too_many = hmac;
  for (int i = 0; i < 65; ++i) {
    (*too_many.mutable_labels())[absl::StrCat("l", i)] = "v";
  }
  bad.emplace_back("65 labels", too_many);
  pb::Key too_long = hmac;
  (*too_long.mutable_labels())["team"] = std::string(256, 'v');
  bad.emplace_back("a 256-byte value", too_long);
  pb::Key empty_name = hmac;
  (*empty_name.mutable_labels())[""] = "v";
  bad.emplace_back("an empty name", empty_name);
  int n = 0;
  for (const auto& [what, key] : bad) {
    SCOPED_TRACE(what);
    const std::string id = absl::StrCat("i", n++);
    grpc::ClientContext cctx;
    pb::CreateKeyRequest create;
    create.set_key_id(id);
    *create.mutable_key() = key;
    pb::CreateKeyResponse created;
    EXPECT_EQ(keys_->CreateKey(&cctx, create, &created).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    grpc::ClientContext ictx;
    pb::ImportKeyRequest import;
    import.set_key_id(id);
    import.set_format(pb::KEY_MATERIAL_FORMAT_RAW_SECRET);
    import.set_material(std::string(32, '\x5a'));
    *import.mutable_key() = key;
    pb::ImportKeyResponse imported;
    grpc::Status s = keys_->ImportKey(&ictx, import, &imported);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("label"));
    grpc::ClientContext gctx;
    pb::GetKeyRequest get;
    get.set_name("keys/" + id);
    pb::GetKeyResponse got;
    EXPECT_EQ(keys_->GetKey(&gctx, get, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

}  // namespace
}  // namespace keyward::testing
