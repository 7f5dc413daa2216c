// End-to-end: DataPlaneService/Stream against the real keywardd. Mixed items
// in one message, each answered with its own status (unknown key NOT_FOUND,
// bad input INVALID_ARGUMENT, no grant PERMISSION_DENIED) while the others
// succeed; results usable by the unary calls; one audit record per item;
// the per-stream outstanding bound (RESOURCE_EXHAUSTED per item beyond);
// a cancelled stream ends CANCELLED; an unidentified stream ends at once;
// keyward::Client with ClientOptions.coalesce sends its data-plane calls
// over one stream with the unary calls' results and errors.
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/stream_mux.h"
#include "gmock/gmock.h"
#include "keyward/v1/data_plane_service.grpc.pb.h"
#include "tests/service_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

class StreamTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
    ASSERT_TRUE(CreateKey("aes", pb::KEY_TYPE_AES256_GCM).ok());
    ASSERT_TRUE(CreateKey("hmac", pb::KEY_TYPE_HMAC_SHA256).ok());
    ASSERT_TRUE(
        CreateKey("jwt", pb::KEY_TYPE_ECDSA_P256, pb::KEY_PURPOSE_JWT).ok());
    stream_ = pb::DataPlaneService::NewStub(daemon_->NewChannel());
  }

  // Exchange sends `messages` on one stream, half-closes, and returns the
  // results by id and the stream's status.
  grpc::Status Exchange(const std::vector<pb::StreamRequest>& messages,
                        std::map<uint64_t, pb::StreamResult>* results,
                        const std::string& bearer = "") {
    grpc::ClientContext ctx;
    if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
    auto rw = stream_->Stream(&ctx);
    for (const auto& m : messages) {
      if (!rw->Write(m)) break;
    }
    rw->WritesDone();
    pb::StreamResponse response;
    while (rw->Read(&response)) {
      for (const auto& r : response.results()) {
        EXPECT_TRUE(results->emplace(r.id(), r).second) << "twice: " << r.id();
      }
    }
    return rw->Finish();
  }

  // The audit log's lines holding `needle`.
  std::vector<std::string> AuditLines(const std::string& needle) {
    std::ifstream in(dir_ + "/audit.log");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (absl::StrContains(line, needle)) out.push_back(line);
    }
    return out;
  }

  std::unique_ptr<pb::DataPlaneService::Stub> stream_;
};

pb::StreamItem SignItem(uint64_t id, const std::string& key,
                        const std::string& data) {
  pb::StreamItem item;
  item.set_id(id);
  item.mutable_sign()->set_name("keys/" + key);
  item.mutable_sign()->set_data(data);
  return item;
}

