// keystore_churn: the child process of keystore_crash_test. It opens the
// keystore at argv[1] (creating it if there is none), with the passphrase
// read from the file argv[2] (mode 0600, never argv itself), then loops for
// ever creating keys of mixed types and rotating them. After each CreateKey
// or RotateKey that returns OK it appends "key_id version\n" to the side
// file argv[3] and fsyncs it, so the side file lists only acknowledged
// versions. argv[4] is the run number, which makes key ids unique across runs.
//
// Each change is audited as keywardd audits it: the record goes to the audit
// log AUDIT_LOG inside the change's transaction (daemon/audited_change.h),
// so the parent can check that no change was made without its record.
//
// It writes "ready\n" to stdout once the keystore is open, so the parent
// times its SIGKILL from the start of the churn, not from the start of the
// scrypt. It never exits on its own unless something fails (exit 1, with the
// status on stderr).
//
//   keystore_churn KEYSTORE PASSPHRASE_FILE SIDE_FILE RUN AUDIT_LOG

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "daemon/audit_log.h"
#include "daemon/audited_change.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/keystore.h"

namespace keyward::keystore {
namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "keystore_churn: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  std::exit(1);
}

// ReadPassphrase reads the passphrase file, refusing one that group or
// others may access (as keywardd does). A trailing newline is dropped.
absl::StatusOr<crypto::SecretData> ReadPassphrase(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", path));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " must be mode 0600 (chmod 600 ", path, ")"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  crypto::SecretData passphrase(text);
  std::fill(text.begin(), text.end(), '\0');
  return passphrase;
}

// The key ids already in the side file (from earlier runs), to rotate too.
std::vector<std::string> KnownIds(const std::string& side_file) {
  std::vector<std::string> ids;
  std::ifstream in(side_file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id;
    int version = 0;
    if (fields >> id >> version && version == 1) ids.push_back(id);
  }
  return ids;
}

// AppendCommitted appends "id version\n" and fsyncs it before returning.
void AppendCommitted(int fd, const std::string& id, int32_t version) {
  const std::string line = absl::StrCat(id, " ", version, "\n");
  if (write(fd, line.data(), line.size()) !=
          static_cast<ssize_t>(line.size()) ||
      fsync(fd) != 0) {
    Die("side file", absl::InternalError("write or fsync failed"));
  }
}

struct TypeChoice {
  KeyType type;
  const char* tag;
  int weight;
};

// Mostly cheap types, so that a 5..150 ms window holds many commits; RSA
// sometimes, so that kills also land in a slow key generation.
constexpr TypeChoice kTypes[] = {
    {KeyType::kAes256Gcm, "aes", 6},    {KeyType::kHmacSha256, "hmac", 3},
    {KeyType::kEd25519, "ed", 5},       {KeyType::kEcdsaP256, "p256", 4},
    {KeyType::kEcdsaP384, "p384", 2},   {KeyType::kRsa2048, "rsa", 1},
};

int Main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: keystore_churn KEYSTORE PASSPHRASE_FILE SIDE_FILE RUN "
                 "AUDIT_LOG\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::string side_file = argv[3];
  const std::string run = argv[4];
  auto passphrase = ReadPassphrase(argv[2]);
  if (!passphrase.ok()) Die("passphrase", passphrase.status());

  auto keystore = Keystore::Open(path, *passphrase);
  if (absl::IsNotFound(keystore.status())) {
    keystore = Keystore::Init(path, *passphrase);
  }
  if (!keystore.ok()) Die("open", keystore.status());
  auto audit = daemon::AuditLog::Open(argv[5]);
  if (!audit.ok()) Die("audit log", audit.status());
  auto entry = [&](const char* method, const std::string& id, int n) {
    daemon::AuditEntry e;
    e.principal = "churn";
    e.method = method;
    e.operation = method;
    e.resource = "keys/" + id;
    e.request_id = absl::StrCat(run, "-", n);
    return e;
  };

  std::vector<std::string> ids = KnownIds(side_file);
  const int fd = open(side_file.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (fd < 0) Die("side file", absl::InternalError("cannot open"));

  std::printf("ready\n");
  std::fflush(stdout);

  std::mt19937 rng(std::random_device{}());
  std::vector<int> weights;
  for (const TypeChoice& t : kTypes) weights.push_back(t.weight);
  std::discrete_distribution<int> pick_type(weights.begin(), weights.end());

  for (int n = 0;; ++n) {
    const bool rotate = !ids.empty() && rng() % 100 < 55;
    if (rotate) {
      const std::string& id = ids[rng() % ids.size()];
      int32_t made = 0;
      absl::Status s = daemon::RunAudited(
          **audit, entry("RotateKey", id, n), [&](int32_t* version) {
            auto rotated = (*keystore)->RotateKey(id);
            if (!rotated.ok()) return rotated.status();
            *version = made = rotated->version;
            return absl::OkStatus();
          });
      if (!s.ok()) Die(absl::StrCat("rotate ", id), s);
      AppendCommitted(fd, id, made);
    } else {
      const TypeChoice& t = kTypes[pick_type(rng)];
      CreateKeyParams params;
      params.id = absl::StrCat("r", run, "-", t.tag, "-", n);
      params.type = t.type;
      params.exportable = true;  // lets the parent unwrap every version
      params.labels = {{"run", run}};
      absl::Status s = daemon::RunAudited(
          **audit, entry("CreateKey", params.id, n), [&](int32_t* version) {
            auto key = (*keystore)->CreateKey(params);
            if (!key.ok()) return key.status();
            *version = key->primary_version;
            return absl::OkStatus();
          });
      if (!s.ok()) Die(absl::StrCat("create ", params.id), s);
      AppendCommitted(fd, params.id, 1);
      ids.push_back(params.id);
    }
  }
}

}  // namespace
}  // namespace keyward::keystore

int main(int argc, char** argv) { return keyward::keystore::Main(argc, argv); }
