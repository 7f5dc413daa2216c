// Load: client threads driving random operations (Sign, Encrypt, CreateKey,
// RotateKey, SignJwt, RevokeToken) at random replicas of a ReplicasTest, for
// the fault tests (replicas_faults_test.cc). Each thread works on keys of its
// own (created by it) besides the shared ones, so a refusal is never a lost
// race with another thread. Every call has a deadline; every acknowledged
// change is recorded so that the test can look for it afterwards, and every
// failed call with its replica, code and how long it took.
#ifndef KEYWARD_TESTS_REPLICAS_LOAD_H_
#define KEYWARD_TESTS_REPLICAS_LOAD_H_

#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/replicas_fixture.h"

namespace keyward::testing {

// The keys every thread uses: "shared-aes" (Encrypt), "shared-sig" (Sign),
// "shared-jwt" (SignJwt). MakeSharedKeys creates them on replica 0.
inline void MakeSharedKeys(
    const std::function<grpc::Status(const std::string&, pb::KeyType,
                                     pb::KeyPurpose)>& create) {
  ASSERT_TRUE(create("shared-aes", pb::KEY_TYPE_AES256_GCM,
                     pb::KEY_PURPOSE_UNSPECIFIED).ok());
  ASSERT_TRUE(create("shared-sig", pb::KEY_TYPE_ED25519,
                     pb::KEY_PURPOSE_SIGN_VERIFY).ok());
  ASSERT_TRUE(create("shared-jwt", pb::KEY_TYPE_ED25519, pb::KEY_PURPOSE_JWT)
                  .ok());
}

class Load {
 public:
  struct Failure {
    int replica;
    std::string op;
    grpc::Status status;
    absl::Time at;
    absl::Duration took;
  };
  // What was acknowledged (status OK to the client).
  struct Acked {
    std::set<std::string> created;                 // key ids
    std::set<std::pair<std::string, int>> versions;  // (key id, version)
    std::map<std::string, std::string> tokens;       // jti -> token
    std::set<std::string> revoked;                   // jti
  };

  // `replicas` (kReplicas of them) outlive the Load; `call_deadline` bounds
  // every call.
  Load(Replica* replicas, absl::Duration call_deadline)
      : replicas_(replicas), deadline_(call_deadline) {}
  ~Load() { Stop(); }

  // Start runs `threads` threads until Stop; each call goes to a random
  // replica for which `target(i)` is true.
  void Start(int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t] { Run(t); });
    }
  }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  // Replicas the threads may call from now on (all at first).
  void SetTargets(std::vector<int> targets) {
    absl::MutexLock lock(&mu_);
    targets_ = std::move(targets);
  }

  Acked acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  std::vector<Failure> failures() const {
    absl::MutexLock lock(&mu_);
    return failures_;
  }
  // Successful calls per replica.
  std::vector<int> successes() const {
    absl::MutexLock lock(&mu_);
    return successes_;
  }
  // Successful calls to replica i that ended after `t`.
  bool SucceededAfter(int i, absl::Time t) const {
    absl::MutexLock lock(&mu_);
    return last_success_[i] > t;
  }

 private:
  void Run(int t) {
    std::mt19937 rng(1000 + t);
    std::vector<std::string> own;  // this thread's keys, acknowledged
    std::vector<std::string> jtis;  // this thread's tokens, acknowledged
    int made = 0;
    while (!stop_) {
      int r;
      {
        absl::MutexLock lock(&mu_);
        r = targets_[rng() % targets_.size()];
      }
      const int op = rng() % 6;
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
      const absl::Time began = absl::Now();
      grpc::Status s;
      std::string name;
      std::function<void()> on_ok;
      pb::RotateKeyResponse rotated;
      pb::SignJwtResponse signed_jwt;
      Replica& rep = replicas_[r];
      if (op == 0) {
        name = "Sign";
        pb::SignRequest req;
        req.set_name("keys/shared-sig");
        req.set_data("x");
        pb::SignResponse resp;
        s = rep.crypto->Sign(&ctx, req, &resp);
      } else if (op == 1) {
        name = "Encrypt";
        pb::EncryptRequest req;
        req.set_name("keys/shared-aes");
        req.set_plaintext("x");
        pb::EncryptResponse resp;
        s = rep.crypto->Encrypt(&ctx, req, &resp);
      } else if (op == 2 || (op == 3 && own.empty())) {
        name = "CreateKey";
        const std::string id = absl::StrCat("t", t, "-k", made++);
        pb::CreateKeyRequest req;
        req.set_key_id(id);
        req.mutable_key()->set_key_type(pb::KEY_TYPE_AES256_GCM);
        pb::CreateKeyResponse resp;
        s = rep.keys->CreateKey(&ctx, req, &resp);
        on_ok = [&, id] {
          own.push_back(id);
          acked_.created.insert(id);
        };
      } else if (op == 3) {
        name = "RotateKey";
        const std::string id = own[rng() % own.size()];
        pb::RotateKeyRequest req;
        req.set_name("keys/" + id);
        s = rep.keys->RotateKey(&ctx, req, &rotated);
        on_ok = [&, id] {
          acked_.versions.insert({id, VersionOf(rotated.version().name())});
        };
      } else if (op == 4 || jtis.empty()) {
        name = "SignJwt";
        pb::SignJwtRequest req;
        req.set_name("keys/shared-jwt");
        req.set_claims_json(R"({"sub":"load"})");
        req.mutable_ttl()->set_seconds(600);
        req.mutable_record();
        s = rep.jwt->SignJwt(&ctx, req, &signed_jwt);
        on_ok = [&] {
          jtis.push_back(signed_jwt.jti());
          acked_.tokens[signed_jwt.jti()] = signed_jwt.token();
        };
      } else {
        name = "RevokeToken";
        const std::string jti = jtis[rng() % jtis.size()];
        pb::RevokeTokenRequest req;
        req.set_name("tokens/" + jti);
        pb::RevokeTokenResponse resp;
        s = rep.jwt->RevokeToken(&ctx, req, &resp);
        on_ok = [&, jti] { acked_.revoked.insert(jti); };
      }
      const absl::Time ended = absl::Now();
      absl::MutexLock lock(&mu_);
      if (s.ok()) {
        if (on_ok) on_ok();
        ++successes_[r];
        last_success_[r] = ended;
      } else {
        failures_.push_back({r, name, s, began, ended - began});
      }
    }
  }

  Replica* const replicas_;
  const absl::Duration deadline_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable absl::Mutex mu_;
  std::vector<int> targets_ ABSL_GUARDED_BY(mu_) = {0, 1, 2};
  Acked acked_ ABSL_GUARDED_BY(mu_);
  std::vector<Failure> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<int> successes_ ABSL_GUARDED_BY(mu_) =
      std::vector<int>(kReplicas, 0);
  absl::Time last_success_[kReplicas] ABSL_GUARDED_BY(mu_) = {
      absl::InfinitePast(), absl::InfinitePast(), absl::InfinitePast()};
};

}  // namespace keyward::testing

#endif  // KEYWARD_TESTS_REPLICAS_LOAD_H_
