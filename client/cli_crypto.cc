// The crypto commands of the `keyward` CLI: sign, verify, encrypt, decrypt,
// mac, verify-mac, datakey, reencrypt. Data comes from stdin or --in;
// output bytes go to stdout or --out.
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli_command.h"

namespace keyward::cli {
namespace {

using Kind = FlagSpec::Kind;

FlagSpec RawFlag(const char* help) { return {"raw", Kind::kBool, "", help}; }
FlagSpec DigestFlag(const char* help) { return {"digest", Kind::kBool, "", help}; }

// CheckRaw refuses --raw without an explicit version in `name`.
absl::Status CheckRaw(const Context& ctx, const std::string& name,
                      absl::string_view what) {
  if (!ctx.Has("raw") || absl::StrContains(name, "/versions/")) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--raw needs ", what, ": --version N"));
}

// CheckDetached checks that --<flag> names the file of a signature or MAC:
// the data comes from --in or stdin, and both cannot be stdin.
absl::Status CheckDetached(const Context& ctx, absl::string_view flag) {
  std::string file = ctx.Flag(flag);
  std::string in = ctx.Flag("in");
  if ((file.empty() || file == "-") && (in.empty() || in == "-")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "give --", flag, " FILE (the data comes from --in or stdin)"));
  }
  return absl::OkStatus();
}

FlagSpec AlgorithmFlag(const char* help) {
  return {"algorithm", Kind::kValue, "ALG", help};
}

// ReadData sets the data (or with --digest, the digest) of a request.
template <typename Request>
absl::Status ReadData(const Context& ctx, Request* req) {
  return ReadInputInto(ctx, ctx.Has("digest") ? req->mutable_digest() : req->mutable_data());
}

// OutputBytes writes the response as JSON, or `bytes` of it as binary.
template <typename Response>
int OutputBytes(Context& ctx, absl::string_view what, const Response& resp,
                const std::string& bytes) {
  if (ctx.json()) return ctx.Output(what, ToJson(resp), false);
  return ctx.Output(what, bytes, true);
}

// FillSignature sets the name (with --version) and --algorithm of a Sign
// or Verify request.
template <typename Request>
absl::Status FillSignature(const Context& ctx, Request* req) {
  v1::SignatureAlgorithm algorithm = v1::SIGNATURE_ALGORITHM_UNSPECIFIED;
  absl::Status s = ParseFlagInto(ctx, "algorithm", ParseSignatureAlgorithm, &algorithm);
  req->set_algorithm(algorithm);
  return s.ok() ? SetKeyName(ctx, /*versioned=*/true, req) : s;
}

