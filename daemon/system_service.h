// SystemService (proto/keyward/v1/system_service.proto): status, seal and
// unseal, passphrase change, backups, audit verification and rotation. Restoring is
// offline (`keywardd restore`, daemon stopped); ReadAuditLog sends the
// records present when it is called (no `follow` yet).
#ifndef KEYWARD_DAEMON_SYSTEM_SERVICE_H_
#define KEYWARD_DAEMON_SYSTEM_SERVICE_H_

#include "absl/time/time.h"
#include <atomic>

#include "daemon/costly_work.h"
#include "daemon/rpc.h"
#include "daemon/wipe.h"
#include "keyward/v1/system_service.grpc.pb.h"

namespace keyward::daemon {

class SystemServiceImpl final
    : public keyward::v1::SystemService::CallbackService {
 public:
  // Backups are staged in `scratch_dir` (the data dir). `costly` gates the
  // scrypt of Unseal, ChangePassphrase and RestoreBackup; it must outlive
  // the service.
  SystemServiceImpl(const ServiceEnv* env, std::string scratch_dir,
                    CostlyWork* costly)
      : env_(*env),
        scratch_dir_(std::move(scratch_dir)),
        costly_(*costly),
        start_(absl::Now()) {
    // Passphrases are wiped when each call is done (WipingAllocator).
    SetMessageAllocatorFor_Unseal(&unseal_messages_);
    SetMessageAllocatorFor_ChangePassphrase(&change_passphrase_messages_);
  }

#define KEYWARD_RPC(Name)                                                  \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context,     \
                                 const keyward::v1::Name##Request* request, \
                                 keyward::v1::Name##Response* response) override;
  KEYWARD_RPC(GetStatus)
  KEYWARD_RPC(Seal)
  KEYWARD_RPC(Unseal)
  KEYWARD_RPC(ChangePassphrase)
  KEYWARD_RPC(VerifyAuditLog)
  KEYWARD_RPC(RotateAuditLog)
#undef KEYWARD_RPC

  grpc::ServerWriteReactor<keyward::v1::CreateBackupResponse>* CreateBackup(
      grpc::CallbackServerContext* context,
      const keyward::v1::CreateBackupRequest* request) override;
  grpc::ServerWriteReactor<keyward::v1::ReadAuditLogResponse>* ReadAuditLog(
      grpc::CallbackServerContext* context,
      const keyward::v1::ReadAuditLogRequest* request) override;
  grpc::ServerReadReactor<keyward::v1::RestoreBackupRequest>* RestoreBackup(
      grpc::CallbackServerContext* context,
      keyward::v1::RestoreBackupResponse* response) override;

 private:
  const ServiceEnv& env_;
  const std::string scratch_dir_;
  CostlyWork& costly_;
  WipingAllocator<keyward::v1::UnsealRequest, keyward::v1::UnsealResponse>
      unseal_messages_{[](keyward::v1::UnsealRequest* request,
                          keyward::v1::UnsealResponse*) {
        crypto::WipeString(request->mutable_passphrase());
      }};
  WipingAllocator<keyward::v1::ChangePassphraseRequest,
                  keyward::v1::ChangePassphraseResponse>
      change_passphrase_messages_{[](keyward::v1::ChangePassphraseRequest* request,
                                     keyward::v1::ChangePassphraseResponse*) {
        crypto::WipeString(request->mutable_old_passphrase());
        crypto::WipeString(request->mutable_new_passphrase());
      }};
  // Callers following the audit log (ReadAuditLog follow), each with a
  // thread: at most kMaxFollowers.
  static constexpr int kMaxFollowers = 16;
  std::atomic<int> followers_{0};
  const absl::Time start_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_SYSTEM_SERVICE_H_
