"""Seed flow (c): a payment service that encrypts card data and carries it
in an RS256 token to the settlement service. Before Keyward it held an AES
key and an RSA private key; now the card data is envelope-encrypted
(keyward.envelope.encrypt_json: a data key from GenerateDataKey under an
AES-256-GCM key, bound to the order id as associated data) and the token
is signed by an RSA_2048 JWT key (RS256) inside keywardd.

    python3 payment.py --target unix:///run/keyward/keyward.sock

Uses only keyward's public API (keyward.Client, keyward.envelope,
keyward.jwt).
"""

import argparse
import json
from typing import Any, Dict

import keyward
import keyward.envelope
import keyward.jwt

CARD_KEY = "card-data"
TOKEN_KEY = "payment-rs256"
AUDIENCE = "settlement"
ISSUER = "payments"


def ensure_keys(client: keyward.Client) -> None:
    """Creates the two keys once (an admin step)."""
    for key, key_type, purpose, extra in (
            (CARD_KEY, "AES256_GCM", None, {}),
            (TOKEN_KEY, "RSA_2048", "JWT",
             {"algorithms": ["RSA_PKCS1_SHA256"]})):
        try:
            client.get_key(key)
        except keyward.NotFoundError:
            client.create_key(key, key_type, purpose, **extra)


def tokenize_card(client: keyward.Client, order_id: str,
                  card: Dict[str, Any]) -> str:
    """An RS256 token for `order_id` whose "card" claim is the envelope of
    the card data, bound to the order id."""
    blob = keyward.envelope.encrypt_json(client, CARD_KEY, card,
                                         associated_data=order_id.encode())
    return keyward.jwt.encode({"iss": ISSUER, "sub": order_id,
                               "aud": AUDIENCE, "card": blob.decode()},
                              key=TOKEN_KEY, ttl=300, client=client)


def settle(client: keyward.Client, token: str, order_id: str
           ) -> Dict[str, Any]:
    """The settlement side: verifies the token (RS256, audience, issuer) and
    opens the card data for `order_id`. Errors: keyward.jwt's
    InvalidTokenError family; keyward.InvalidArgumentError if the card
    data was made for another order."""
    claims = keyward.jwt.decode(token, TOKEN_KEY, audience=AUDIENCE,
                                issuer=ISSUER, client=client)
    if claims["sub"] != order_id:
        raise keyward.jwt.InvalidTokenError("SUBJECT_MISMATCH",
                                            "token is for another order")
    return keyward.envelope.decrypt_json(client, CARD_KEY,
                                         claims["card"].encode(),
                                         associated_data=order_id.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None)
    args = parser.parse_args()
    with keyward.Client(args.target) as client:
        ensure_keys(client)
        token = tokenize_card(client, "order-1001",
                              {"pan": "4111111111111111", "exp": "12/29"})
        print(token)
        print(json.dumps(settle(client, token, "order-1001")))


if __name__ == "__main__":
    main()
