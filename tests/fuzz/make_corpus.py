#!/usr/bin/python3
"""Regenerates the seed corpora under tests/fuzz/corpus/ (run from the repo
root with Debian's /usr/bin/python3, which has jwcrypto). Sources: Project
Wycheproof's JSON-web vectors in ../shared/testdata/wycheproof (copied: the
build never reads ../shared for fuzzing), the JSON and token literals of
the existing tests, keystore/crypto/testdata, and a few hand-made inputs.
Crash inputs that tools/fuzz found live in corpus/<target>/crash-* and are
kept: this script only writes seed-* files (and removes old seed-* ones).
"""
import base64, glob, hashlib, hmac, json, os, re, subprocess, sys

ROOT = os.getcwd()
WYCHE = os.path.join(ROOT, "..", "shared", "testdata", "wycheproof")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


corpora = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    corpora.setdefault(target, set()).add(data)


def wyche(name):
    return json.load(open(os.path.join(WYCHE, name)))


def c_literals(path):
    """Yields the decoded C++ string literals ("..." and R"(...)") of path."""
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r'R"\((.*?)\)"', text, re.S):
        yield m.group(1)
    for m in re.finditer(r'(?<![R\w])"((?:[^"\\\n]|\\.)*)"', text):
        try:
            yield bytes(m.group(1), "utf-8").decode("unicode_escape")
        except Exception:
            pass


def json_objects(paths):
    out = []
    for p in paths:
        for lit in c_literals(p):
            try:
                v = json.loads(lit)
            except Exception:
                continue
            if isinstance(v, dict):
                out.append(lit)
    return out


HS_KEY = b"k" * 32  # jws_fuzzer's HS256 key


