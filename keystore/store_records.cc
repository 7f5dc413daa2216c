#include "keystore/store_records.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/keys.h"
#include "keystore/key_types.h"

namespace keyward::keystore {
namespace {

enum Tag : uint8_t {
  kMeta = 1,
  kKey = 2,
  kPolicy = 3,
  kApiKey = 4,
  kToken = 5,
};

// Writer appends fields in the stream's encoding.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U32(uint32_t n) {
    for (int shift = 24; shift >= 0; shift -= 8) out_->push_back(char(n >> shift));
  }
  void Int(int64_t v) {
    const uint64_t u = static_cast<uint64_t>(v);
    for (int shift = 56; shift >= 0; shift -= 8) out_->push_back(char(u >> shift));
  }
  void Time(absl::Time t) {
    Int(t == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(t));
  }
  void Seconds(absl::Duration d) { Int(absl::ToInt64Seconds(d)); }
  void Bytes(absl::string_view b) {
    U32(static_cast<uint32_t>(b.size()));
    out_->append(b.data(), b.size());
  }
  void Map(const std::map<std::string, std::string>& m) {
    U32(static_cast<uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      Bytes(k);
      Bytes(v);
    }
  }

 private:
  std::string* out_;
};

// Reader takes fields back; any shortfall sets !ok() and reads zeros.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return n;
  }
  int64_t Int() {
    if (!Need(8)) return 0;
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(8);
    return static_cast<int64_t>(u);
  }
  int32_t Int32() {
    const int64_t v = Int();
    if (v < INT32_MIN || v > INT32_MAX) ok_ = false;
    return static_cast<int32_t>(v);
  }
  absl::Time Time() {
    const int64_t us = Int();
    return us == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixMicros(us);
  }
  absl::Duration Seconds() { return absl::Seconds(Int()); }
  std::string Bytes() {
    const uint32_t n = U32();
    if (!Need(n)) return std::string();
    std::string b(in_.substr(0, n));
    in_.remove_prefix(n);
    return b;
  }
  std::map<std::string, std::string> Map() {
    std::map<std::string, std::string> m;
    const uint32_t n = U32();
    for (uint32_t i = 0; i < n && ok_; ++i) {
      std::string k = Bytes();
      m[std::move(k)] = Bytes();
    }
    return m;
  }
  // Count reads a list's length, refused if the rest cannot hold that many
  // entries of at least `min_size` bytes (no allocation from a bad count).
  uint32_t Count(size_t min_size) {
    const uint32_t n = U32();
    if (n > in_.size() / min_size) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || in_.size() < n) ok_ = false;
    return ok_;
  }
  absl::string_view in_;
  bool ok_ = true;
};

void WriteVersion(Writer& w, const VersionRecord& v) {
  w.Bytes(v.key_id);
  w.Int(v.version);
  w.Int(static_cast<int64_t>(v.state));
  w.Time(v.created_at);
  w.Time(v.destroyed_at);
  w.Bytes(v.wrapped_material);
  w.Bytes(v.public_key);
  w.Int(v.imported ? 1 : 0);
  w.Bytes(v.kid);
}

void WriteBody(Writer& w, const StoreRecord& record) {
  if (const auto* m = std::get_if<KeystoreMeta>(&record)) {
    w.Bytes(m->kdf_salt);
    w.Int(static_cast<int64_t>(m->scrypt_n));
    w.Int(m->scrypt_r);
    w.Int(m->scrypt_p);
    w.Bytes(m->kek_check);
    w.Bytes(m->wrapped_root_key);
  } else if (const auto* kv = std::get_if<KeyWithVersions>(&record)) {
    const KeyRecord& k = kv->key;
    w.Bytes(k.id);
    w.Bytes(crypto::KeyTypeName(k.type));
    w.Int(static_cast<int64_t>(k.purpose));
    w.Bytes(k.description);
    w.Map(k.labels);
    w.Int(k.exportable ? 1 : 0);
    w.Int(k.public_only ? 1 : 0);
    w.Int(k.primary_version);
    w.Int(k.latest_version);
    w.Int(k.min_decrypt_version);
    w.Int(k.min_encrypt_version);
    w.Seconds(k.rotation_period);
    w.Seconds(k.jwt_max_ttl);
    w.Bytes(k.jwe_algorithm);
    w.Time(k.created_at);
    w.Time(k.rotated_at);
    w.Int(k.revision);
    w.U32(static_cast<uint32_t>(kv->versions.size()));
    for (const VersionRecord& v : kv->versions) WriteVersion(w, v);
    // Schema 7's key fields, after the versions: a stream written before
    // them ends here (ReadBody gives such a key its type's defaults).
    w.Bytes(SignatureAlgorithmsText(k.signature_algorithms));
    w.Seconds(k.jwt_default_ttl);
    w.Bytes(k.jwt_issuer);
    w.Int(k.legacy_short_secret ? 1 : 0);
  } else if (const auto* p = std::get_if<PolicyRecord>(&record)) {
    w.Bytes(p->id);
    w.Bytes(p->principal);
    w.Bytes(p->resource);
    w.U32(static_cast<uint32_t>(p->operations.size()));
    for (const std::string& op : p->operations) w.Bytes(op);
    w.Bytes(p->description);
    w.Bytes(p->created_by);
    w.Time(p->created_at);
  } else if (const auto* a = std::get_if<ApiKeyRecord>(&record)) {
    w.Bytes(a->id);
    w.Bytes(a->description);
    w.Bytes(a->secret_sha256);
    w.Bytes(a->created_by);
    w.Time(a->created_at);
    w.Time(a->expire_at);
    w.Time(a->revoked_at);
    w.Time(a->last_login_at);
  } else {
    const TokenRecord& t = std::get<TokenRecord>(record);
    w.Bytes(t.jti);
    w.Bytes(t.key_id);
    w.Int(t.version);
    w.Bytes(t.external_id);
    w.Map(t.metadata);
    w.Bytes(t.subject);
    w.Bytes(t.claims_json);
    w.Bytes(t.sealed_token);
    w.Bytes(t.issued_by);
    w.Time(t.issued_at);
    w.Time(t.expire_at);
    w.Time(t.purge_at);
    w.Time(t.revoked_at);
    w.Bytes(t.revoke_reason);
    w.Bytes(t.revoked_by);
  }
}

