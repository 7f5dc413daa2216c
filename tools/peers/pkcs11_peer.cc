#include "tools/peers/pkcs11_peer.h"

#include <dlfcn.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
// Last: p11-kit's header defines (and undefines at its end) short macros.
#include "p11-kit/pkcs11.h"

// OpenSSL 3's one-shot SHA-256, declared here rather than through
// keystore/crypto: the modules this loads link the system's OpenSSL 3, and
// in the BoringSSL flavor keystore/crypto would bring BoringSSL's libcrypto,
// whose like-named symbols the modules would then call (a crash). So this
// binary links the system's -lcrypto in both flavors, and nothing else of it.
extern "C" unsigned char* SHA256(const unsigned char* data, size_t len,
                                 unsigned char* md);

namespace keyward::peers {
namespace {

std::string Sha256(absl::string_view data) {
  std::string md(32, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(md.data()));
  return md;
}

absl::Status CkError(const char* call, CK_RV rv) {
  return absl::InternalError(absl::StrFormat("%s: CKR 0x%lx", call, rv));
}

// DER OIDs as CKA_EC_PARAMS.
constexpr unsigned char kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                      0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr unsigned char kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
constexpr unsigned char kRsaExponent[] = {0x01, 0x00, 0x01};

struct Mechanisms {
  CK_MECHANISM_TYPE generate;
  CK_MECHANISM_TYPE sign;
  CK_KEY_TYPE key_type;
  const char* name;
  bool prehash;  // the caller hashes with SHA-256 (CKM_ECDSA)
};

// The signing mechanisms for `type`, the closest to Keyward's default first.
std::vector<Mechanisms> MechanismsFor(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return {{CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, CKK_EC_EDWARDS, "CKM_EDDSA", false}};
    case KeyType::kEcdsaP256:
      return {{CKM_EC_KEY_PAIR_GEN, CKM_ECDSA_SHA256, CKK_EC, "CKM_ECDSA_SHA256", false},
              {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKK_EC,
               "CKM_ECDSA over SHA-256 (hashed in the caller)", true}};
    case KeyType::kRsa2048:
      break;
  }
  return {{CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS_PSS, CKK_RSA,
           "CKM_SHA256_RSA_PKCS_PSS (MGF1-SHA256, salt 32)", false},
          {CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS_PSS, CKK_RSA,
           "CKM_RSA_PKCS_PSS over SHA-256 (hashed in the caller)", true},
          {CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS, CKK_RSA,
           "CKM_SHA256_RSA_PKCS (PKCS#1 v1.5)", false}};
}

class Pkcs11Session : public SignSession {
 public:
  Pkcs11Session(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session,
                CK_OBJECT_HANDLE key, const Mechanisms& m)
      : f_(f), session_(session), key_(key), m_(m) {}
  ~Pkcs11Session() override { f_->C_CloseSession(session_); }

  absl::Status Sign(absl::string_view data) override {
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {m_.sign, nullptr, 0};
    if (m_.sign == CKM_SHA256_RSA_PKCS_PSS || m_.sign == CKM_RSA_PKCS_PSS) {
      mech.pParameter = &pss;
      mech.ulParameterLen = sizeof(pss);
    }
    std::string digest;
    if (m_.prehash) {
      digest = Sha256(data);
      data = digest;
    }
    CK_RV rv = f_->C_SignInit(session_, &mech, key_);
    if (rv != CKR_OK) return CkError("C_SignInit", rv);
    unsigned char sig[512];
    CK_ULONG sig_len = sizeof(sig);
    rv = f_->C_Sign(session_,
                    reinterpret_cast<CK_BYTE*>(const_cast<char*>(data.data())),
                    data.size(), sig, &sig_len);
    if (rv != CKR_OK) return CkError("C_Sign", rv);
    if (sig_len == 0) return absl::InternalError("C_Sign: empty signature");
    return absl::OkStatus();
  }

 private:
  CK_FUNCTION_LIST* f_;
  CK_SESSION_HANDLE session_;
  CK_OBJECT_HANDLE key_;
  Mechanisms m_;
};

class Pkcs11Peer : public Peer {
 public:
  Pkcs11Peer(void* lib, CK_FUNCTION_LIST* f, CK_SLOT_ID slot,
             CK_SESSION_HANDLE login_session, CK_OBJECT_HANDLE key,
             const Mechanisms& m)
      : lib_(lib), f_(f), slot_(slot), login_(login_session), key_(key), m_(m) {}
  ~Pkcs11Peer() override {
    f_->C_Logout(login_);
    f_->C_CloseSession(login_);
    f_->C_Finalize(nullptr);
    dlclose(lib_);
  }

  absl::StatusOr<std::unique_ptr<SignSession>> NewSession() override {
    CK_SESSION_HANDLE s;
    CK_RV rv = f_->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s);
    if (rv != CKR_OK) return CkError("C_OpenSession", rv);
    return std::unique_ptr<SignSession>(new Pkcs11Session(f_, s, key_, m_));
  }
  std::string Mechanism() const override { return m_.name; }

 private:
  void* lib_;
  CK_FUNCTION_LIST* f_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE login_;
  CK_OBJECT_HANDLE key_;
  Mechanisms m_;
};

