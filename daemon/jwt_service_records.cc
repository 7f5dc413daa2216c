// JwtService's token records: GetTokenRecord, RevokeToken and
// ListTokenRecords (jwt_service.h).
#include "daemon/jwt_service.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

bool ValidJti(absl::string_view jti) {
  if (jti.empty() || jti.size() > 128) return false;
  return std::all_of(jti.begin(), jti.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_';
  });
}

// "tokens/{jti}" -> jti.
absl::StatusOr<std::string> ParseTokenName(absl::string_view name) {
  absl::string_view jti = name;
  if (!absl::ConsumePrefix(&jti, "tokens/") || !ValidJti(jti)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name '", absl::CHexEscape(name.substr(0, 160)),
        "' is not a token record name, tokens/{jti}"));
  }
  return std::string(jti);
}

// "" or "keys/{id}" -> "" or id.
absl::StatusOr<std::string> KeyFilter(absl::string_view key) {
  if (key.empty()) return std::string();
  auto name = ParseKeyName(key, "key");
  if (!name.ok()) return name.status();
  if (name->version != 0) {
    return absl::InvalidArgumentError("key names a key, not a version");
  }
  return name->id;
}

// A ListTokenRecords page token: where the last page ended.
std::string PageToken(const keystore::TokenCursor& cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(
      "t1:", absl::ToUnixMicros(cursor.issued_at), ":", cursor.jti));
}

absl::StatusOr<keystore::TokenCursor> ParsePageToken(absl::string_view token) {
  std::string raw;
  std::vector<std::string> parts;
  int64_t micros = 0;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    parts = absl::StrSplit(raw, absl::MaxSplits(':', 2));
  }
  if (parts.size() != 3 || parts[0] != "t1" ||
      !absl::SimpleAtoi(parts[1], &micros) || !ValidJti(parts[2])) {
    return absl::InvalidArgumentError(
        "page_token is not one this server gave; start again without it");
  }
  return keystore::TokenCursor{absl::FromUnixMicros(micros), parts[2]};
}

}  // namespace

grpc::ServerUnaryReactor* JwtServiceImpl::GetTokenRecord(
    grpc::CallbackServerContext* context,
    const pb::GetTokenRecordRequest* request,
    pb::GetTokenRecordResponse* response) {
  absl::StatusOr<std::string> jti = absl::InvalidArgumentError(
      "give the record's name (tokens/{jti}) or an external_id");
  std::string resource;
  if (request->lookup_case() == pb::GetTokenRecordRequest::kName) {
    jti = ParseTokenName(request->name());
    if (jti.ok()) resource = "tokens/" + *jti;
  } else if (request->lookup_case() == pb::GetTokenRecordRequest::kExternalId) {
    resource = "tokens?external_id=" + request->external_id();
  }
  return Unary(
      env_, context, "JwtService/GetTokenRecord", pb::OPERATION_TOKEN_READ,
      resource,
      [&](Rpc& rpc, int32_t* version) -> absl::Status {
        absl::StatusOr<keystore::TokenRecord> record =
            absl::NotFoundError("no token record has that external_id");
        if (request->lookup_case() == pb::GetTokenRecordRequest::kExternalId) {
          // The most recent record with that id among readable keys.
          auto key = KeyFilter(request->key());
          if (!key.ok()) return key.status();
          keystore::TokenFilter filter;
          filter.key_id = *key;
          filter.external_id = request->external_id();
          filter.now = rpc.keystore().Now();
          auto found = NextReadable(rpc, filter, {}, 1);
          if (!found.ok()) return found.status();
          if (!found->records.empty()) record = std::move(found->records[0]);
        } else {
          if (!jti.ok()) return jti.status();
          record = rpc.keystore().GetTokenRecord(*jti);
          if (record.ok() &&
              !rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + record->key_id)
                   .ok()) {
            record = absl::NotFoundError(
                absl::StrCat("no token record named tokens/", *jti));
          }
        }
        if (!record.ok()) return record.status();
        *version = record->version;
        return ToProto(rpc, *record, response->mutable_record());
      },
      Rpc::Access::kInBody);
}

grpc::ServerUnaryReactor* JwtServiceImpl::RevokeToken(
    grpc::CallbackServerContext* context, const pb::RevokeTokenRequest* request,
    pb::RevokeTokenResponse* response) {
  auto jti = ParseTokenName(request->name());
  return Unary(
      env_, context, "JwtService/RevokeToken", pb::OPERATION_TOKEN_REVOKE,
      jti.ok() ? absl::StatusOr<std::string>("tokens/" + *jti) : jti.status(),
      [&](Rpc& rpc, int32_t* version) -> absl::Status {
        if (request->reason().size() > 256) {
          return TooLarge("reason", request->reason().size(), 256);
        }
        auto record = rpc.keystore().GetTokenRecord(*jti);
        if (!record.ok()) return record.status();
        // Holders of TOKEN_READ learn that it exists; others do not.
        absl::Status allowed =
            rpc.Authorize(pb::OPERATION_TOKEN_REVOKE, "keys/" + record->key_id);
        if (!allowed.ok()) {
          if (rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + record->key_id)
                  .ok()) {
            return allowed;
          }
          return absl::NotFoundError(
              absl::StrCat("no token record named tokens/", *jti));
        }
        auto revoked = rpc.keystore().RevokeToken(*jti, request->reason(),
                                                  rpc.caller().principal);
        if (!revoked.ok()) return revoked.status();
        *version = revoked->version;
        return ToProto(rpc, *revoked, response->mutable_record());
      },
      Rpc::Access::kInBody);
}

