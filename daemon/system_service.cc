#include "daemon/system_service.h"

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/backup.h"
#include "keystore/crypto/random.h"
#include "daemon/log.h"
#include "daemon/response_stream.h"
#include "daemon/version.h"
#include "daemon/wipe.h"
#include "google/protobuf/util/time_util.h"

namespace keyward::daemon {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;

grpc::ServerUnaryReactor* SystemServiceImpl::GetStatus(
    grpc::CallbackServerContext* context, const pb::GetStatusRequest* request,
    pb::GetStatusResponse* response) {
  return Unary(
      env_, context, "SystemService/GetStatus", pb::OPERATION_READ,
      std::string(""),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        response->set_version(kVersion);
        response->set_build_flavor(BuildFlavor() == "boringssl"
                                       ? pb::BUILD_FLAVOR_BORINGSSL
                                       : pb::BUILD_FLAVOR_OPENSSL);
        response->set_crypto_library(BuildFlavor() == "boringssl"
                                         ? "BoringSSL"
                                         : "OpenSSL 3");
        response->set_sealed(rpc.keystore().sealed());
        response->set_initialized(true);
        auto count = rpc.keystore().CountKeys();
        if (count.ok()) response->set_key_count(*count);
        *response->mutable_uptime() = TimeUtil::MicrosecondsToDuration(
            absl::ToInt64Microseconds(absl::Now() - start_));
        *response->mutable_start_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(start_));
        response->set_audit_last_sequence(rpc.env().audit->last_sequence());
        // Retry the log first, so that a freed disk shows without waiting
        // for another call.
        rpc.env().audit->Probe();
        const AuditHealth health = rpc.env().audit->health();
        pb::AuditLogState* audit = response->mutable_audit();
        audit->set_writable(health.writable);
        if (health.failing_since != absl::InfinitePast()) {
          *audit->mutable_failing_since() = TimeUtil::MicrosecondsToTimestamp(
              absl::ToUnixMicros(health.failing_since));
        }
        audit->set_error(health.error);
        audit->set_refused_calls(health.refused);
        audit->set_outages(health.outages);
        FillReplicaStatus(rpc.env(), response->mutable_replica());
        return absl::OkStatus();
      },
      Rpc::Access::kAnonymousTooEvenUnaudited);
}

// The failure-throttling key of the keystore passphrase (Unseal,
// ChangePassphrase).
constexpr char kPassphraseCredential[] = "keystore-passphrase";

