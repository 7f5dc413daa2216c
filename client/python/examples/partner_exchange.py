"""Seed flow (d): a token exchange with a partner that uses python-jose.
Both directions, with no private key outside keywardd on our side:

  - we issue ES256 tokens (SignJwt); the partner verifies them with
    python-jose against our published JWK Set (GetJwks);
  - the partner signs its tokens with its own key (python-jose); we import
    the partner's public key as a public-only JWT key and verify its tokens
    in Keyward (VerifyJwt, pinned to that key).

    python3 partner_exchange.py --target unix:///run/keyward/keyward.sock

Needs python3-jose and python3-cryptography. Uses only keyward's public
API (keyward.Client, keyward.jwt).
"""

import argparse
import json
from typing import Any, Dict

from jose import jwt as jose_jwt

import keyward
import keyward.jwt

OUR_KEY = "partner-out-es256"
ISSUER = "https://keyward.example"


def partner_key_id(partner: str) -> str:
    return "partner-in-" + partner


def ensure_our_key(client: keyward.Client) -> None:
    try:
        client.get_key(OUR_KEY)
    except keyward.NotFoundError:
        client.create_key(OUR_KEY, "ECDSA_P256", "JWT")


def issue(client: keyward.Client, partner: str, scope: str) -> str:
    """A 5-minute ES256 token for `partner` (its audience)."""
    return keyward.jwt.encode({"iss": ISSUER, "sub": "our-service",
                               "aud": partner, "scope": scope}, key=OUR_KEY, ttl=300,
                              client=client)


def published_jwks(client: keyward.Client) -> Dict[str, Any]:
    """What we publish at /.well-known/jwks.json."""
    return client.get_jwks(OUR_KEY)


def partner_verifies(token: str, jwks: Dict[str, Any],
                     partner: str) -> Dict[str, Any]:
    """The partner's side: python-jose with our JWK Set."""
    return jose_jwt.decode(token, jwks, algorithms=["ES256"],
                           audience=partner, issuer=ISSUER)


def register_partner(client: keyward.Client, partner: str,
                     public_key_pem: bytes) -> None:
    """Imports the partner's EC P-256 public key as a public-only JWT key."""
    client.import_key(public_key_pem, "PUBLIC_KEY_PEM",
                      key_id=partner_key_id(partner), key_type="ECDSA_P256",
                      purpose="JWT")


def accept(client: keyward.Client, partner: str, token: str
           ) -> Dict[str, Any]:
    """Verifies a partner-signed token in Keyward, pinned to the partner's
    key and addressed to us. Errors: keyward.jwt.InvalidTokenError family."""
    return keyward.jwt.decode(token, partner_key_id(partner),
                              audience="our-service", issuer=partner,
                              client=client)


def main() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None)
    args = parser.parse_args()
    with keyward.Client(args.target) as client:
        ensure_our_key(client)
        token = issue(client, "acme", "orders:read")
        print(json.dumps(partner_verifies(token, published_jwks(client),
                                          "acme")))
        partner_key = ec.generate_private_key(ec.SECP256R1())
        register_partner(client, "acme", partner_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))
        pem = partner_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        theirs = jose_jwt.encode({"iss": "acme", "aud": "our-service",
                                  "sub": "acme-batch", "exp": 2**31 - 1},
                                 pem.decode(), algorithm="ES256")
        print(json.dumps(accept(client, "acme", theirs)))


if __name__ == "__main__":
    main()
