// Unit tests of the policy, apikey and jwt command handlers against a mock
// client.
#include "client/cli_test_util.h"

namespace keyward::cli::testing {
namespace {


using AccessCommandTest = CommandTest;

TEST_F(AccessCommandTest, PolicyGrantParsesOperationsAndResource) {
  v1::CreatePolicyRequest seen;
  EXPECT_CALL(client_, CreatePolicy(_)).WillOnce([&](const v1::CreatePolicyRequest& req) {
    seen = req;
    v1::CreatePolicyResponse resp;
    *resp.mutable_policy() = req.policy();
    resp.mutable_policy()->set_name("policies/p1");
    return resp;
  });
  CliResult r = RunWith(client_, {"policy", "grant", "unix:uid:1000", "sign,verify",
                                  "jwt-sign", "--key", "app-*", "--id", "p1"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(seen.policy_id(), "p1");
  EXPECT_EQ(seen.policy().resource(), "keys/app-*");
  EXPECT_THAT(seen.policy().operations(),
              ElementsAre(v1::OPERATION_SIGN, v1::OPERATION_VERIFY, v1::OPERATION_JWT_SIGN));
  EXPECT_EQ(r.out, "policies/p1: granted sign, verify, jwt-sign on keys/app-* to unix:uid:1000\n");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"policy", "grant", "unix:uid:1", "sign"}), "give --key");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"policy", "grant", "unix:uid:1", "fly", "--key", "*"}), "fly");
}

// TwoPages answers a List call with `first` (which gets a next_page_token)
// and then, asked for that token, with `second`.
template <typename Response>
auto TwoPages(Response first, Response second) {
  first.set_next_page_token("next");
  return [first, second](const auto& req) {
    EXPECT_THAT(req.page_token(), ::testing::AnyOf("", "next"));
    return req.page_token().empty() ? first : second;
  };
}

// ExpectListed: the command succeeded and printed every one of `texts`.
void ExpectListed(const CliResult& r, const std::vector<std::string>& texts) {
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  for (const std::string& t : texts) EXPECT_THAT(r.out, HasSubstr(t));
}

TEST_F(AccessCommandTest, PolicyAndApiKeyAndTokenListsDrainEveryPage) {
  v1::ListPoliciesResponse policies[2];
  policies[0].add_policies()->set_name("policies/a");
  policies[1].add_policies()->set_name("policies/b");
  EXPECT_CALL(client_, ListPolicies(_))
      .Times(2)
      .WillRepeatedly(TwoPages(policies[0], policies[1]));
  ExpectListed(RunWith(client_, {"policy", "list"}), {"\na ", "\nb "});

  v1::ListApiKeysResponse keys[2];
  keys[0].add_api_keys()->set_name("apiKeys/ci");
  keys[1].add_api_keys()->set_name("apiKeys/ops");
  EXPECT_CALL(client_, ListApiKeys(_)).Times(2).WillRepeatedly(TwoPages(keys[0], keys[1]));
  ExpectListed(RunWith(client_, {"apikey", "list"}), {"\nci ", "\nops "});

  v1::ListTokenRecordsResponse records[2];
  records[0].add_records()->set_jti("jti-1");
  records[1].add_records()->set_jti("jti-2");
  EXPECT_CALL(client_, ListTokenRecords(Truly([](const v1::ListTokenRecordsRequest& req) {
                return req.key() == "keys/otp";
              })))
      .Times(2)
      .WillRepeatedly(TwoPages(records[0], records[1]));
  ExpectListed(RunWith(client_, {"jwt", "records", "--key", "otp"}), {"jti-1", "jti-2"});
}

TEST_F(AccessCommandTest, ApiKeySecretGoesToAPrivateFileOnly) {
  std::string out = TempPath("ci.secret");
  unlink(out.c_str());
  EXPECT_CALL(client_, CreateApiKey(Truly([](const v1::CreateApiKeyRequest& req) {
                return req.api_key_id() == "ci" && req.api_key().has_expire_time();
              })))
      .WillOnce([](const v1::CreateApiKeyRequest&) {
        v1::CreateApiKeyResponse resp;
        resp.set_secret("kw_secret_value");
        resp.mutable_api_key()->set_name("apiKeys/ci");
        resp.mutable_api_key()->set_principal("apikey:ci");
        return resp;
      });
  CliResult r = RunWith(client_, {"apikey", "create", "ci", "--expires-in", "30d", "--out", out});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(ReadTemp(out), "kw_secret_value\n");
  struct stat st;
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("keyward policy grant apikey:ci"));
  EXPECT_THAT(r.err, Not(HasSubstr("kw_secret_value")));
}

