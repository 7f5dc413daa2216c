#include "keystore/key_cache.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace keyward::keystore {
namespace {

std::shared_ptr<const KeyEntry> Entry(const std::string& id) {
  auto e = std::make_shared<KeyEntry>();
  e->record.id = id;
  return e;
}

TEST(KeyCacheTest, FindInsertErase) {
  KeyCache cache(8);
  EXPECT_EQ(cache.Find("a"), nullptr);
  cache.Insert(Entry("a"));
  ASSERT_NE(cache.Find("a"), nullptr);
  EXPECT_EQ(cache.Find("a")->record.id, "a");
  cache.Erase("a");
  EXPECT_EQ(cache.Find("a"), nullptr);
}

TEST(KeyCacheTest, EraseOlderThanKeepsAnEntryReadAfterTheChange) {
  KeyCache cache(8);
  auto e = std::make_shared<KeyEntry>();
  e->record.id = "a";
  e->feed_head = 5;
  cache.Insert(e);
  cache.EraseOlderThan("a", 5);  // change 5 is in the entry
  EXPECT_NE(cache.Find("a"), nullptr);
  cache.EraseOlderThan("a", 6);  // change 6 is not
  EXPECT_EQ(cache.Find("a"), nullptr);
  cache.EraseOlderThan("absent", 1);  // nothing to erase
  EXPECT_EQ(cache.size(), 0u);
}

TEST(KeyCacheTest, InsertReplaces) {
  KeyCache cache(4);
  auto first = Entry("a");
  cache.Insert(first);
  auto second = Entry("a");
  cache.Insert(second);
  EXPECT_EQ(cache.Find("a"), second);
  EXPECT_EQ(cache.size(), 1u);
}

// InsertUnheld inserts a new entry `id` that only the cache holds; the weak
// reference it returns expires when the cache lets the entry go.
std::weak_ptr<const KeyEntry> InsertUnheld(KeyCache* cache,
                                           const std::string& id) {
  auto e = Entry(id);
  std::weak_ptr<const KeyEntry> weak = e;
  cache->Insert(std::move(e));
  return weak;
}

TEST(KeyCacheTest, StaysWithinCapacityAndReleasesEvicted) {
  KeyCache cache(16);
  std::weak_ptr<const KeyEntry> first = InsertUnheld(&cache, "k0");
  for (int i = 1; i < 1000; ++i) cache.Insert(Entry(absl::StrCat("k", i)));
  EXPECT_LE(cache.size(), 16u);
  EXPECT_GT(cache.size(), 0u);
  // Nobody holds k0 any more unless it survived eviction.
  if (cache.Find("k0") == nullptr) {
    EXPECT_TRUE(first.expired());
  }
}

TEST(KeyCacheTest, CapacityOneHoldsOne) {
  KeyCache cache(1);
  cache.Insert(Entry("a"));
  cache.Insert(Entry("b"));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.Find("b"), nullptr);
}

TEST(KeyCacheTest, ClearReleasesAll) {
  KeyCache cache(4);
  std::weak_ptr<const KeyEntry> weak = InsertUnheld(&cache, "a");
  cache.Clear();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(KeyCacheTest, ConcurrentUse) {
  KeyCache cache(32);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = absl::StrCat("k", (i * 7 + t) % 64);
        if (auto e = cache.Find(id)) {
          EXPECT_EQ(e->record.id, id);
        } else {
          cache.Insert(Entry(id));
        }
        if (i % 97 == 0) cache.Erase(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(cache.size(), 32u);
}

}  // namespace
}  // namespace keyward::keystore
