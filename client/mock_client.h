// keyward::MockClient: a gMock fake of ClientInterface for unit tests of
// code that makes calls (the CLI's command handlers). Test-only.
//
//   testing::StrictMock<keyward::MockClient> client;
//   EXPECT_CALL(client, GetKey(testing::_)).WillOnce(testing::Return(response));
#ifndef KEYWARD_CLIENT_MOCK_CLIENT_H_
#define KEYWARD_CLIENT_MOCK_CLIENT_H_

#include <functional>
#include <string>

#include "client/client_interface.h"
#include "gmock/gmock.h"

namespace keyward {

class MockClient : public ClientInterface {
 public:
  MOCK_METHOD(absl::StatusOr<grpc::health::v1::HealthCheckResponse>, CheckHealth,
              (const std::string& service), (override));
  MOCK_METHOD(absl::StatusOr<v1::GetStatusResponse>, GetStatus, (), (override));
  MOCK_METHOD(absl::StatusOr<v1::SealResponse>, Seal, (), (override));
  MOCK_METHOD(absl::StatusOr<v1::RotateAuditLogResponse>, RotateAuditLog, (),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::WhoAmIResponse>, WhoAmI, (), (override));
  MOCK_METHOD(absl::StatusOr<v1::BackupInfo>, CreateBackup,
              (const std::function<absl::Status(absl::string_view chunk)>& sink),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::RestoreBackupResponse>, RestoreBackup,
              (const std::string& passphrase, bool replace_existing,
               const std::function<absl::StatusOr<std::string>()>& next_chunk),
              (override));
  MOCK_METHOD(absl::Status, ReadAuditLog,
              (const v1::ReadAuditLogRequest& request,
               const std::function<bool(const v1::ReadAuditLogResponse&)>& on_records),
              (override));
#define KEYWARD_MOCK_CLIENT_UNARY_(Method)                              \
  MOCK_METHOD(absl::StatusOr<v1::Method##Response>, Method,             \
              (const v1::Method##Request& request), (override));
  KEYWARD_CLIENT_UNARY_RPCS(KEYWARD_MOCK_CLIENT_UNARY_)
#undef KEYWARD_MOCK_CLIENT_UNARY_
};

}  // namespace keyward

#endif  // KEYWARD_CLIENT_MOCK_CLIENT_H_