int RunSign(Context& ctx) {
  v1::SignRequest req;
  absl::Status s = FillSignature(ctx, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  s = ReadData(ctx, &req);
  if (!s.ok()) return ctx.Fail("cannot read the data to sign", s);
  absl::StatusOr<v1::SignResponse> resp = ctx.Call(&ClientInterface::Sign, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot sign with ", req.name()), resp.status());
  return OutputBytes(ctx, "cannot write the signature", *resp,
                     ctx.Has("raw") ? resp->raw_signature() : resp->signature());
}

Command Sign() {
  return {"sign", "NAME", "sign data from stdin (or --in)",
          {InFlag(), OutFlag(), VersionFlag(),
           AlgorithmFlag("one of the key's algorithms (default: its first)"),
           RawFlag("write the bare signature, not the self-describing one"),
           DigestFlag("the input is a digest, not the message")},
          1, 1, RunSign,
          "Writes the self-describing signature (for `keyward verify`) by default."};
}

int RunVerify(Context& ctx) {
  v1::VerifyRequest req;
  absl::Status s = FillSignature(ctx, &req);
  if (s.ok()) s = CheckRaw(ctx, req.name(), "the version that signed");
  if (s.ok()) s = CheckDetached(ctx, "signature");
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> sig = ReadInput(ctx.Flag("signature"));
  if (!sig.ok()) return ctx.Fail("cannot read the signature", sig.status());
  *(ctx.Has("raw") ? req.mutable_raw_signature() : req.mutable_signature()) =
      *std::move(sig);
  s = ReadData(ctx, &req);
  if (!s.ok()) return ctx.Fail("cannot read the signed data", s);
  absl::StatusOr<v1::VerifyResponse> resp = ctx.Call(&ClientInterface::Verify, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot verify with ", req.name()), resp.status());
  }
  std::string detail = resp->key_version();
  if (resp->algorithm() != v1::SIGNATURE_ALGORITHM_UNSPECIFIED) {
    absl::StrAppend(&detail, detail.empty() ? "" : ", ",
                    SignatureAlgorithmName(resp->algorithm()));
  }
  return PrintVerdict(ctx, *resp, resp->valid(), detail);
}

Command Verify() {
  return {"verify", "NAME --signature FILE",
          "verify a signature over data from stdin (or --in)",
          {InFlag(), VersionFlag(),
           {"signature", Kind::kValue, "FILE", "the signature (required)"},
           AlgorithmFlag("the algorithm"), RawFlag("the signature is bare: give --version"),
           DigestFlag("the input is a digest")},
          1, 1, RunVerify, kVerdictExitCodes};
}

// PrepareAead sets the name (with --version) and the associated data of an
// Encrypt or Decrypt request; `raw_what` (if not empty) is what --raw needs.
template <typename Request>
absl::Status PrepareAead(const Context& ctx, absl::string_view raw_what, Request* req) {
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, req);
  if (s.ok() && !raw_what.empty()) s = CheckRaw(ctx, req->name(), raw_what);
  if (!s.ok()) return s;
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return aad.status();
  req->set_associated_data(*aad);
  return absl::OkStatus();
}

int RunEncrypt(Context& ctx) {
  v1::EncryptRequest req;
  absl::Status s = PrepareAead(ctx, "", &req);
  if (!s.ok()) return Refuse(ctx, "cannot read the associated data", s);
  absl::StatusOr<std::string> plaintext = ctx.Input();
  if (!plaintext.ok()) return ctx.Fail("cannot read the plaintext", plaintext.status());
  req.set_plaintext(*plaintext);
  Wipe(&*plaintext);
  absl::StatusOr<v1::EncryptResponse> resp = ctx.Call(&ClientInterface::Encrypt, req);
  Wipe(req.mutable_plaintext());
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot encrypt with ", req.name()), resp.status());
  }
  return OutputBytes(ctx, "cannot write the ciphertext", *resp,
                     ctx.Has("raw") ? resp->raw_ciphertext() : resp->ciphertext());
}

// ReadPeerKey reads --peer-key: the peer's raw 32-byte X25519 public key.
absl::StatusOr<std::string> ReadPeerKey(const Context& ctx) {
  absl::Status s = CheckDetached(ctx, "peer-key");
  if (!s.ok()) return s;
  return ReadInput(ctx.Flag("peer-key"));
}

int RunBox(Context& ctx) {
  v1::BoxRequest req;
  absl::Status s = SetKeyName(ctx, /*versioned=*/false, &req);
  absl::StatusOr<std::string> peer = s.ok() ? ReadPeerKey(ctx) : s;
  if (!peer.ok()) return Refuse(ctx, "cannot read the peer's public key", peer.status());
  req.set_peer_public_key(*peer);
  s = ReadInputInto(ctx, req.mutable_plaintext());
  if (!s.ok()) return ctx.Fail("cannot read the plaintext", s);
  absl::StatusOr<v1::BoxResponse> resp = ctx.Call(&ClientInterface::Box, req);
  Wipe(req.mutable_plaintext());
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot box with ", req.name()), resp.status());
  return OutputBytes(ctx, "cannot write the box", *resp, resp->ciphertext());
}

int RunBoxOpen(Context& ctx) {
  v1::BoxOpenRequest req;
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, &req);
  absl::StatusOr<std::string> peer = s.ok() ? ReadPeerKey(ctx) : s;
  if (!peer.ok()) return Refuse(ctx, "cannot read the peer's public key", peer.status());
  req.set_peer_public_key(*peer);
  s = ReadInputInto(ctx, req.mutable_ciphertext());
  if (!s.ok()) return ctx.Fail("cannot read the box", s);
  absl::StatusOr<v1::BoxOpenResponse> resp = ctx.Call(&ClientInterface::BoxOpen, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot open the box with ", req.name()), resp.status());
  }
  int rc = ctx.Output("cannot write the plaintext",
                      ctx.json() ? ToJson(*resp) : resp->plaintext(), false, 0600);
  Wipe(resp->mutable_plaintext());
  return rc;
}

// ReadCiphertext sets the (with --raw, bare) ciphertext from the input.
absl::Status ReadCiphertext(const Context& ctx, v1::DecryptRequest* req) {
  return ReadInputInto(
      ctx, ctx.Has("raw") ? req->mutable_raw_ciphertext() : req->mutable_ciphertext());
}

