// Unit tests of the "key" command handlers against a mock client.
#include "client/cli_test_util.h"

namespace keyward::cli::testing {
namespace {


using KeyCommandTest = CommandTest;

// `key create --type NAME` takes every KeyType's name (from the proto enum)
// and sends that type; RSA types need a purpose, the others take their
// default.
TEST_F(KeyCommandTest, CreateTakesEveryKeyTypeName) {
  const google::protobuf::EnumDescriptor* d = v1::KeyType_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    const auto type = static_cast<v1::KeyType>(d->value(i)->number());
    if (type == v1::KEY_TYPE_UNSPECIFIED) continue;
    v1::CreateKeyResponse resp;
    resp.mutable_key()->set_name("keys/k");
    EXPECT_CALL(client_, CreateKey(Truly([type](const v1::CreateKeyRequest& r) {
                  return r.key().key_type() == type;
                })))
        .WillOnce(Return(resp));
    std::vector<std::string> args = {"key", "create", "k", "--type",
                                     KeyTypeName(type)};
    if (!DefaultPurpose(type).ok()) {
      args.insert(args.end(), {"--purpose", "sign"});
    }
    CliResult r = RunWith(client_, args);
    EXPECT_EQ(r.exit_code, kExitOk) << KeyTypeName(type) << ": " << r.err;
    ::testing::Mock::VerifyAndClearExpectations(&client_);
  }
}

TEST_F(KeyCommandTest, CreateWithoutATypeNamesEveryType) {
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"key", "create", "k"}),
                             KeyTypeNames());
}

TEST_F(KeyCommandTest, UpdateSendsJwtSettingsAndMinEncryptVersion) {
  v1::UpdateKeyResponse resp;
  resp.mutable_key()->set_name("keys/k");
  EXPECT_CALL(client_, UpdateKey(Truly([](const v1::UpdateKeyRequest& req) {
                const auto& m = req.update_mask();
                return req.key().name() == "keys/k" && m.size() == 3 &&
                       m[0] == "min_encryption_version" &&
                       m[1] == "jwt.default_ttl" && m[2] == "jwt.issuer" &&
                       req.key().min_encryption_version() == 2 &&
                       req.key().jwt().default_ttl().seconds() == 300 &&
                       req.key().jwt().issuer() == "https://id.example";
              })))
      .WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"key", "update", "k", "--min-encrypt-version", "2",
                                  "--jwt-default-ttl", "5m", "--jwt-issuer",
                                  "https://id.example"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
}

TEST_F(KeyCommandTest, CreateSendsAlgorithmsFirstIsDefault) {
  v1::CreateKeyResponse resp;
  resp.mutable_key()->set_name("keys/k");
  EXPECT_CALL(client_, CreateKey(Truly([](const v1::CreateKeyRequest& req) {
                const auto& a = req.key().signature_algorithms();
                return a.size() == 2 &&
                       a[0] == v1::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512 &&
                       a[1] == v1::SIGNATURE_ALGORITHM_RSA_PSS_SHA256 &&
                       req.key().jwt().issuer() == "me" &&
                       req.key().jwt().default_ttl().seconds() == 300;
              })))
      .WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"key", "create", "k", "--type", "rsa-2048",
                                  "--purpose", "sign", "--algorithm",
                                  "rsa-pkcs1-sha512", "--algorithm", "PS256",
                                  "--jwt-issuer", "me", "--jwt-default-ttl", "5m"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
}

TEST_F(KeyCommandTest, CreateRefusesAnUnknownAlgorithmBeforeAnyCall) {
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"key", "create", "k", "--type", "rsa-2048", "--purpose",
                        "jwt", "--algorithm", "RS1024"}),
      "signature algorithm");
}

