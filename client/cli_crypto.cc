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

// ParseAlgorithm sets `*out` from --algorithm if given.
absl::Status ParseAlgorithm(const Context& ctx, v1::SignatureAlgorithm* out) {
  if (!ctx.Has("algorithm")) return absl::OkStatus();
  absl::StatusOr<v1::SignatureAlgorithm> a =
      ParseSignatureAlgorithm(ctx.Flag("algorithm"));
  if (!a.ok()) return a.status();
  *out = *a;
  return absl::OkStatus();
}

int RunSign(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::SignRequest req;
  req.set_name(*name);
  v1::SignatureAlgorithm algorithm = v1::SIGNATURE_ALGORITHM_UNSPECIFIED;
  absl::Status s = ParseAlgorithm(ctx, &algorithm);
  if (!s.ok()) return ctx.Usage(s.message());
  req.set_algorithm(algorithm);
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the data to sign", data.status());
  *(ctx.Has("digest") ? req.mutable_digest() : req.mutable_data()) = *std::move(data);
  absl::StatusOr<v1::SignResponse> resp = ctx.Call(&ClientInterface::Sign, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot sign with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the signature", ToJson(*resp), false);
  return ctx.Output("cannot write the signature",
                    ctx.Has("raw") ? resp->raw_signature() : resp->signature(), true);
}

int RunVerify(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::Status s = CheckRaw(ctx, *name, "the version that signed");
  if (s.ok()) s = CheckDetached(ctx, "signature");
  v1::VerifyRequest req;
  req.set_name(*name);
  v1::SignatureAlgorithm algorithm = v1::SIGNATURE_ALGORITHM_UNSPECIFIED;
  if (s.ok()) s = ParseAlgorithm(ctx, &algorithm);
  if (!s.ok()) return ctx.Usage(s.message());
  req.set_algorithm(algorithm);
  absl::StatusOr<std::string> sig = ReadInput(ctx.Flag("signature"));
  if (!sig.ok()) return ctx.Fail("cannot read the signature", sig.status());
  *(ctx.Has("raw") ? req.mutable_raw_signature() : req.mutable_signature()) =
      *std::move(sig);
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the signed data", data.status());
  *(ctx.Has("digest") ? req.mutable_digest() : req.mutable_data()) = *std::move(data);
  absl::StatusOr<v1::VerifyResponse> resp = ctx.Call(&ClientInterface::Verify, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot verify with ", *name), resp.status());
  std::string detail = resp->key_version();
  if (resp->algorithm() != v1::SIGNATURE_ALGORITHM_UNSPECIFIED) {
    absl::StrAppend(&detail, detail.empty() ? "" : ", ",
                    SignatureAlgorithmName(resp->algorithm()));
  }
  return PrintVerdict(ctx, *resp, resp->valid(), detail);
}

int RunEncrypt(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  absl::StatusOr<std::string> plaintext = ctx.Input();
  if (!plaintext.ok()) return ctx.Fail("cannot read the plaintext", plaintext.status());
  v1::EncryptRequest req;
  req.set_name(*name);
  req.set_associated_data(*aad);
  req.set_plaintext(*plaintext);
  Wipe(&*plaintext);
  absl::StatusOr<v1::EncryptResponse> resp = ctx.Call(&ClientInterface::Encrypt, req);
  Wipe(req.mutable_plaintext());
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot encrypt with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the ciphertext", ToJson(*resp), false);
  return ctx.Output("cannot write the ciphertext", resp->ciphertext(), true);
}

int RunDecrypt(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::Status s = CheckRaw(ctx, *name, "the RSA key version");
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  absl::StatusOr<std::string> ciphertext = ctx.Input();
  if (!ciphertext.ok()) return ctx.Fail("cannot read the ciphertext", ciphertext.status());
  v1::DecryptRequest req;
  req.set_name(*name);
  req.set_associated_data(*aad);
  *(ctx.Has("raw") ? req.mutable_raw_ciphertext() : req.mutable_ciphertext()) =
      *std::move(ciphertext);
  absl::StatusOr<v1::DecryptResponse> resp = ctx.Call(&ClientInterface::Decrypt, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot decrypt with ", *name), resp.status());
  int rc = ctx.Output("cannot write the plaintext",
                      ctx.json() ? ToJson(*resp) : resp->plaintext(), false, 0600);
  Wipe(resp->mutable_plaintext());
  return rc;
}

int RunMac(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the data", data.status());
  v1::MacRequest req;
  req.set_name(*name);
  req.set_data(*std::move(data));
  absl::StatusOr<v1::MacResponse> resp = ctx.Call(&ClientInterface::Mac, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot MAC with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the MAC", ToJson(*resp), false);
  return ctx.Output("cannot write the MAC", ctx.Has("raw") ? resp->raw_mac() : resp->mac(),
                    true);
}

int RunVerifyMac(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  absl::Status s = CheckRaw(ctx, *name, "the version");
  if (s.ok()) s = CheckDetached(ctx, "mac");
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> mac = ReadInput(ctx.Flag("mac"));
  if (!mac.ok()) return ctx.Fail("cannot read the MAC", mac.status());
  absl::StatusOr<std::string> data = ctx.Input();
  if (!data.ok()) return ctx.Fail("cannot read the data", data.status());
  v1::VerifyMacRequest req;
  req.set_name(*name);
  req.set_data(*std::move(data));
  *(ctx.Has("raw") ? req.mutable_raw_mac() : req.mutable_mac()) = *std::move(mac);
  absl::StatusOr<v1::VerifyMacResponse> resp = ctx.Call(&ClientInterface::VerifyMac, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot verify the MAC with ", *name), resp.status());
  }
  return PrintVerdict(ctx, *resp, resp->valid(), resp->key_version());
}

// FillDataKey sets the request from the flags and checks the output files.
absl::Status FillDataKey(const Context& ctx, v1::GenerateDataKeyRequest* req) {
  if (ctx.Has("length")) {
    absl::StatusOr<uint32_t> n = ParsePositiveInt(ctx.Flag("length"), "--length");
    if (!n.ok()) return n.status();
    req->set_length_bytes(*n);
  }
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
  return absl::OkStatus();
}

int RunDataKey(Context& ctx) {
  absl::StatusOr<std::string> name = NameWithVersion(ctx, ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::GenerateDataKeyRequest req;
  req.set_name(*name);
  absl::Status s = FillDataKey(ctx, &req);
  if (!s.ok()) return ctx.Usage(s.message());
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  req.set_associated_data(*aad);
  absl::StatusOr<v1::GenerateDataKeyResponse> resp =
      ctx.Call(&ClientInterface::GenerateDataKey, req);
  if (!resp.ok()) {
    return ctx.Fail(absl::StrCat("cannot make a data key with ", *name), resp.status());
  }
  int rc = kExitOk;
  if (!ctx.Has("ciphertext-out")) {
    std::string json = ToJson(*resp);
    ctx.Print(json);
    Wipe(&json);
  } else {
    s = WriteOutput(ctx.Flag("ciphertext-out"), resp->ciphertext(), 0644);
    if (s.ok() && !req.wrapped_only()) {
      s = WriteOutput(ctx.Flag("plaintext-out"), resp->plaintext(), 0600);
    }
    if (!s.ok()) {
      rc = ctx.Fail("cannot write the data key", s);
    } else if (!ctx.json()) {
      ctx.Print(absl::StrCat("data key wrapped by ", resp->key_version(), "\n"));
    }
  }
  Wipe(resp->mutable_plaintext());
  return rc;
}

int RunReEncrypt(Context& ctx) {
  absl::StatusOr<std::string> name = KeyName(ctx.pos()[0]);
  if (!name.ok()) return ctx.Usage(name.status().message());
  v1::ReEncryptRequest req;
  req.set_name(*name);
  if (ctx.Has("to")) {
    absl::StatusOr<std::string> to = KeyName(ctx.Flag("to"));
    if (!to.ok()) return ctx.Usage(to.status().message());
    req.set_destination_name(*to);
  }
  absl::StatusOr<std::string> aad = Aad(ctx);
  if (!aad.ok()) return ctx.Fail("cannot read the associated data", aad.status());
  req.set_associated_data(*aad);
  if (ctx.Has("to-aad") || ctx.Has("to-aad-file")) {
    absl::StatusOr<std::string> to_aad = Aad(ctx, "to-aad");
    if (!to_aad.ok()) return ctx.Fail("cannot read the new associated data", to_aad.status());
    req.set_destination_associated_data(*to_aad);
  }
  absl::StatusOr<std::string> ciphertext = ctx.Input();
  if (!ciphertext.ok()) return ctx.Fail("cannot read the ciphertext", ciphertext.status());
  req.set_ciphertext(*std::move(ciphertext));
  absl::StatusOr<v1::ReEncryptResponse> resp = ctx.Call(&ClientInterface::ReEncrypt, req);
  if (!resp.ok()) return ctx.Fail(absl::StrCat("cannot re-encrypt with ", *name), resp.status());
  if (ctx.json()) return ctx.Output("cannot write the ciphertext", ToJson(*resp), false);
  return ctx.Output("cannot write the ciphertext", resp->ciphertext(), true);
}

}  // namespace

std::vector<Command> CryptoCommands() {
  return {
      {"sign", "NAME", "sign data from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(),
        {"algorithm", Kind::kValue, "ALG", "one of the key's algorithms (default: its first)"},
        RawFlag("write the bare signature, not the self-describing one"),
        DigestFlag("the input is a digest, not the message")},
       1, 1, RunSign,
       "Writes the self-describing signature (for `keyward verify`) by default."},
      {"verify", "NAME --signature FILE", "verify a signature over data from stdin (or --in)",
       {InFlag(), VersionFlag(),
        {"signature", Kind::kValue, "FILE", "the signature (required)"},
        {"algorithm", Kind::kValue, "ALG", "the algorithm"},
        RawFlag("the signature is bare: give --version"),
        DigestFlag("the input is a digest")},
       1, 1, RunVerify, "Exit code 0 valid, 1 invalid, 2 error."},
      {"encrypt", "NAME", "encrypt data from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(), AadFlag(), AadFileFlag()}, 1, 1, RunEncrypt},
      {"decrypt", "NAME", "decrypt a ciphertext from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(), AadFlag(), AadFileFlag(),
        RawFlag("bare RSA-OAEP ciphertext: give --version")},
       1, 1, RunDecrypt},
      {"mac", "NAME", "compute a MAC over data from stdin (or --in)",
       {InFlag(), OutFlag(), VersionFlag(),
        RawFlag("write the bare tag, not the self-describing MAC")},
       1, 1, RunMac},
      {"verify-mac", "NAME --mac FILE", "check a MAC over data from stdin (or --in)",
       {InFlag(), VersionFlag(), {"mac", Kind::kValue, "FILE", "the MAC (required)"},
        RawFlag("the MAC is a bare tag: give --version")},
       1, 1, RunVerifyMac, "Exit code 0 valid, 1 invalid, 2 error."},
      {"datakey", "NAME", "make a data key wrapped by an AES key",
       {VersionFlag(), AadFlag(), AadFileFlag(),
        {"length", Kind::kValue, "BYTES", "16, 32 (default) or 64"},
        {"wrapped-only", Kind::kBool, "", "return only the wrapped key"},
        {"plaintext-out", Kind::kValue, "FILE", "write the plain data key here (mode 0600)"},
        {"ciphertext-out", Kind::kValue, "FILE", "write the wrapped data key here"}},
       1, 1, RunDataKey,
       "Prints the response as JSON (keys base64), or writes two files with "
       "--plaintext-out and --ciphertext-out."},
      {"reencrypt", "NAME", "move a ciphertext from stdin to the primary version",
       {InFlag(), OutFlag(), AadFlag(), AadFileFlag(),
        {"to", Kind::kValue, "KEY", "re-encrypt under another key"},
        {"to-aad", Kind::kValue, "TEXT", "new associated data (default: --aad)"},
        {"to-aad-file", Kind::kValue, "FILE", "new associated data from a file"}},
       1, 1, RunReEncrypt},
  };
}

}  // namespace keyward::cli