TEST_F(AccessCommandTest, LoginReadsTheSecretFromAPrivateFile) {
  std::string secret = WriteTemp("login.secret", "kw_secret\n", 0600);
  EXPECT_CALL(client_, Login(Truly([](const v1::LoginRequest& req) {
                return req.api_key_secret() == "kw_secret" && req.ttl().seconds() == 600;
              })))
      .WillOnce([](const v1::LoginRequest&) {
        v1::LoginResponse resp;
        resp.set_session_token("session");
        return resp;
      });
  CliResult r = RunWith(client_, {"login", "--api-key-file", secret, "--ttl", "10m"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "session\n");
  std::string open = WriteTemp("login.open", "kw_secret\n", 0644);
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"login", "--api-key-file", open}), "chmod");
}

TEST_F(AccessCommandTest, JwtSignRecordsWithExternalId) {
  EXPECT_CALL(client_, SignJwt(Truly([](const v1::SignJwtRequest& req) {
                return req.name() == "keys/otp" && req.claims_json() == "{\"sub\":\"u\"}" &&
                       req.ttl().seconds() == 90 && req.has_record() &&
                       req.record().external_id() == "txn-42" &&
                       req.record().metadata().at("amount") == "10";
              })))
      .WillOnce([](const v1::SignJwtRequest&) {
        v1::SignJwtResponse resp;
        resp.set_token("a.b.c");
        return resp;
      });
  CliResult r = RunWith(client_, {"jwt", "sign", "otp", "--claims", "{\"sub\":\"u\"}",
                                  "--ttl", "90s", "--external-id", "txn-42", "--metadata",
                                  "amount=10"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "a.b.c\n");
}

TEST_F(AccessCommandTest, JwtVerifyInvalidNamesTheReasonAndExitsOne) {
  std::string token = WriteTemp("token", "a.b.c\n");
  v1::VerifyJwtResponse resp;
  resp.set_valid(false);
  resp.set_failure(v1::JWT_FAILURE_EXPIRED);
  EXPECT_CALL(client_, VerifyJwt(Truly([](const v1::VerifyJwtRequest& req) {
                return req.token() == "a.b.c" && req.audience() == "api" &&
                       req.leeway().seconds() == 30;
              })))
      .WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"jwt", "verify", "--in", token, "--audience", "api",
                                  "--leeway", "30s"});
  EXPECT_EQ(r.exit_code, kExitInvalid);
  EXPECT_EQ(r.out, "invalid: expired\n");
}

TEST_F(AccessCommandTest, JwtVerifyMayAcceptATokenWithoutExp) {
  std::string token = WriteTemp("token", "a.b.c\n");
  v1::VerifyJwtResponse resp;
  resp.set_valid(true);
  EXPECT_CALL(client_, VerifyJwt(Truly([](const v1::VerifyJwtRequest& req) {
                return req.allow_missing_exp() &&
                       req.max_age_without_exp().seconds() == 3600;
              })))
      .WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"jwt", "verify", "--in", token, "--allow-missing-exp",
                                  "--max-age-without-exp", "1h"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"jwt", "verify", "--in", token, "--max-age-without-exp", "1h"}),
      "--max-age-without-exp needs --allow-missing-exp");
}

TEST_F(AccessCommandTest, JwtFlagsThatWouldBeIgnoredAreRefused) {
  std::string in = WriteTemp("payload", "p");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"jwe", "encrypt", "k", "--in", in, "--claims", "{}"}),
      "--claims goes with --nested-key");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"jwe", "encrypt", "k", "--in", in, "--record"}),
      "--record goes with --nested-key");
  ExpectRefusedBeforeAnyCall(
      RunWith(client_, {"jwe", "decrypt", "--in", in, "--issuer", "me"}),
      "--issuer goes with --verify-nested");
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"jwt", "record", "jti", "--key", "k"}),
                             "--key goes with --external-id");
}

TEST_F(AccessCommandTest, JweEncryptNestsASignedJwt) {
  EXPECT_CALL(client_, EncryptJwe(Truly([](const v1::EncryptJweRequest& req) {
                return req.name() == "keys/enc" && req.payload().empty() &&
                       req.nested_jwt().name() == "keys/sig" &&
                       req.nested_jwt().claims_json() == "{\"a\":1}" &&
                       req.encryption() == v1::JWE_ENCRYPTION_A128CBC_HS256;
              })))
      .WillOnce([](const v1::EncryptJweRequest&) {
        v1::EncryptJweResponse resp;
        resp.set_token("h.k.i.c.t");
        return resp;
      });
  CliResult r = RunWith(client_, {"jwe", "encrypt", "enc", "--nested-key", "sig", "--claims",
                                  "{\"a\":1}", "--enc", "a128cbc-hs256"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "h.k.i.c.t\n");
}

}  // namespace
}  // namespace keyward::cli::testing