TEST_F(KeyCommandTest, ImportSendsSettingsAndAllowShortSecret) {
  const std::string path = ::testing::TempDir() + "/short-secret";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("nineteen-byte-secret", f);
    std::fclose(f);
  }
  v1::ImportKeyResponse resp;
  resp.mutable_key()->set_name("keys/legacy");
  EXPECT_CALL(client_, ImportKey(Truly([](const v1::ImportKeyRequest& req) {
                return req.key_id() == "legacy" && req.allow_short_secret() &&
                       req.key().rotation_period().seconds() == 30 * 86400 &&
                       req.key().jwt().max_ttl().seconds() == 3600 &&
                       req.format() == v1::KEY_MATERIAL_FORMAT_RAW_SECRET;
              })))
      .WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"key", "import", "legacy", "--in", path,
                                  "--type", "hmac-sha256", "--purpose", "jwt",
                                  "--format", "raw", "--allow-short-secret",
                                  "--rotation-period", "30d", "--jwt-max-ttl", "1h"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
}

TEST_F(KeyCommandTest, ShowsJwtSettingsAndTheShortSecretMark) {
  v1::GetKeyResponse resp;
  v1::Key* key = resp.mutable_key();
  key->set_name("keys/legacy");
  key->set_key_type(v1::KEY_TYPE_HMAC_SHA256);
  key->set_purpose(v1::KEY_PURPOSE_JWT);
  key->mutable_jwt()->set_issuer("https://id.example");
  key->set_legacy_short_secret(true);
  EXPECT_CALL(client_, GetKey(_)).WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"key", "show", "legacy"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("https://id.example"));
  EXPECT_THAT(r.out, HasSubstr("legacy short secret"));
  EXPECT_THAT(r.out, HasSubstr("15m (default)"));
}

TEST_F(KeyCommandTest, CreateSendsTheTemplate) {
  v1::CreateKeyResponse resp;
  resp.mutable_key()->set_name("keys/jwt-a");
  EXPECT_CALL(client_, CreateKey(Truly([](const v1::CreateKeyRequest& req) {
                return req.key_id() == "jwt-a" &&
                       req.key().key_type() == v1::KEY_TYPE_ECDSA_P256 &&
                       req.key().purpose() == v1::KEY_PURPOSE_JWT &&
                       req.key().rotation_period().seconds() == 30 * 86400 &&
                       req.key().jwt().max_ttl().seconds() == 3600 &&
                       req.key().labels().at("team") == "pay" &&
                       req.key().exportable() && req.key().description() == "d";
              })))
      .WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"key", "create", "jwt-a", "--type", "ecdsa-p256",
                                  "--purpose", "jwt", "--rotation-period", "30d",
                                  "--jwt-max-ttl", "1h", "--label", "team=pay",
                                  "--exportable", "--description", "d"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("keys/jwt-a"));
}

TEST_F(KeyCommandTest, UpdateSendsOnlyTheMaskedFields) {
  v1::UpdateKeyRequest seen;
  EXPECT_CALL(client_, UpdateKey(_)).WillOnce([&](const v1::UpdateKeyRequest& req) {
    seen = req;
    v1::UpdateKeyResponse resp;
    *resp.mutable_key() = req.key();
    return resp;
  });
  CliResult r = RunWith(client_, {"key", "update", "k", "--clear-labels",
                                  "--min-decrypt-version", "0", "--jwt-max-ttl", "2h"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(seen.key().name(), "keys/k");
  EXPECT_THAT(seen.update_mask(),
              ElementsAre("labels", "min_decryption_version", "jwt.max_ttl"));
  EXPECT_TRUE(seen.key().labels().empty());
  EXPECT_EQ(seen.key().jwt().max_ttl().seconds(), 7200);
}

TEST_F(KeyCommandTest, UpdateWithNothingToChangeIsAUsageError) {
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"key", "update", "k"}), "nothing to change");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"key", "update", "k", "--label", "a=b", "--clear-labels"}),
      "not both");
}

TEST_F(KeyCommandTest, ListDrainsEveryPage) {
  std::vector<std::string> tokens;
  EXPECT_CALL(client_, ListKeys(_))
      .Times(3)
      .WillRepeatedly([&](const v1::ListKeysRequest& req) {
        tokens.push_back(req.page_token());
        EXPECT_EQ(req.name_prefix(), "keys/app-");
        v1::ListKeysResponse page;
        page.add_keys()->set_name(absl::StrCat("keys/app-", tokens.size()));
        if (tokens.size() < 3) page.set_next_page_token(absl::StrCat("t", tokens.size()));
        return page;
      });
  CliResult r = RunWith(client_, {"--json", "key", "list", "--prefix", "app-"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(tokens, ElementsAre("", "t1", "t2"));
  v1::ListKeysResponse all;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &all).ok()) << r.out;
  ASSERT_EQ(all.keys_size(), 3);
  EXPECT_EQ(all.keys(2).name(), "keys/app-3");
  EXPECT_EQ(all.next_page_token(), "");
}