grpc::ServerUnaryReactor* JwtServiceImpl::ListTokenRecords(
    grpc::CallbackServerContext* context,
    const pb::ListTokenRecordsRequest* request,
    pb::ListTokenRecordsResponse* response) {
  return Unary(
      env_, context, "JwtService/ListTokenRecords", pb::OPERATION_TOKEN_READ,
      request->key().empty() ? std::string("tokens") : request->key(),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        auto key = KeyFilter(request->key());
        if (!key.ok()) return key.status();
        if (!key->empty()) {
          auto exists = rpc.keystore().GetKey(*key);
          if (!exists.ok()) return exists.status();
          absl::Status allowed =
              rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + *key);
          if (!allowed.ok()) return allowed;
        }
        if (request->external_id().size() > 128) {
          return absl::InvalidArgumentError(
              "external_id is at most 128 characters");
        }
        keystore::TokenFilter filter;
        filter.key_id = *key;
        filter.external_id = request->external_id();
        filter.now = rpc.keystore().Now();
        switch (request->state()) {
          case pb::TOKEN_STATE_UNSPECIFIED:
            break;
          case pb::TOKEN_STATE_ACTIVE:
            filter.state = keystore::TokenFilter::State::kActive;
            break;
          case pb::TOKEN_STATE_EXPIRED:
            filter.state = keystore::TokenFilter::State::kExpired;
            break;
          case pb::TOKEN_STATE_REVOKED:
            filter.state = keystore::TokenFilter::State::kRevoked;
            break;
          default:
            return absl::InvalidArgumentError("state is not a TokenState");
        }
        keystore::TokenCursor cursor;
        if (!request->page_token().empty()) {
          auto parsed = ParsePageToken(request->page_token());
          if (!parsed.ok()) return parsed.status();
          cursor = *parsed;
        }
        const int page_size = request->page_size() <= 0
                                  ? 100
                                  : std::min(request->page_size(), 1000);
        auto page = NextReadable(rpc, filter, cursor, page_size);
        if (!page.ok()) return page.status();
        for (const keystore::TokenRecord& r : page->records) {
          absl::Status s = ToProto(rpc, r, response->add_records());
          if (!s.ok()) return s;
        }
        if (page->more) response->set_next_page_token(PageToken(page->last));
        return absl::OkStatus();
      },
      Rpc::Access::kInBody);
}

absl::StatusOr<JwtServiceImpl::ReadablePage> JwtServiceImpl::NextReadable(
    Rpc& rpc, const keystore::TokenFilter& filter, keystore::TokenCursor cursor,
    int limit) const {
  // Records of keys the caller may not read are skipped. A page scans at
  // most 10 times its size, so that a caller who may read few records gets
  // short pages rather than one long scan.
  ReadablePage page;
  absl::flat_hash_map<std::string, bool> readable;
  for (int scanned = 0; scanned < 10 * limit;) {
    const int batch = std::min(limit * 2, 1000);
    auto rows = rpc.keystore().ListTokenRecords(filter, cursor, batch);
    if (!rows.ok()) return rows.status();
    for (keystore::TokenRecord& r : *rows) {
      ++scanned;
      cursor = {r.issued_at, r.jti};
      page.last = cursor;
      auto [it, added] = readable.try_emplace(r.key_id, false);
      if (added) {
        it->second =
            rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + r.key_id).ok();
      }
      if (!it->second) continue;
      page.records.push_back(std::move(r));
      if (static_cast<int>(page.records.size()) == limit) {
        page.more = true;  // perhaps: the next page may be empty
        return page;
      }
    }
    if (static_cast<int>(rows->size()) < batch) return page;  // the end
  }
  page.more = true;
  return page;
}

absl::Status JwtServiceImpl::ToProto(Rpc& rpc, const keystore::TokenRecord& r,
                                     pb::TokenRecord* out) const {
  out->set_name("tokens/" + r.jti);
  out->set_jti(r.jti);
  out->set_key_version(VersionName(r.key_id, r.version));
  out->set_external_id(r.external_id);
  out->mutable_metadata()->insert(r.metadata.begin(), r.metadata.end());
  out->set_subject(r.subject);
  out->set_claims_json(r.claims_json);
  *out->mutable_issue_time() = ToTimestamp(r.issued_at);
  *out->mutable_expire_time() = ToTimestamp(r.expire_at);
  *out->mutable_purge_time() = ToTimestamp(r.purge_at);
  out->set_issued_by(r.issued_by);
  if (r.revoked()) {
    out->set_state(pb::TOKEN_STATE_REVOKED);
    *out->mutable_revoke_time() = ToTimestamp(r.revoked_at);
    out->set_revoke_reason(r.revoke_reason);
    out->set_revoked_by(r.revoked_by);
  } else {
    out->set_state(r.expire_at <= rpc.keystore().Now() ? pb::TOKEN_STATE_EXPIRED
                                              : pb::TOKEN_STATE_ACTIVE);
  }
  if (!r.sealed_token.empty()) {
    auto token = rpc.keystore().OpenToken(r);
    if (!token.ok()) return token.status();
    out->set_token(*token);
  }
  return absl::OkStatus();
}

}  // namespace keyward::daemon