// The slot whose token is labelled `label` (blank-padded to 32), or the
// first slot with a token if `label` is empty.
absl::StatusOr<CK_SLOT_ID> FindSlot(CK_FUNCTION_LIST* f, const std::string& label) {
  CK_ULONG n = 0;
  CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &n);
  if (rv != CKR_OK) return CkError("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(n);
  rv = f->C_GetSlotList(CK_TRUE, slots.data(), &n);
  if (rv != CKR_OK) return CkError("C_GetSlotList", rv);
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_TOKEN_INFO info;
    if (f->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
    std::string got(reinterpret_cast<const char*>(info.label), sizeof(info.label));
    got.erase(got.find_last_not_of(' ') + 1);
    if (label.empty() || got == label) return slots[i];
  }
  return absl::NotFoundError(absl::StrCat("no token labelled '", label, "'"));
}

// The first of `candidates` that the token offers; FAILED_PRECONDITION
// naming them if none.
absl::StatusOr<Mechanisms> PickMechanism(CK_FUNCTION_LIST* f, CK_SLOT_ID slot,
                                         const std::vector<Mechanisms>& candidates) {
  std::string names;
  for (const Mechanisms& m : candidates) {
    CK_MECHANISM_INFO info;
    if (f->C_GetMechanismInfo(slot, m.sign, &info) == CKR_OK) return m;
    absl::StrAppend(&names, names.empty() ? "" : ", ", m.name);
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the module offers none of ", names, " on this token"));
}

absl::StatusOr<CK_OBJECT_HANDLE> FindOrGenerateKey(CK_FUNCTION_LIST* f,
                                                   CK_SESSION_HANDLE s,
                                                   const std::string& label,
                                                   KeyType type,
                                                   const Mechanisms& m) {
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  CK_KEY_TYPE key_type = m.key_type;
  std::string l = label;
  CK_ATTRIBUTE find[] = {
      {CKA_CLASS, &priv_class, sizeof(priv_class)},
      {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
      {CKA_LABEL, l.data(), l.size()},
  };
  CK_RV rv = f->C_FindObjectsInit(s, find, 3);
  if (rv != CKR_OK) return CkError("C_FindObjectsInit", rv);
  CK_OBJECT_HANDLE key;
  CK_ULONG found = 0;
  rv = f->C_FindObjects(s, &key, 1, &found);
  f->C_FindObjectsFinal(s);
  if (rv != CKR_OK) return CkError("C_FindObjects", rv);
  if (found == 1) return key;

  CK_BBOOL yes = CK_TRUE;
  CK_ULONG bits = 2048;
  std::vector<CK_ATTRIBUTE> pub = {
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_VERIFY, &yes, sizeof(yes)},
      {CKA_LABEL, l.data(), l.size()},
  };
  switch (type) {
    case KeyType::kEd25519:
      pub.push_back({CKA_EC_PARAMS, const_cast<unsigned char*>(kEd25519Oid),
                     sizeof(kEd25519Oid)});
      break;
    case KeyType::kEcdsaP256:
      pub.push_back({CKA_EC_PARAMS, const_cast<unsigned char*>(kP256Oid),
                     sizeof(kP256Oid)});
      break;
    case KeyType::kRsa2048:
      pub.push_back({CKA_MODULUS_BITS, &bits, sizeof(bits)});
      pub.push_back({CKA_PUBLIC_EXPONENT, const_cast<unsigned char*>(kRsaExponent),
                     sizeof(kRsaExponent)});
      break;
  }
  CK_ATTRIBUTE priv[] = {
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_PRIVATE, &yes, sizeof(yes)},
      {CKA_SENSITIVE, &yes, sizeof(yes)},
      {CKA_SIGN, &yes, sizeof(yes)},
      {CKA_LABEL, l.data(), l.size()},
  };
  CK_MECHANISM gen = {m.generate, nullptr, 0};
  CK_OBJECT_HANDLE pub_handle;
  rv = f->C_GenerateKeyPair(s, &gen, pub.data(), pub.size(), priv,
                            sizeof(priv) / sizeof(priv[0]), &pub_handle, &key);
  if (rv != CKR_OK) return CkError("C_GenerateKeyPair", rv);
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Peer>> OpenPkcs11Peer(const Pkcs11Options& options,
                                                     KeyType type) {
  void* lib = dlopen(options.module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    return absl::NotFoundError(absl::StrCat("dlopen ", options.module, ": ", dlerror()));
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST* f = nullptr;
  if (get == nullptr || get(&f) != CKR_OK || f == nullptr) {
    dlclose(lib);
    return absl::InvalidArgumentError(
        absl::StrCat(options.module, " is not a PKCS#11 module"));
  }
  CK_C_INITIALIZE_ARGS init;
  std::memset(&init, 0, sizeof(init));
  init.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = f->C_Initialize(&init);
  if (rv != CKR_OK) {
    dlclose(lib);
    return CkError("C_Initialize", rv);
  }
  CK_SESSION_HANDLE s = 0;
  absl::StatusOr<CK_OBJECT_HANDLE> key;
  absl::StatusOr<Mechanisms> m;
  absl::StatusOr<CK_SLOT_ID> slot = FindSlot(f, options.token_label);
  absl::Status st = slot.status();
  if (st.ok()) {
    m = PickMechanism(f, *slot, MechanismsFor(type));
    st = m.status();
  }
  if (st.ok()) {
    rv = f->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                          nullptr, &s);
    if (rv != CKR_OK) st = CkError("C_OpenSession", rv);
  }
  if (st.ok()) {
    std::string pin = options.pin;
    rv = f->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) st = CkError("C_Login", rv);
  }
  if (st.ok()) {
    key = FindOrGenerateKey(f, s, options.key_label, type, *m);
    st = key.status();
  }
  if (!st.ok()) {
    f->C_Finalize(nullptr);
    dlclose(lib);
    return st;
  }
  return std::unique_ptr<Peer>(new Pkcs11Peer(lib, f, *slot, s, *key, *m));
}

}  // namespace keyward::peers
