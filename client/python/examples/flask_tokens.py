"""Seed flow (b): a Flask token service that mints 90-second tokens keyed by
a transaction id, and a checkout route that accepts only such a token.
Keyward signs them with an ES256 JWT key and keeps a token record per
transaction (external_id), so a token can be looked up and revoked by its
transaction id; verification (VerifyJwt) reports a revoked token.

    python3 flask_tokens.py --target unix:///run/keyward/keyward.sock --port 8001

Needs python3-flask. Uses only keyward's public API (keyward.Client,
keyward.flask).
"""

import argparse
from typing import Any, Dict, Tuple

import flask

import keyward
import keyward.flask

KEY = "txn-tokens"
AUDIENCE = "checkout"
TTL = 90


def ensure_key(client: keyward.Client) -> None:
    """Creates the ES256 JWT key once (an admin step)."""
    try:
        client.get_key(KEY)
    except keyward.NotFoundError:
        client.create_key(KEY, "ECDSA_P256", "JWT",
                          description="transaction tokens")


def create_app(client: keyward.Client) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.errorhandler(404)
    def not_found(error: Any) -> Tuple[Dict[str, str], int]:
        return {"error": error.description}, 404

    @app.post("/transactions/<txn>/token")
    def mint(txn: str) -> Tuple[Dict[str, Any], int]:
        signed = client.sign_jwt(KEY, {"sub": txn, "aud": AUDIENCE}, ttl=TTL,
                                 external_id=txn, metadata={"kind": "txn"})
        return {"token": signed.token, "jti": signed.jti,
                "expires_in": TTL}, 201

    def record_of(txn: str) -> Any:
        """The transaction's token record; a 404 answer if it has none."""
        try:
            return client.get_token_record(external_id=txn, key=KEY)
        except keyward.NotFoundError:
            flask.abort(404, "no token for this transaction")

    @app.get("/transactions/<txn>/token")
    def lookup(txn: str) -> Any:
        record = record_of(txn)
        return {"jti": record.jti, "subject": record.subject,
                "revoked": record.HasField("revoke_time"),
                "revoke_reason": record.revoke_reason}

    @app.delete("/transactions/<txn>/token")
    def revoke(txn: str) -> Any:
        record = record_of(txn)
        client.revoke_token(record.jti, "cancelled by the shop")
        return {"revoked": record.jti}

    @app.post("/checkout")
    @keyward.flask.require_bearer(KEY, audience=AUDIENCE, client=client)
    def checkout() -> Dict[str, str]:
        return {"transaction": flask.g.keyward_claims["sub"], "status": "paid"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    client = keyward.Client(args.target)
    ensure_key(client)
    create_app(client).run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
