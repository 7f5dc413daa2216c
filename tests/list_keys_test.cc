// End-to-end: KeyService/ListKeys paging and name_prefix against the real
// keywardd, on each keystore backend: a prefix lists exactly its keys, page
// by page, whatever ids sort just below it; a prefix no id can start with
// lists nothing; a page token ListKeys did not give is INVALID_ARGUMENT.
// (The cursor below a prefix was once "...\xff", which PostgreSQL refuses
// as text that is not UTF-8.)
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "tests/service_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ListKeysTest : public ServiceTest {
 protected:
  grpc::Status List(const std::string& prefix, int page_size,
                    const std::string& token, pb::ListKeysResponse* resp) {
    grpc::ClientContext ctx;
    pb::ListKeysRequest req;
    req.set_name_prefix(prefix);
    req.set_page_size(page_size);
    req.set_page_token(token);
    return keys_->ListKeys(&ctx, req, resp);
  }

  static std::vector<std::string> Names(const pb::ListKeysResponse& resp) {
    std::vector<std::string> names;
    for (const pb::Key& k : resp.keys()) names.push_back(k.name());
    return names;
  }
};

TEST_F(ListKeysTest, APrefixListsItsKeysPageByPage) {
  for (const char* id : {"pax", "pax-9", "paxzz", "pay-1", "pay-2", "pay-3",
                         "payz", "paz", "q"}) {
    ASSERT_TRUE(CreateKey(id, pb::KEY_TYPE_AES256_GCM).ok()) << id;
  }
  pb::ListKeysResponse first;
  grpc::Status s = List("keys/pay", 2, "", &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(Names(first), ElementsAre("keys/pay-1", "keys/pay-2"));
  ASSERT_FALSE(first.next_page_token().empty());
  pb::ListKeysResponse second;
  s = List("keys/pay", 2, first.next_page_token(), &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(Names(second), ElementsAre("keys/pay-3", "keys/payz"));
  pb::ListKeysResponse last;
  s = List("keys/pay", 2, second.next_page_token(), &last);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(Names(last), ElementsAre());
  EXPECT_EQ(last.next_page_token(), "");

  // A one-character prefix whose lower neighbour is not an id character.
  pb::ListKeysResponse q;
  s = List("keys/q", 10, "", &q);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(Names(q), ElementsAre("keys/q"));
}

TEST_F(ListKeysTest, APrefixNoIdCanHaveListsNothing) {
  ASSERT_TRUE(CreateKey("pay-1", pb::KEY_TYPE_AES256_GCM).ok());
  for (const char* prefix : {"keys/PAY", "keys/-", "keys/p\xc3\xa9"}) {
    pb::ListKeysResponse resp;
    grpc::Status s = List(prefix, 10, "", &resp);
    ASSERT_TRUE(s.ok()) << prefix << ": " << s.error_message();
    EXPECT_EQ(resp.keys_size(), 0) << prefix;
    EXPECT_EQ(resp.next_page_token(), "") << prefix;
  }
}

TEST_F(ListKeysTest, AForeignPageTokenIsRefused) {
  ASSERT_TRUE(CreateKey("pay-1", pb::KEY_TYPE_AES256_GCM).ok());
  for (const char* token : {"not a token", "Pay-1", "p\xc3\xa9"}) {
    pb::ListKeysResponse resp;
    grpc::Status s = List("", 10, token, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
    EXPECT_THAT(s.error_message(), HasSubstr("page_token")) << token;
  }
}

}  // namespace
}  // namespace keyward::testing