def hs256(header, payload):
    signing_input = b64u(header) + "." + b64u(payload)
    sig = hmac.new(HS_KEY, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64u(sig)


# --- JWS / JWT -----------------------------------------------------------
test_files = sorted(glob.glob("keystore/jose/*_test.cc")) + ["tests/jwt_test.cc"]
literal_objects = json_objects(test_files)
headers = [o for o in literal_objects if '"alg"' in o]
claims = [o for o in literal_objects if '"alg"' not in o]
headers += [
    '{"alg":"HS256","typ":"JWT","kid":"k1"}',
    '{"alg":"HS256","crit":["exp"],"exp":1}',
    '{"alg":"HS256","crit":["x"],"x":1}',
    '{"alg":"HS256","jwk":{"kty":"oct","k":"AA"}}',
    '{"alg":"HS256","zip":"DEF"}', '{"alg":"HS256","b64":false}',
    '{"alg":"none"}', '{"alg":"NONE"}', '{"alg":"ES256","kid":"e"}',
    '{"alg":"HS256","alg":"RS256"}', '{"alg":"HS256","x5c":["AA"]}',
]
claims += [
    "{}", '{"sub":"alice","exp":1700000600,"iat":1700000000,"nbf":1700000000}',
    '{"exp":1699999000}', '{"exp":1700000600,"nbf":1800000000}',
    '{"exp":1700000600,"aud":["api","x"]}', '{"exp":"soon"}',
    '{"exp":1700000600,"iss":"me","aud":"api"}', '{"exp":1.5e9}',
]
for h in sorted(set(headers)):
    for c in sorted(set(claims))[:3]:
        add("jws", hs256(h, c))
for g in wyche("json_web_signature_test.json")["testGroups"] + \
         wyche("json_web_key_test.json")["testGroups"] + \
         wyche("json_web_crypto_test.json")["testGroups"]:
    for t in g["tests"]:
        if isinstance(t.get("jws"), str):
            add("jws", t["jws"])
        elif "jws" in t:
            add("json", json.dumps(t["jws"]))
        if isinstance(t.get("jwe"), str):
            add("jwe", t["jwe"])
    for k in ("private", "public"):
        if isinstance(g.get(k), dict):
            add("jwk", json.dumps(g[k]))

# --- JWE -----------------------------------------------------------------
for g in wyche("json_web_encryption_test.json")["testGroups"]:
    for t in g["tests"]:
        if isinstance(t.get("jwe"), str):
            add("jwe", t["jwe"])
    for k in ("private", "public"):
        if isinstance(g.get(k), dict):
            add("jwk", json.dumps(g[k]))
try:
    from jwcrypto import jwe as jj, jwk as jk
    sym = {"dir": b"s" * 32, "A128KW": b"s" * 16, "A256KW": b"s" * 32,
           "A128GCMKW": b"s" * 16, "A256GCMKW": b"s" * 32}
    for alg, raw in sym.items():
        key = jk.JWK(kty="oct", k=b64u(raw))
        encs = ["A128CBC-HS256", "A256GCM", "A128GCM", "A256CBC-HS512"]
        if alg == "dir":
            encs = ["A256GCM", "A128CBC-HS256"]
        for enc in encs:
            tok = jj.JWE(b"plaintext", json.dumps({"alg": alg, "enc": enc}))
            tok.add_recipient(key)
            add("jwe", tok.serialize(compact=True))
    for h in ['{"alg":"dir","enc":"A256GCM","zip":"DEF"}',
              '{"alg":"dir","enc":"A256GCM","crit":["x"],"x":1}',
              '{"alg":"dir","enc":"A999"}', '{"alg":"RSA1_5","enc":"A128GCM"}',
              '{"alg":"ECDH-ES","enc":"A256GCM","epk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}']:
        add("jwe", b64u(h) + "..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA")
except ImportError:
    print("make_corpus: no jwcrypto; JWE seeds from Wycheproof only", file=sys.stderr)

# --- JWK, JSON -----------------------------------------------------------
for o in json_objects(["keystore/jose/jwk_test.cc"]):
    add("jwk", o)
for lit in c_literals("keystore/jose/json_test.cc"):
    add("json", lit)
for o in literal_objects:
    add("json", o)
for s in ['{"a":[1,2.5e-3,-0,true,false,null,"\\u00e9\\ud83d\\ude00"]}', "[]",
          '"\\u0000"', "1e308", '{"a":{"b":{"c":[[[]]]}}}', ' \t\n{}\r\n']:
    add("json", s)

# --- keys ----------------------------------------------------------------
for p in sorted(glob.glob("keystore/crypto/testdata/*.pem")):
    pem = open(p, "rb").read()
    add("keys", pem)
    if b"ENCRYPTED" in pem or b"Proc-Type" in pem:
        continue
    form = ["openssl", "pkey", "-outform", "DER"]
    if b"PUBLIC KEY" in pem:
        form += ["-pubin"]
    der = subprocess.run(form, input=pem, capture_output=True).stdout
    if der:
        add("keys", der)

# --- envelope ------------------------------------------------------------
for s in ["kw:v1:", "kw:v3:\x00\x01payload", "kw:v999999999:x", "kw:v0:x",
          "kw:v01:x", "kw:v1000000000:x", "kw:v:x", "kw:v-1:x", "kw:v+1:x",
          "kw:v 1:x", "kw:v12"]:
    add("envelope", s)

# --- backup --------------------------------------------------------------
def field(b):
    if isinstance(b, str):
        b = b.encode()
    return len(b).to_bytes(4, "big") + b


def backup(n="32768", r="8", p="1", tail=b"\x00" * 40, magic=b"KWBACKUP1\n"):
    return (magic + field(b"S" * 16) + field(n) + field(r) + field(p) +
            field(b"C" * 32) + field(b"W" * 60) + tail)


for args in [(), ("1048576",), ("16384",), ("32768", "33"), ("32768", "8", "0"),
             ("x",), ("+32768",), ("32768", "8", "16")]:
    add("backup", backup(*args))
add("backup", backup()[:30])
add("backup", b"KWBACKUP2\n")
# Format 2 (the record stream): the same header after its own magic.
for args in [(), ("1048576",), ("16384",), ("32768", "8", "0")]:
    add("backup", backup(*args, magic=b"KWBACKUP2\n"))
add("backup", backup(magic=b"KWBACKUP2\n")[:30])
add("backup", b"KWBACKUP3\n")

# --- config --------------------------------------------------------------
readme = open("README.md").read()
m = re.search(r"Example config:\n\n```\n(.*?)```", readme, re.S)
if m:
    add("config", m.group(1))
for lit in c_literals("daemon/config_test.cc"):
    if ":" in lit or "{" in lit:
        add("config", lit)
for s in ['data_dir: "/tmp/k"\nkey_cache_size: 0\n',
          'audit { fsync: AUDIT_FSYNC_INTERVAL fsync_interval { seconds: 1 } }\n',
          'rate_limits { requests_per_second: 10 burst: 20 auth_failures_per_minute: 10 }\n',
          'unix_socket { path: "/run/k.sock" mode: 0777 }\n', 'bogus: 1\n',
          'tcp_listeners { address: "127.0.0.1:0" }\n']:
    add("config", s)

# --- audit log -----------------------------------------------------------
def audit_log(n, tamper=None):
    prev = b"\x00" * 32
    out = []
    for seq in range(1, n + 1):
        body = ('{"seq":%d,"time":"2026-11-27T17:30:00.123456Z","principal":'
                '"unix:uid:1000","method":"/keyward.v1.CryptoService/Sign",'
                '"operation":"SIGN","resource":"keys/payments","version":3,'
                '"code":"OK","request_id":"r%d","prev":"%s"' % (seq, seq, prev.hex()))
        h = hashlib.sha256(prev + body.encode()).digest()
        out.append(body + ',"hash":"%s"}' % h.hex())
        prev = h
    if tamper is not None:
        out[tamper] = out[tamper].replace("SIGN", "VERIFY")
    return "\n".join(out) + "\n"


add("audit_log", audit_log(1))
add("audit_log", audit_log(4))
add("audit_log", audit_log(4, tamper=2))
add("audit_log", audit_log(3)[:-20])
add("audit_log", "")
add("audit_log", "\n")
add("audit_log", "not json\n")

# --- access --------------------------------------------------------------
for s in ["kws_" + b64u(b"\x01" * 32), "kw_ak_ci:" + b64u(b"\x02" * 32),
          "kw_ak_:x", "kw_ak_ci", "*", "keys/payments", "keys/payments-*",
          "keys/", "keys/A", "sign", "ADMIN", "unspecified", "Bearer kws_x"]:
    add("access", s)

for target, inputs in sorted(corpora.items()):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "seed-*")):
        os.remove(old)
    for data in sorted(inputs):
        name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%-10s %4d seeds %7d bytes" % (target, len(inputs), sum(map(len, inputs))))
