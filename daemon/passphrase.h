// Reading the operator passphrase from its file. The passphrase never comes
// from argv or the environment.
#ifndef KEYWARD_DAEMON_PASSPHRASE_H_
#define KEYWARD_DAEMON_PASSPHRASE_H_

#include <string>

#include "absl/status/statusor.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::daemon {

// ReadPassphraseFile returns the bytes of the file at `path`, less one
// trailing newline. FAILED_PRECONDITION if the file is accessible to group or
// others or owned by another user (the message names the chmod/chown fix);
// INVALID_ARGUMENT if it is empty or larger than 1 KiB; NOT_FOUND if missing.
absl::StatusOr<crypto::SecretData> ReadPassphraseFile(const std::string& path);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_PASSPHRASE_H_
