"""Seed flow (e): an operator console that logs in with an API key (from a
file, never the command line) and then works with a session token.

    console_client.py --target 127.0.0.1:7443 --api-key-file ~/.keyward/ci.key whoami
    console_client.py ... sign KEY FILE          # prints the base64 signature
    console_client.py ... verify KEY FILE SIG    # exit 0 if valid, 1 if not
    console_client.py ... key KEY                # name and primary version

Exit status: 0 done, 1 signature invalid, 2 a refused call (the daemon's
status code and message on stderr; the secret is never printed). Uses only
keyward's public API (keyward.Client).
"""

import argparse
import base64
import sys
from typing import List, Optional

import keyward


def run(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None)
    parser.add_argument("--api-key-file", required=True)
    parser.add_argument("--token-ttl", type=int, default=600)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("whoami")
    sign = sub.add_parser("sign")
    sign.add_argument("key")
    sign.add_argument("file")
    verify = sub.add_parser("verify")
    verify.add_argument("key")
    verify.add_argument("file")
    verify.add_argument("signature")
    key = sub.add_parser("key")
    key.add_argument("key")
    args = parser.parse_args(argv)

    try:
        with keyward.Client(args.target) as client:
            session = client.login(api_key_file=args.api_key_file,
                                   ttl=args.token_ttl)
            if args.command == "whoami":
                me = client.who_am_i()
                print("%s (session until %s)" % (
                    me.principal, session.expire_time.isoformat()))
            elif args.command == "sign":
                with open(args.file, "rb") as f:
                    result = client.sign(args.key, f.read())
                print(base64.b64encode(result.signature).decode())
            elif args.command == "verify":
                with open(args.file, "rb") as f:
                    ok = client.verify(args.key, f.read(),
                                       base64.b64decode(args.signature))
                print("valid" if ok else "INVALID")
                return 0 if ok else 1
            else:
                info = client.get_key(args.key)
                print(info.name, "primary version", info.primary_version)
    except keyward.KeywardError as e:
        print("error: %s: %s" % (e.code.name, e.message), file=sys.stderr)
        return 2
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run())
