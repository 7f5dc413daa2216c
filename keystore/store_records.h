// The logical keystore records as bytes: the stream that backups (format 2,
// backup.h) and `keywardd migrate` carry, and the canonical form in which
// two stores are compared record by record. Written down in FORMAT.md
// ("Records").
//
// A stream is a concatenation of records, each
//   u8 tag || u32 length || body
// with tag 1 KeystoreMeta, 2 KeyWithVersions, 3 PolicyRecord, 4 ApiKeyRecord,
// 5 TokenRecord. A body is its record's fields in a fixed order: integers,
// times (microseconds since the epoch, INT64_MAX for "never") and durations
// (seconds) as big-endian 8-byte two's complement, bytes and text as u32
// length || bytes, maps and lists as u32 count || entries. Lengths and counts
// are big-endian. Equal records encode to equal bytes (a map's entries are in
// key order), whatever backend they came from.
#ifndef KEYWARD_KEYSTORE_STORE_RECORDS_H_
#define KEYWARD_KEYSTORE_STORE_RECORDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/storage.h"

namespace keyward::keystore {

using StoreRecord = Storage::StoreRecord;

// AppendRecord appends the encoding of `record` to `out`.
void AppendRecord(const StoreRecord& record, std::string* out);
// EncodeRecord is the encoding of `record` alone.
std::string EncodeRecord(const StoreRecord& record);

// DecodeRecords parses a stream of records. DATA_LOSS (naming the record's
// position) for a truncated or malformed record, an unknown tag, key type,
// purpose or state, or bytes left inside a record. Thread-safe.
absl::StatusOr<std::vector<StoreRecord>> DecodeRecords(absl::string_view in);

// RecordCounts: how many records of each kind a store holds.
struct RecordCounts {
  int64_t metas = 0, keys = 0, versions = 0, policies = 0, api_keys = 0,
          tokens = 0;
  bool operator==(const RecordCounts& o) const {
    return metas == o.metas && keys == o.keys && versions == o.versions &&
           policies == o.policies && api_keys == o.api_keys &&
           tokens == o.tokens;
  }
};
RecordCounts CountRecords(const std::vector<StoreRecord>& records);

// ExportAll collects storage.ExportRecords into a list.
absl::StatusOr<std::vector<StoreRecord>> ExportAll(Storage& storage);

// CompareRecords: OK if `a` and `b` are the same records in the same order
// (byte for byte, EncodeRecord); else DATA_LOSS naming the first record
// that differs and how many records each side has.
absl::Status CompareRecords(const std::vector<StoreRecord>& a,
                            const std::vector<StoreRecord>& b);

// RecordName: "key 'a'", "policy 'p'", ... for messages (no secret in it).
std::string RecordName(const StoreRecord& record);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_STORE_RECORDS_H_