grpc::ServerUnaryReactor* SystemServiceImpl::ChangePassphrase(
    grpc::CallbackServerContext* context,
    const pb::ChangePassphraseRequest* request,
    pb::ChangePassphraseResponse* response) {
  return Unary(env_, context, "SystemService/ChangePassphrase",
               pb::OPERATION_ADMIN, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    if (request->new_passphrase().size() < 12 ||
        request->new_passphrase().size() > 1024) {
      return absl::InvalidArgumentError(
          "new_passphrase must be 12 to 1024 bytes");
    }
    if (request->new_passphrase() == request->old_passphrase()) {
      return absl::InvalidArgumentError(
          "new_passphrase is the old one: choose a different passphrase");
    }
    const std::vector<std::string> who =
        FailureKeys(*context, *rpc.env().peers,
                    rpc.caller().transport_principal, kPassphraseCredential);
    absl::Status limited = rpc.env().failures->Check(who);
    if (!limited.ok()) return limited;
    crypto::SecretData old_passphrase(request->old_passphrase());
    crypto::SecretData new_passphrase(request->new_passphrase());
    WipeRequestField(request->old_passphrase());
    WipeRequestField(request->new_passphrase());
    // Two scrypt runs at the keystore's cost, each one uninterruptible call.
    auto slot = costly_.Begin(*context);
    if (!slot.ok()) return slot.status();
    absl::Status changed =
        rpc.keystore().ChangePassphrase(old_passphrase, new_passphrase);
    if (absl::IsUnauthenticated(changed)) rpc.env().failures->RecordFailure(who);
    return changed;
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::VerifyAuditLog(
    grpc::CallbackServerContext* context,
    const pb::VerifyAuditLogRequest* request,
    pb::VerifyAuditLogResponse* response) {
  return Unary(env_, context, "SystemService/VerifyAuditLog",
               pb::OPERATION_AUDIT_READ, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    const uint64_t start = request->start_sequence();
    const uint64_t end = request->end_sequence();
    if (end != 0 && end < std::max<uint64_t>(start, 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "end_sequence ", end, " is below start_sequence ",
          std::max<uint64_t>(start, 1)));
    }
    // Up to the last accepted record: one being written is not torn.
    const uint64_t accepted = rpc.env().audit->accepted_size();
    const uint64_t last = rpc.env().audit->last_sequence();
    if (start > last) {
      return absl::OutOfRangeError(absl::StrCat(
          "start_sequence ", start, " is after the last record written (",
          last, ")"));
    }
    auto verdict =
        AuditLog::Verify(rpc.env().audit->path(), accepted, start, end);
    if (!verdict.ok()) return verdict.status();
    response->set_ok(verdict->first_bad == 0);
    response->set_records_checked(verdict->records_checked);
    response->set_last_sequence(
        verdict->records_checked == 0
            ? 0
            : verdict->first_sequence + verdict->records_checked - 1);
    response->set_first_bad_sequence(verdict->first_bad);
    response->set_problem(verdict->problem);
    response->set_torn_offset(verdict->torn_offset);
    response->set_torn_bytes(verdict->torn_bytes);
    response->set_files_checked(verdict->files_checked);
    response->set_bad_file(verdict->file);
    response->set_bad_offset(verdict->offset);
    response->set_first_sequence(verdict->first_sequence);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::RotateAuditLog(
    grpc::CallbackServerContext* context,
    const pb::RotateAuditLogRequest* request,
    pb::RotateAuditLogResponse* response) {
  return Unary(env_, context, "SystemService/RotateAuditLog",
               pb::OPERATION_ADMIN, std::string("*"),
               [&](Rpc& rpc, int32_t*) -> absl::Status {
    // The rotation writes its own header record; this call's record
    // follows it, in the new file.
    auto rotated = rpc.env().audit->Rotate();
    if (!rotated.ok()) return rotated.status();
    response->set_rotated_file(rotated->rotated_file);
    response->set_last_sequence(rotated->last_sequence);
    response->set_first_sequence(rotated->first_sequence);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SystemServiceImpl::Seal(
    grpc::CallbackServerContext* context, const pb::SealRequest* request,
    pb::SealResponse* response) {
  // Sealing an already sealed daemon is fine, so this skips the usual
  // "refuse while sealed" step but still needs global ADMIN.
  return Unary(
      env_, context, "SystemService/Seal", pb::OPERATION_ADMIN,
      std::string("*"),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        absl::Status allowed = rpc.Authorize(pb::OPERATION_ADMIN, "*");
        if (!allowed.ok()) return allowed;
        rpc.keystore().Seal();
        rpc.env().sessions->Clear();
        if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
          (*rpc.env().on_seal_change)(false);
        }
        LogInfo("sealed", {{"by", rpc.caller().principal}});
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

grpc::ServerUnaryReactor* SystemServiceImpl::Unseal(
    grpc::CallbackServerContext* context, const pb::UnsealRequest* request,
    pb::UnsealResponse* response) {
  return Unary(
      env_, context, "SystemService/Unseal", pb::OPERATION_ADMIN,
      std::string("*"),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        // Failures count under the peer, the caller and the passphrase
        // itself (one secret, guessed from anywhere).
        const std::vector<std::string> who =
            FailureKeys(*context, *rpc.env().peers,
                        rpc.caller().transport_principal, kPassphraseCredential);
        absl::Status limited = rpc.env().failures->Check(who);
        if (!limited.ok()) return limited;
        if (request->initialize()) {
          return absl::FailedPreconditionError(
              "this daemon already has a keystore; `keywardd init` creates "
              "new ones");
        }
        if (request->passphrase().empty() ||
            request->passphrase().size() > 1024) {
          return absl::InvalidArgumentError("passphrase must be 1 to 1024 bytes");
        }
        crypto::SecretData passphrase(request->passphrase());
        WipeRequestField(request->passphrase());
        // scrypt at the keystore's cost (bounded by ValidateKdfParams) is one
        // uninterruptible call: start it only for a caller still waiting.
        auto slot = costly_.Begin(*context);
        if (!slot.ok()) return slot.status();
        const bool was_sealed = rpc.keystore().sealed();
        absl::Status s = rpc.keystore().Unseal(passphrase);
        if (absl::IsUnauthenticated(s)) rpc.env().failures->RecordFailure(who);
        if (!s.ok()) return s;
        if (was_sealed) {
          // Unsealed only if the call's record is written.
          rpc.OnRefused([&rpc] {
            rpc.keystore().Seal();
            rpc.env().sessions->Clear();
            if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
              (*rpc.env().on_seal_change)(false);
            }
            LogWarning("unseal_undone",
                       {{"by", rpc.caller().principal},
                        {"reason", "its audit record could not be written"}});
          });
          auto policies = rpc.keystore().ListPolicies();
          if (policies.ok()) rpc.env().authorizer->Reload(std::move(*policies));
          if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
            (*rpc.env().on_seal_change)(true);
          }
          LogInfo("unsealed", {{"by", rpc.caller().principal}});
        }
        response->set_already_unsealed(!was_sealed);
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

namespace {

// RestoreReactor stages a RestoreBackup stream in memory, then has the
// keystore check it and swap it in (Keystore::Restore), all or nothing.
class RestoreReactor final
    : public grpc::ServerReadReactor<pb::RestoreBackupRequest> {
 public:
  static constexpr size_t kMaxChunk = 1 << 20;
  static constexpr uint64_t kMaxTotal = uint64_t{4} << 30;

  RestoreReactor(const ServiceEnv& env, grpc::CallbackServerContext* context,
                 std::string scratch_dir, pb::RestoreBackupResponse* response,
                 CostlyWork* costly)
      : env_(env),
        costly_(*costly),
        context_(context),
        scratch_dir_(std::move(scratch_dir)),
        response_(response) {
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      refused_ = Take();
      if (refused_.ok()) {
        StartRead(&message_);
        return;
      }
    }
    // The stream ended (or was refused): answer once, audited.
    Rpc rpc(env_, context_, "SystemService/RestoreBackup");
    rpc.Identify().IgnoreError();
    absl::Status status = rpc.Run(
        pb::OPERATION_ADMIN, std::string("*"),
        [&](int32_t*) { return Restore(rpc); }, Rpc::Access::kAnyCaller);
    backup_.clear();
    backup_.shrink_to_fit();
    Finish(ToGrpc(status));
  }
  void OnDone() override { delete this; }

 private:
  // Take adds one message to the staged backup.
  absl::Status Take() {
    if (first_) {
      if (message_.passphrase().empty() || message_.passphrase().size() > 1024) {
        return absl::InvalidArgumentError(
            "the first message must carry the backup's passphrase (1 to 1024 "
            "bytes)");
      }
      passphrase_ = crypto::SecretData(message_.passphrase());
      replace_existing_ = message_.replace_existing();
      first_ = false;
    } else if (!message_.passphrase().empty()) {
      return absl::InvalidArgumentError(
          "the passphrase goes in the first message only");
    }
    if (message_.data().size() > kMaxChunk) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a message carries at most ", kMaxChunk, " bytes of data"));
    }
    if (backup_.size() + message_.data().size() > kMaxTotal) {
      return absl::ResourceExhaustedError("a backup is at most 4 GiB");
    }
    backup_.append(message_.data());
    std::string* passphrase = message_.mutable_passphrase();
    explicit_bzero(passphrase->data(), passphrase->size());
    message_.Clear();
    return absl::OkStatus();
  }

  absl::Status Restore(Rpc& rpc) {
    absl::Status allowed = rpc.Authorize(pb::OPERATION_ADMIN, "*");
    if (!allowed.ok()) return allowed;
    if (!refused_.ok()) return refused_;
    if (first_) {
      return absl::InvalidArgumentError(
          "the stream was empty: send the passphrase and the backup's bytes");
    }
    if (!replace_existing_) {
      return absl::FailedPreconditionError(
          "this daemon has a keystore: set replace_existing to replace it "
          "with the backup (`keyward restore --replace`)");
    }
    // scrypt with the backup's parameters and a full keystore check: start
    // them only for a caller still waiting, in a costly slot.
    auto slot = costly_.Begin(*context_);
    if (!slot.ok()) return slot.status();
    const std::string scratch = absl::StrCat(
        scratch_dir_, "/restore-",
        absl::BytesToHexString(crypto::RandomBytes(8)), ".db");
    absl::Status restored =
        rpc.keystore().Restore(backup_, passphrase_, scratch);
    if (absl::IsUnauthenticated(restored)) {
      // The caller is who they say; the backup's passphrase is wrong.
      return absl::InvalidArgumentError(restored.message());
    }
    if (!restored.ok()) return restored;
    // The keystore is sealed now: sessions end (and revocations are the
    // backup's), policies are the backup's.
    rpc.env().sessions->Restored();
    auto policies = rpc.keystore().ListPolicies();
    if (policies.ok()) rpc.env().authorizer->Reload(std::move(*policies));
    if (rpc.env().on_seal_change && *rpc.env().on_seal_change) {
      (*rpc.env().on_seal_change)(false);
    }
    pb::BackupInfo& info = *response_->mutable_info();
    auto header = keystore::ParseBackupHeader(backup_);
    info.set_format_version(header.ok() ? header->format : 0);
    auto count = rpc.keystore().CountKeys();
    if (count.ok()) info.set_key_count(*count);
    LogInfo("restored a backup; sealed until unsealed with its passphrase",
            {{"by", rpc.caller().principal}});
    return absl::OkStatus();
  }

  const ServiceEnv& env_;
  CostlyWork& costly_;
  grpc::CallbackServerContext* const context_;
  const std::string scratch_dir_;
  pb::RestoreBackupResponse* const response_;
  pb::RestoreBackupRequest message_;
  bool first_ = true;
  bool replace_existing_ = false;
  crypto::SecretData passphrase_;
  std::string backup_;
  absl::Status refused_;
};

}  // namespace

grpc::ServerWriteReactor<pb::CreateBackupResponse>*
SystemServiceImpl::CreateBackup(grpc::CallbackServerContext* context,
                                const pb::CreateBackupRequest* request) {
  Rpc rpc(env_, context, "SystemService/CreateBackup");
  rpc.Identify().IgnoreError();
  std::vector<pb::CreateBackupResponse> chunks;
  absl::Status status = rpc.Run(
      pb::OPERATION_ADMIN, std::string("*"), [&](int32_t*) -> absl::Status {
        const std::string id = absl::BytesToHexString(crypto::RandomBytes(8));
        auto backup = rpc.keystore().CreateBackup(
            absl::StrCat(scratch_dir_, "/backup-", id, ".tmp"));
        if (!backup.ok()) return backup.status();
        constexpr size_t kChunk = 1 << 20;
        for (size_t at = 0; at < backup->size(); at += kChunk) {
          chunks.emplace_back().set_data(backup->substr(at, kChunk));
        }
        pb::BackupInfo& info = *chunks.front().mutable_info();
        info.set_format_version(keystore::kBackupFormat);
        info.set_backup_id(id);
        *info.mutable_create_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
        info.set_daemon_version(kVersion);
        auto count = rpc.keystore().CountKeys();
        if (count.ok()) info.set_key_count(*count);
        return absl::OkStatus();
      });
  return new ResponseStream<pb::CreateBackupResponse>(status, std::move(chunks));
}

grpc::ServerReadReactor<pb::RestoreBackupRequest>*
SystemServiceImpl::RestoreBackup(grpc::CallbackServerContext* context,
                                 pb::RestoreBackupResponse* response) {
  return new RestoreReactor(env_, context, scratch_dir_, response, &costly_);
}

}  // namespace keyward::daemon