int RunDecrypt(Context& ctx) {
  v1::DecryptRequest req;
  absl::Status s = PrepareAead(ctx, "the key version", &req);
  if (s.ok()) s = ReadCiphertext(ctx, &req);
  if (!s.ok()) return Refuse(ctx, "cannot read the input", s);
  absl::StatusOr<v1::DecryptResponse> resp = ctx.Call(&ClientInterface::Decrypt, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot decrypt with ", req.name()), resp.status());
  }
  int rc = ctx.Output("cannot write the plaintext",
                      ctx.json() ? ToJson(*resp) : resp->plaintext(), false, 0600);
  Wipe(resp->mutable_plaintext());
  return rc;
}

int RunMac(Context& ctx) {
  v1::MacRequest req;
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  s = ReadInputInto(ctx, req.mutable_data());
  if (!s.ok()) return ctx.Fail("cannot read the data", s);
  absl::StatusOr<v1::MacResponse> resp = ctx.Call(&ClientInterface::Mac, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot MAC with ", req.name()), resp.status());
  return OutputBytes(ctx, "cannot write the MAC", *resp,
                     ctx.Has("raw") ? resp->raw_mac() : resp->mac());
}

int RunVerifyMac(Context& ctx) {
  v1::VerifyMacRequest req;
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, &req);
  if (s.ok()) s = CheckRaw(ctx, req.name(), "the version");
  if (s.ok()) s = CheckDetached(ctx, "mac");
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> mac = ReadInput(ctx.Flag("mac"));
  if (!mac.ok()) return ctx.Fail("cannot read the MAC", mac.status());
  *(ctx.Has("raw") ? req.mutable_raw_mac() : req.mutable_mac()) = *std::move(mac);
  if (s = ReadInputInto(ctx, req.mutable_data()); !s.ok()) {
    return ctx.Fail("cannot read the data", s);
  }
  absl::StatusOr<v1::VerifyMacResponse> resp = ctx.Call(&ClientInterface::VerifyMac, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot verify the MAC with ", req.name()), resp.status());
  }
  return PrintVerdict(ctx, *resp, resp->valid(), resp->key_version());
}

// FillDataKey sets the request from the flags and checks the output files.
absl::Status FillDataKey(const Context& ctx, v1::GenerateDataKeyRequest* req) {
  uint32_t length = 0;
  absl::Status s = ParseFlagInto(
      ctx, "length", [](absl::string_view t) { return ParsePositiveInt(t, "--length"); },
      &length);
  if (!s.ok()) return s;
  req->set_length_bytes(length);
  req->set_wrapped_only(ctx.Has("wrapped-only"));
  bool to_files = ctx.Has("plaintext-out") || ctx.Has("ciphertext-out");
  if (to_files && !ctx.Has("ciphertext-out")) {
    return absl::InvalidArgumentError("give --ciphertext-out FILE too");
  }
  if (req->wrapped_only() && ctx.Has("plaintext-out")) {
    return absl::InvalidArgumentError(
        "--wrapped-only returns no plain data key: drop --plaintext-out");
  }
  if (to_files && !ctx.Has("plaintext-out") && !req->wrapped_only()) {
    return absl::InvalidArgumentError("give --plaintext-out FILE too, or --wrapped-only");
  }
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return aad.status();
  req->set_associated_data(*aad);
  return absl::OkStatus();
}

// WriteDataKey writes the wrapped key, and the plain one unless
// --wrapped-only, to their files.
absl::Status WriteDataKey(const Context& ctx, const v1::GenerateDataKeyResponse& resp) {
  absl::Status s = WriteOutput(ctx.Flag("ciphertext-out"), resp.ciphertext(), 0644);
  if (s.ok() && !ctx.Has("wrapped-only")) {
    s = WriteOutput(ctx.Flag("plaintext-out"), resp.plaintext(), 0600);
  }
  return s;
}

int RunDataKey(Context& ctx) {
  v1::GenerateDataKeyRequest req;
  absl::Status s = SetKeyName(ctx, /*versioned=*/true, &req);
  if (s.ok()) s = FillDataKey(ctx, &req);
  if (!s.ok()) return Refuse(ctx, "cannot read the associated data", s);
  absl::StatusOr<v1::GenerateDataKeyResponse> resp =
      ctx.Call(&ClientInterface::GenerateDataKey, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot make a data key with ", req.name()), resp.status());
  }
  int rc = kExitOk;
  if (!ctx.Has("ciphertext-out")) {
    std::string json = ToJson(*resp);
    ctx.Print(json);
    Wipe(&json);
  } else if (s = WriteDataKey(ctx, *resp); !s.ok()) {
    rc = ctx.Fail("cannot write the data key", s);
  } else if (!ctx.json()) {
    ctx.Print(absl::StrCat("data key wrapped by ", resp->key_version(), "\n"));
  }
  Wipe(resp->mutable_plaintext());
  return rc;
}