bool ReadVersion(Reader& r, VersionRecord* v) {
  v->key_id = r.Bytes();
  v->version = r.Int32();
  const int64_t state = r.Int();
  v->state = static_cast<VersionState>(state);
  v->created_at = r.Time();
  v->destroyed_at = r.Time();
  v->wrapped_material = r.Bytes();
  v->public_key = r.Bytes();
  v->imported = r.Int() != 0;
  v->kid = r.Bytes();
  return state >= 1 && state <= 3;
}

// ReadBody parses one record of kind `tag`; false if it is malformed.
bool ReadBody(uint8_t tag, Reader& r, StoreRecord* out) {
  switch (tag) {
    case kMeta: {
      KeystoreMeta m;
      m.kdf_salt = r.Bytes();
      m.scrypt_n = static_cast<uint64_t>(r.Int());
      m.scrypt_r = static_cast<uint32_t>(r.Int());
      m.scrypt_p = static_cast<uint32_t>(r.Int());
      m.kek_check = r.Bytes();
      m.wrapped_root_key = r.Bytes();
      *out = std::move(m);
      return true;
    }
    case kKey: {
      KeyWithVersions kv;
      KeyRecord& k = kv.key;
      k.id = r.Bytes();
      const std::string type = r.Bytes();
      const std::optional<KeyType> known = KeyTypeFromName(type);
      if (known) k.type = *known;
      const int64_t purpose = r.Int();
      k.purpose = static_cast<KeyPurpose>(purpose);
      k.description = r.Bytes();
      k.labels = r.Map();
      k.exportable = r.Int() != 0;
      k.public_only = r.Int() != 0;
      k.primary_version = r.Int32();
      k.latest_version = r.Int32();
      k.min_decrypt_version = r.Int32();
      k.min_encrypt_version = r.Int32();
      k.rotation_period = r.Seconds();
      k.jwt_max_ttl = r.Seconds();
      k.jwe_algorithm = r.Bytes();
      k.created_at = r.Time();
      k.rotated_at = r.Time();
      k.revision = r.Int();
      const uint32_t n = r.Count(/*min_size=*/56);
      bool states_ok = true;
      for (uint32_t i = 0; i < n && r.ok(); ++i) {
        states_ok = ReadVersion(r, &kv.versions.emplace_back()) && states_ok;
      }
      bool algorithms_ok = true;
      if (r.done()) {
        // Written before schema 7: the key signed with its type's default.
        if (known) {
          k.signature_algorithms = DefaultSignatureAlgorithms(k.type, k.purpose);
        }
      } else {
        auto algorithms = ParseSignatureAlgorithms(r.Bytes());
        algorithms_ok = algorithms.has_value();
        if (algorithms_ok) k.signature_algorithms = std::move(*algorithms);
        k.jwt_default_ttl = r.Seconds();
        k.jwt_issuer = r.Bytes();
        k.legacy_short_secret = r.Int() != 0;
      }
      *out = std::move(kv);
      return known.has_value() && purpose >= 1 && purpose <= 5 && states_ok &&
             algorithms_ok;
    }
    case kPolicy: {
      PolicyRecord p;
      p.id = r.Bytes();
      p.principal = r.Bytes();
      p.resource = r.Bytes();
      const uint32_t n = r.Count(/*min_size=*/4);
      for (uint32_t i = 0; i < n && r.ok(); ++i) {
        p.operations.push_back(r.Bytes());
      }
      p.description = r.Bytes();
      p.created_by = r.Bytes();
      p.created_at = r.Time();
      *out = std::move(p);
      return true;
    }
    case kApiKey: {
      ApiKeyRecord a;
      a.id = r.Bytes();
      a.description = r.Bytes();
      a.secret_sha256 = r.Bytes();
      a.created_by = r.Bytes();
      a.created_at = r.Time();
      a.expire_at = r.Time();
      a.revoked_at = r.Time();
      a.last_login_at = r.Time();
      *out = std::move(a);
      return true;
    }
    case kToken: {
      TokenRecord t;
      t.jti = r.Bytes();
      t.key_id = r.Bytes();
      t.version = r.Int32();
      t.external_id = r.Bytes();
      t.metadata = r.Map();
      t.subject = r.Bytes();
      t.claims_json = r.Bytes();
      t.sealed_token = r.Bytes();
      t.issued_by = r.Bytes();
      t.issued_at = r.Time();
      t.expire_at = r.Time();
      t.purge_at = r.Time();
      t.revoked_at = r.Time();
      t.revoke_reason = r.Bytes();
      t.revoked_by = r.Bytes();
      *out = std::move(t);
      return true;
    }
    default:
      return false;
  }
}