TEST_F(StreamTest, MixedItemsEachGetTheirOwnStatus) {
  pb::StreamRequest first;
  *first.add_items() = SignItem(1, "ed", "hello");
  *first.add_items() = SignItem(2, "missing", "hello");  // NOT_FOUND
  {
    pb::StreamItem* digest = first.add_items();  // Ed25519 takes no digest
    digest->set_id(3);
    digest->mutable_sign()->set_name("keys/ed");
    digest->mutable_sign()->set_digest(std::string(32, 'd'));
  }
  {
    pb::StreamItem* e = first.add_items();
    e->set_id(4);
    e->mutable_encrypt()->set_name("keys/aes");
    e->mutable_encrypt()->set_plaintext("secret");
    e->mutable_encrypt()->set_associated_data("ctx");
  }
  {
    pb::StreamItem* m = first.add_items();
    m->set_id(5);
    m->mutable_mac()->set_name("keys/hmac");
    m->mutable_mac()->set_data("tag me");
  }
  {
    pb::StreamItem* j = first.add_items();
    j->set_id(6);
    j->mutable_sign_jwt()->set_name("keys/jwt");
    j->mutable_sign_jwt()->set_claims_json(R"({"sub":"alice"})");
  }
  first.add_items()->set_id(7);  // no request: INVALID_ARGUMENT
  std::map<uint64_t, pb::StreamResult> results;
  grpc::Status s = Exchange({first}, &results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 7u);
  EXPECT_EQ(results[1].status().code(), 0) << results[1].status().message();
  EXPECT_EQ(results[1].sign().key_version(), "keys/ed/versions/1");
  EXPECT_EQ(results[2].status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(results[2].has_sign());
  EXPECT_EQ(results[3].status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(results[3].status().message(), HasSubstr("Ed25519"));
  EXPECT_EQ(results[4].status().code(), 0);
  EXPECT_EQ(results[5].status().code(), 0);
  EXPECT_EQ(results[6].status().code(), 0) << results[6].status().message();
  EXPECT_EQ(results[7].status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(results[7].status().message(), HasSubstr("sign_jwt"));

  // The answers check out through the stream and through the unary calls.
  pb::StreamRequest second;
  {
    pb::StreamItem* v = second.add_items();
    v->set_id(11);
    v->mutable_verify()->set_name("keys/ed");
    v->mutable_verify()->set_data("hello");
    v->mutable_verify()->set_signature(results[1].sign().signature());
    pb::StreamItem* d = second.add_items();
    d->set_id(12);
    d->mutable_decrypt()->set_name("keys/aes");
    d->mutable_decrypt()->set_ciphertext(results[4].encrypt().ciphertext());
    d->mutable_decrypt()->set_associated_data("ctx");
    pb::StreamItem* vm = second.add_items();
    vm->set_id(13);
    vm->mutable_verify_mac()->set_name("keys/hmac");
    vm->mutable_verify_mac()->set_data("tag me");
    vm->mutable_verify_mac()->set_mac(results[5].mac().mac());
    pb::StreamItem* vj = second.add_items();
    vj->set_id(14);
    vj->mutable_verify_jwt()->set_token(results[6].sign_jwt().token());
  }
  std::map<uint64_t, pb::StreamResult> checked;
  s = Exchange({second}, &checked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(checked.size(), 4u);
  EXPECT_TRUE(checked[11].verify().valid());
  EXPECT_EQ(checked[12].decrypt().plaintext(), "secret");
  EXPECT_TRUE(checked[13].verify_mac().valid());
  EXPECT_TRUE(checked[14].verify_jwt().valid())
      << checked[14].verify_jwt().failure_detail();
  EXPECT_TRUE(Verify("ed", "hello", results[1].sign().signature()).valid());

  // One audit record per item, under the stream's method and the item's id.
  auto signs = AuditLines("DataPlaneService/Stream/Sign\"");
  ASSERT_EQ(signs.size(), 3u);
  EXPECT_THAT(signs[1], HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(signs[1], HasSubstr("/2\""));
  EXPECT_THAT(signs[2], HasSubstr("\"code\":\"INVALID_ARGUMENT\""));
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/Decrypt").size(), 1u);
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/SignJwt").size(), 1u);
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/VerifyJwt").size(), 1u);
}

TEST_F(StreamTest, ItemsWithoutAGrantArePermissionDenied) {
  std::string secret;
  {
    grpc::ClientContext ctx;
    pb::CreateApiKeyRequest req;
    req.set_api_key_id("nogrant");
    pb::CreateApiKeyResponse resp;
    ASSERT_TRUE(access_->CreateApiKey(&ctx, req, &resp).ok());
    secret = resp.secret();
  }
  std::string token;
  {
    grpc::ClientContext ctx;
    pb::LoginRequest req;
    req.set_api_key_secret(secret);
    pb::LoginResponse resp;
    grpc::Status s = access_->Login(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    token = resp.session_token();
  }
  pb::StreamRequest message;
  *message.add_items() = SignItem(1, "ed", "x");
  *message.add_items() = SignItem(2, "ed", "y");
  std::map<uint64_t, pb::StreamResult> results;
  grpc::Status s = Exchange({message}, &results, token);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 2u);
  for (auto& [id, r] : results) {
    EXPECT_EQ(r.status().code(), grpc::StatusCode::PERMISSION_DENIED) << id;
    EXPECT_FALSE(r.has_sign());
  }
  auto records = AuditLines("DataPlaneService/Stream/Sign\"");
  ASSERT_EQ(records.size(), 2u);
  for (const auto& line : records) {
    EXPECT_THAT(line, HasSubstr("apikey:nogrant"));
    EXPECT_THAT(line, HasSubstr("PERMISSION_DENIED"));
  }

  // A bad token ends the stream at once, before any item.
  results.clear();
  s = Exchange({message}, &results, "not-a-token");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(results.empty());
}

TEST_F(StreamTest, ItemsBeyondTheOutstandingBoundAreResourceExhausted) {
  pb::StreamRequest message;
  for (uint64_t id = 0; id < 300; ++id) {
    *message.add_items() = SignItem(id, "ed", absl::StrCat("m", id));
  }
  std::map<uint64_t, pb::StreamResult> results;
  grpc::Status s = Exchange({message}, &results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 300u);
  int ok = 0, exhausted = 0;
  for (auto& [id, r] : results) {
    if (r.status().code() == 0) ++ok;
    if (r.status().code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_THAT(r.status().message(), HasSubstr("256 per stream"));
      EXPECT_GE(id, 256u);
    }
  }
  EXPECT_EQ(ok, 256);
  EXPECT_EQ(exhausted, 44);
  // Refused items were not run: no record for them.
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/Sign\"").size(), 256u);

  // Many small messages, more than the bound in total, all run: the bound
  // is on what is outstanding, not on the stream.
  std::vector<pb::StreamRequest> many(40);
  for (uint64_t id = 0; id < 400; ++id) {
    *many[id % 40].add_items() = SignItem(id, "ed", "x");
  }
  results.clear();
  s = Exchange(many, &results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 400u);
  for (auto& [id, r] : results) EXPECT_EQ(r.status().code(), 0) << id;
}

TEST_F(StreamTest, BadMessagesAndCancellationEndTheStream) {
  std::map<uint64_t, pb::StreamResult> results;
  grpc::Status s = Exchange({pb::StreamRequest()}, &results);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("1 to 1000 items"));

  grpc::ClientContext ctx;
  auto rw = stream_->Stream(&ctx);
  pb::StreamRequest message;
  *message.add_items() = SignItem(1, "ed", "x");
  ASSERT_TRUE(rw->Write(message));
  pb::StreamResponse response;
  ASSERT_TRUE(rw->Read(&response));
  EXPECT_EQ(response.results(0).status().code(), 0);
  ctx.TryCancel();
  while (rw->Read(&response)) {
  }
  EXPECT_EQ(rw->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The daemon still serves.
  pb::SignResponse sig;
  EXPECT_TRUE(Sign("ed", "after", &sig).ok());
}

// StreamMux: 32 threads calling at once share one stream; each gets its own
// answer (ids restored), failures stay per call, and the items went out in
// fewer messages than items.
TEST_F(StreamTest, MuxCoalescesConcurrentCalls) {
  std::atomic<int> ok{0}, not_found{0}, wrong{0};
  uint64_t messages = 0, items = 0;
  {
    StreamMux mux(daemon_->NewChannel());
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          const uint64_t id = t * 1000 + i;
          auto result = mux.CallSync(
              SignItem(id, i % 10 == 9 ? "missing" : "ed", "m"));
          if (!result.ok() || result->id() != id) {
            ++wrong;
          } else if (result->status().code() == 0 && result->has_sign()) {
            ++ok;
          } else if (result->status().code() == grpc::StatusCode::NOT_FOUND) {
            ++not_found;
          } else {
            ++wrong;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    messages = mux.messages_sent();
    items = mux.items_sent();
  }
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(ok.load(), 32 * 45);
  EXPECT_EQ(not_found.load(), 32 * 5);
  EXPECT_EQ(items, 32u * 50u);
  EXPECT_LT(messages, items);

  // A refused stream fails every call with the stream's status.
  StreamMux refused(daemon_->NewChannel(), "not-a-token");
  EXPECT_EQ(refused.CallSync(SignItem(1, "ed", "x")).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(StreamTest, ClientCoalesceSendsDataPlaneCallsOverTheStream) {
  ClientOptions options;
  options.target = "unix://" + daemon_->socket_path();
  options.coalesce = true;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        pb::SignRequest sign;
        sign.set_name("keys/ed");
        sign.set_data(absl::StrCat("m", t, "-", i));
        auto signed_ = (*client)->Sign(sign);
        if (!signed_.ok()) {
          ++wrong;
          continue;
        }
        pb::VerifyRequest verify;
        verify.set_name(signed_->key_version());
        verify.set_data(sign.data());
        verify.set_signature(signed_->signature());
        auto verdict = (*client)->Verify(verify);
        if (!verdict.ok() || !verdict->valid()) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);

  // Errors keep the unary calls' codes and messages.
  pb::SignRequest missing;
  missing.set_name("keys/missing");
  missing.set_data("x");
  EXPECT_EQ((*client)->Sign(missing).status().code(),
            absl::StatusCode::kNotFound);
  pb::EncryptRequest encrypt;
  encrypt.set_name("keys/aes");
  encrypt.set_plaintext("secret");
  auto ciphertext = (*client)->Encrypt(encrypt);
  ASSERT_TRUE(ciphertext.ok()) << ciphertext.status();
  pb::DecryptRequest decrypt;
  decrypt.set_name("keys/aes");
  decrypt.set_ciphertext(ciphertext->ciphertext());
  decrypt.set_associated_data("other");
  EXPECT_EQ((*client)->Decrypt(decrypt).status().code(),
            absl::StatusCode::kInvalidArgument);
  decrypt.clear_associated_data();
  auto plaintext = (*client)->Decrypt(decrypt);
  ASSERT_TRUE(plaintext.ok()) << plaintext.status();
  EXPECT_EQ(plaintext->plaintext(), "secret");

  // The daemon saw stream items, not unary calls.
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/Sign\"").size(),
            16u * 10u + 1);
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/Verify\"").size(), 16u * 10u);
  EXPECT_EQ(AuditLines("DataPlaneService/Stream/Decrypt\"").size(), 2u);
  EXPECT_EQ(AuditLines("CryptoService/Sign\"").size(), 0u);
  EXPECT_EQ(AuditLines("CryptoService/Verify\"").size(), 0u);
}

}  // namespace
}  // namespace keyward::testing