TEST_F(KeyCommandTest, ListStopsOnARepeatedPageToken) {
  v1::ListKeysResponse page;
  page.set_next_page_token("same");
  EXPECT_CALL(client_, ListKeys(_)).Times(2).WillRepeatedly(Return(page));
  CliResult r = RunWith(client_, {"key", "list"});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.err, "keyward: cannot list keys: the daemon repeated a page token\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(KeyCommandTest, DaemonErrorIsOneLineWithItsMessage) {
  EXPECT_CALL(client_, GetKey(_)).WillOnce(Return(absl::NotFoundError("key 'x' not found")));
  CliResult r = RunWith(client_, {"key", "show", "x"});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.err, "keyward: cannot show keys/x: key 'x' not found\n");
}

TEST_F(KeyCommandTest, ImportNewVersionRefusesTemplateFlags) {
  std::string pem = WriteTemp("k.pem", "-----BEGIN PRIVATE KEY-----\n");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"key", "import", "k", "--in", pem,
                                               "--new-version", "--description", "x"}),
                             "--description describes a new key");
}

TEST_F(KeyCommandTest, ImportSendsMaterialAndGuessedFormat) {
  std::string pem = WriteTemp("pub.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n");
  EXPECT_CALL(client_, ImportKey(Truly([](const v1::ImportKeyRequest& req) {
                return req.key_id() == "partner" &&
                       req.format() == v1::KEY_MATERIAL_FORMAT_PUBLIC_KEY_PEM &&
                       req.key().purpose() == v1::KEY_PURPOSE_SIGN_VERIFY &&
                       req.kid() == "p1" &&
                       req.material() == "-----BEGIN PUBLIC KEY-----\nAAAA\n";
              })))
      .WillOnce([](const v1::ImportKeyRequest&) {
        v1::ImportKeyResponse resp;
        resp.mutable_key()->set_name("keys/partner");
        resp.mutable_key()->set_public_only(true);
        resp.mutable_version()->set_number(1);
        return resp;
      });
  CliResult r = RunWith(client_, {"key", "import", "partner", "--in", pem, "--purpose",
                                  "sign", "--kid", "p1"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("keys/partner: imported version 1"));
  EXPECT_THAT(r.out, HasSubstr("public only"));
}

TEST_F(KeyCommandTest, VersionChangesNameTheVersion) {
  EXPECT_CALL(client_, DisableKeyVersion(Truly([](const v1::DisableKeyVersionRequest& req) {
                return req.name() == "keys/k/versions/2";
              })))
      .WillOnce([](const v1::DisableKeyVersionRequest&) {
        v1::DisableKeyVersionResponse resp;
        resp.mutable_version()->set_state(v1::VERSION_STATE_DISABLED);
        return resp;
      });
  CliResult r = RunWith(client_, {"key", "disable-version", "k", "2"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "keys/k/versions/2: disabled\n");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"key", "enable-version", "k", "zero"}),
                             "VERSION");
}

TEST(ConnectTest, AFailedConnectionIsReportedOnce) {
  std::ostringstream out;
  std::ostringstream err;
  Environment env;
  env.out = &out;
  env.err = &err;
  env.connect = [](const ClientOptions& options)
      -> absl::StatusOr<std::unique_ptr<ClientInterface>> {
    EXPECT_EQ(options.target, "bad:target:x");
    return absl::InvalidArgumentError("bad port in \"bad:target:x\"");
  };
  int rc = RunCli({"key", "show", "k", "--addr", "bad:target:x"}, env);
  EXPECT_EQ(rc, kExitError);
  EXPECT_EQ(err.str(),
            "keyward: cannot use the daemon address: bad port in \"bad:target:x\"\n");
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace keyward::cli::testing