uint8_t TagOf(const StoreRecord& record) {
  switch (record.index()) {
    case 0:
      return kMeta;
    case 1:
      return kKey;
    case 2:
      return kPolicy;
    case 3:
      return kApiKey;
    default:
      return kToken;
  }
}

}  // namespace

void AppendRecord(const StoreRecord& record, std::string* out) {
  std::string body;
  Writer b(&body);
  WriteBody(b, record);
  out->push_back(static_cast<char>(TagOf(record)));
  Writer(out).Bytes(body);
}

std::string EncodeRecord(const StoreRecord& record) {
  std::string out;
  AppendRecord(record, &out);
  return out;
}

absl::StatusOr<std::vector<StoreRecord>> DecodeRecords(absl::string_view in) {
  std::vector<StoreRecord> records;
  while (!in.empty()) {
    const size_t n = records.size() + 1;
    if (in.size() < 5) {
      return absl::DataLossError(
          absl::StrCat("record ", n, " of the stream is truncated"));
    }
    const uint8_t tag = static_cast<uint8_t>(in[0]);
    Reader head(in.substr(1, 4));
    const uint32_t size = head.U32();
    if (in.size() - 5 < size) {
      return absl::DataLossError(
          absl::StrCat("record ", n, " of the stream is truncated"));
    }
    Reader body(in.substr(5, size));
    StoreRecord record;
    const bool valid = ReadBody(tag, body, &record);
    if (!valid || !body.ok() || !body.done()) {
      return absl::DataLossError(absl::StrCat(
          "record ", n, " of the stream (tag ", tag, ") is damaged"));
    }
    records.push_back(std::move(record));
    in.remove_prefix(5 + size);
  }
  return records;
}

RecordCounts CountRecords(const std::vector<StoreRecord>& records) {
  RecordCounts c;
  for (const StoreRecord& r : records) {
    switch (TagOf(r)) {
      case kMeta:
        ++c.metas;
        break;
      case kKey:
        ++c.keys;
        c.versions += std::get<KeyWithVersions>(r).versions.size();
        break;
      case kPolicy:
        ++c.policies;
        break;
      case kApiKey:
        ++c.api_keys;
        break;
      default:
        ++c.tokens;
    }
  }
  return c;
}

absl::StatusOr<std::vector<StoreRecord>> ExportAll(Storage& storage) {
  std::vector<StoreRecord> records;
  absl::Status s = storage.ExportRecords([&](const StoreRecord& r) {
    records.push_back(r);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return records;
}

std::string RecordName(const StoreRecord& record) {
  if (std::holds_alternative<KeystoreMeta>(record)) return "the key hierarchy";
  if (const auto* k = std::get_if<KeyWithVersions>(&record)) {
    return absl::StrCat("key '", k->key.id, "'");
  }
  if (const auto* p = std::get_if<PolicyRecord>(&record)) {
    return absl::StrCat("policy '", p->id, "'");
  }
  if (const auto* a = std::get_if<ApiKeyRecord>(&record)) {
    return absl::StrCat("API key '", a->id, "'");
  }
  return absl::StrCat("token record '", std::get<TokenRecord>(record).jti, "'");
}

absl::Status CompareRecords(const std::vector<StoreRecord>& a,
                            const std::vector<StoreRecord>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (EncodeRecord(a[i]) != EncodeRecord(b[i])) {
      return absl::DataLossError(absl::StrCat(
          "record ", i + 1, " differs: ", RecordName(a[i]), " against ",
          RecordName(b[i])));
    }
  }
  if (a.size() != b.size()) {
    return absl::DataLossError(absl::StrCat(
        "one side has ", a.size(), " records, the other ", b.size()));
  }
  return absl::OkStatus();
}

}  // namespace keyward::keystore
