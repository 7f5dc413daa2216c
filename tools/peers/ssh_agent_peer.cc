#include "tools/peers/ssh_agent_peer.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace keyward::peers {
namespace {

// draft-miller-ssh-agent, section 5.1.
constexpr uint8_t kFailure = 5;
constexpr uint8_t kRequestIdentities = 11;
constexpr uint8_t kIdentitiesAnswer = 12;
constexpr uint8_t kSignRequest = 13;
constexpr uint8_t kSignResponse = 14;
constexpr uint32_t kRsaSha2_256 = 2;

void PutU32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

void PutString(std::string* out, absl::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

// Reads a uint32 from the front of `in`; false if too short.
bool GetU32(absl::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in->data());
  *v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  in->remove_prefix(4);
  return true;
}

bool GetString(absl::string_view* in, absl::string_view* s) {
  uint32_t n;
  if (!GetU32(in, &n) || in->size() < n) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

// One connection to the agent: framed request, framed answer.
class Connection {
 public:
  static absl::StatusOr<Connection> Open(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
      close(fd);
      return absl::InvalidArgumentError("agent socket path too long");
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      const int e = errno;
      close(fd);
      return absl::UnavailableError(absl::StrCat("connect ", path, ": ", strerror(e)));
    }
    return Connection(fd);
  }
  Connection(Connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Connection& operator=(Connection&&) = delete;
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }

  // Sends `body` (type byte and payload) framed; returns the answer's body.
  absl::StatusOr<std::string> Call(absl::string_view body) {
    std::string msg;
    msg.reserve(4 + body.size());
    PutU32(&msg, static_cast<uint32_t>(body.size()));
    msg.append(body.data(), body.size());
    if (!WriteAll(msg)) return absl::UnavailableError("write to the agent failed");
    char len[4];
    if (!ReadAll(len, 4)) return absl::UnavailableError("the agent closed the connection");
    absl::string_view lv(len, 4);
    uint32_t n;
    GetU32(&lv, &n);
    if (n == 0 || n > (1u << 20)) return absl::InternalError("bad agent answer length");
    std::string answer(n, '\0');
    if (!ReadAll(answer.data(), n)) return absl::UnavailableError("short agent answer");
    return answer;
  }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  bool WriteAll(absl::string_view data) {
    while (!data.empty()) {
      ssize_t w = write(fd_, data.data(), data.size());
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      data.remove_prefix(static_cast<size_t>(w));
    }
    return true;
  }
  bool ReadAll(char* out, size_t n) {
    while (n > 0) {
      ssize_t r = read(fd_, out, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      out += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_;
};

class AgentSession : public SignSession {
 public:
  AgentSession(Connection c, std::string blob, uint32_t flags)
      : conn_(std::move(c)), blob_(std::move(blob)), flags_(flags) {}

  absl::Status Sign(absl::string_view data) override {
    std::string req(1, static_cast<char>(kSignRequest));
    PutString(&req, blob_);
    PutString(&req, data);
    PutU32(&req, flags_);
    absl::StatusOr<std::string> answer = conn_.Call(req);
    if (!answer.ok()) return answer.status();
    if (static_cast<uint8_t>((*answer)[0]) == kFailure) {
      return absl::PermissionDeniedError("the agent refused to sign (SSH_AGENT_FAILURE)");
    }
    absl::string_view rest(*answer);
    rest.remove_prefix(1);
    absl::string_view sig;
    if (static_cast<uint8_t>((*answer)[0]) != kSignResponse || !GetString(&rest, &sig) ||
        sig.empty()) {
      return absl::InternalError("malformed SSH2_AGENT_SIGN_RESPONSE");
    }
    return absl::OkStatus();
  }

 private:
  Connection conn_;
  std::string blob_;
  uint32_t flags_;
};

class AgentPeer : public Peer {
 public:
  AgentPeer(std::string path, std::string blob, std::string name, uint32_t flags)
      : path_(std::move(path)), blob_(std::move(blob)), name_(std::move(name)),
        flags_(flags) {}

  absl::StatusOr<std::unique_ptr<SignSession>> NewSession() override {
    absl::StatusOr<Connection> c = Connection::Open(path_);
    if (!c.ok()) return c.status();
    return std::unique_ptr<SignSession>(new AgentSession(std::move(*c), blob_, flags_));
  }
  std::string Mechanism() const override { return name_; }

 private:
  std::string path_;
  std::string blob_;
  std::string name_;
  uint32_t flags_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Peer>> OpenSshAgentPeer(const std::string& socket_path,
                                                       KeyType type) {
  const char* want = type == KeyType::kEd25519     ? "ssh-ed25519"
                     : type == KeyType::kEcdsaP256 ? "ecdsa-sha2-nistp256"
                                                   : "ssh-rsa";
  absl::StatusOr<Connection> c = Connection::Open(socket_path);
  if (!c.ok()) return c.status();
  absl::StatusOr<std::string> answer =
      c->Call(std::string(1, static_cast<char>(kRequestIdentities)));
  if (!answer.ok()) return answer.status();
  absl::string_view rest(*answer);
  uint32_t n = 0;
  if (static_cast<uint8_t>(rest[0]) != kIdentitiesAnswer ||
      (rest.remove_prefix(1), !GetU32(&rest, &n))) {
    return absl::InternalError("malformed SSH2_AGENT_IDENTITIES_ANSWER");
  }
  for (uint32_t i = 0; i < n; ++i) {
    absl::string_view blob, comment, blob_rest, key_type;
    if (!GetString(&rest, &blob) || !GetString(&rest, &comment)) break;
    blob_rest = blob;
    if (GetString(&blob_rest, &key_type) && key_type == want) {
      const bool rsa = type == KeyType::kRsa2048;
      return std::unique_ptr<Peer>(new AgentPeer(
          socket_path, std::string(blob), rsa ? "rsa-sha2-256" : want,
          rsa ? kRsaSha2_256 : 0));
    }
  }
  return absl::NotFoundError(absl::StrCat("the agent at ", socket_path, " holds no ",
                                          want, " key (add one with ssh-add)"));
}

}  // namespace keyward::peers