Command DataKey() {
  return {"datakey", "NAME", "make a data key wrapped by an AES key",
          {VersionFlag(), AadFlag(), AadFileFlag(),
           {"length", Kind::kValue, "BYTES", "16, 32 (default) or 64"},
           {"wrapped-only", Kind::kBool, "", "return only the wrapped key"},
           {"plaintext-out", Kind::kValue, "FILE",
            "write the plain data key here (mode 0600)"},
           {"ciphertext-out", Kind::kValue, "FILE", "write the wrapped data key here"}},
          1, 1, RunDataKey,
          "Prints the response as JSON (keys base64), or writes two files with "
          "--plaintext-out and --ciphertext-out."};
}

int RunReEncrypt(Context& ctx) {
  v1::ReEncryptRequest req;
  std::string to;
  absl::Status s = SetKeyName(ctx, /*versioned=*/false, &req);
  if (s.ok()) s = ParseFlagInto(ctx, "to", KeyName, &to);
  if (!s.ok()) return ctx.Usage(s.message());
  req.set_destination_name(to);
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  req.set_associated_data(*aad);
  if (ctx.Has("to-aad") || ctx.Has("to-aad-file")) {
    absl::StatusOr<std::string> to_aad = Aad(ctx, "to-aad");
    if (!to_aad.ok()) return ctx.Fail("cannot read the new associated data", to_aad.status());
    req.set_destination_associated_data(*to_aad);
  }
  s = ReadInputInto(ctx, req.mutable_ciphertext());
  if (!s.ok()) return ctx.Fail("cannot read the ciphertext", s);
  absl::StatusOr<v1::ReEncryptResponse> resp = ctx.Call(&ClientInterface::ReEncrypt, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot re-encrypt with ", req.name()), resp.status());
  }
  return OutputBytes(ctx, "cannot write the ciphertext", *resp, resp->ciphertext());
}

Command ReEncrypt() {
  return {"reencrypt", "NAME", "move a ciphertext from stdin to the primary version",
          {InFlag(), OutFlag(), AadFlag(), AadFileFlag(),
           {"to", Kind::kValue, "KEY", "re-encrypt under another key"},
           {"to-aad", Kind::kValue, "TEXT", "new associated data (default: --aad)"},
           {"to-aad-file", Kind::kValue, "FILE", "new associated data from a file"}},
          1, 1, RunReEncrypt};
}

}  // namespace

std::vector<Command> CryptoCommands() {
  return {
      Sign(),
      Verify(),
      {"encrypt", "NAME", "encrypt data from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(), AadFlag(), AadFileFlag(),
        RawFlag("write the bare ciphertext (NaCl's format for NaCl keys)")},
       1, 1, RunEncrypt},
      {"decrypt", "NAME", "decrypt a ciphertext from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(), AadFlag(), AadFileFlag(),
        RawFlag("bare RSA-OAEP or NaCl ciphertext: give --version")},
       1, 1, RunDecrypt},
      {"box", "NAME --peer-key FILE",
       "NaCl box of stdin (or --in) from an X25519 key to a peer",
       {InFlag(), OutFlag(),
        {"peer-key", Kind::kValue, "FILE", "the peer's raw 32-byte X25519 public key"}},
       1, 1, RunBox},
      {"box-open", "NAME --peer-key FILE",
       "open a NaCl box (nonce || box) from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(),
        {"peer-key", Kind::kValue, "FILE", "the sender's raw 32-byte X25519 public key"}},
       1, 1, RunBoxOpen},
      {"mac", "NAME", "compute a MAC over data from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(),
        RawFlag("write the bare tag, not the self-describing MAC")},
       1, 1, RunMac},
      {"verify-mac", "NAME --mac FILE", "check a MAC over data from stdin (or --in)",
       {InFlag(), VersionFlag(), {"mac", Kind::kValue, "FILE", "the MAC (required)"},
        RawFlag("the MAC is a bare tag: give --version")},
       1, 1, RunVerifyMac, kVerdictExitCodes},
      DataKey(),
      ReEncrypt(),
  };
}

}  // namespace keyward::cli
