// Reading Wycheproof's JSON vector files (../shared/testdata/wycheproof,
// the @wycheproof//:vectors data of a test) into protobuf Structs, and the
// field accessors every vector test uses. Test-only.
#ifndef KEYWARD_KEYSTORE_TESTING_WYCHEPROOF_H_
#define KEYWARD_KEYSTORE_TESTING_WYCHEPROOF_H_

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace keyward::wycheproof {

using google::protobuf::Struct;

// Load parses the vector file `name` (e.g. "aes_gcm_test.json") from the
// test's runfiles; a missing or unparsable file fails the test.
inline Struct Load(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::ifstream in(std::string(srcdir ? srcdir : ".") + "/wycheproof/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << name;
  std::stringstream json;
  json << in.rdbuf();
  Struct root;
  const auto status =
      google::protobuf::util::JsonStringToMessage(json.str(), &root);
  EXPECT_TRUE(status.ok()) << name << ": " << status.ToString();
  return root;
}

// Field accessors; a missing field reads as empty or 0. Wycheproof writes
// some sizes as numbers and some as strings: Int takes both.
inline const google::protobuf::Value& Get(const Struct& s,
                                          const std::string& key) {
  static const auto* missing = new google::protobuf::Value();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *missing : it->second;
}
inline std::string Str(const Struct& s, const std::string& key) {
  return Get(s, key).string_value();
}
inline std::string Hex(const Struct& s, const std::string& key) {
  return absl::HexStringToBytes(Str(s, key));
}
inline int Int(const Struct& s, const std::string& key) {
  const google::protobuf::Value& v = Get(s, key);
  if (v.kind_case() == google::protobuf::Value::kStringValue) {
    return std::atoi(v.string_value().c_str());
  }
  return static_cast<int>(v.number_value());
}
inline bool Has(const Struct& s, const std::string& key) {
  return s.fields().count(key) != 0;
}

// TestName names a parameterized case after its file:
// "aes_gcm_test.json" -> "aes_gcm_test".
inline std::string TestName(const std::string& file) {
  std::string name = file.substr(0, file.find(".json"));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// PrintTally writes one line for the file `name`: how many vectors it has,
// how many ran and passed, and how many were skipped for each reason.
inline void PrintTally(const std::string& name, int total, int run, int passed,
                       const std::map<std::string, int>& skipped) {
  std::string skips;
  for (const auto& [reason, count] : skipped) {
    absl::StrAppend(&skips, skips.empty() ? "" : ", ", reason, ": ", count);
  }
  std::cout << "[wycheproof] " << name << ": " << total << " vectors, " << run
            << " run, " << passed << " passed, " << (total - run)
            << " skipped (" << (skips.empty() ? "none" : skips) << ")"
            << std::endl;
}

}  // namespace keyward::wycheproof

#endif  // KEYWARD_KEYSTORE_TESTING_WYCHEPROOF_H_
