"""Seed flow (a): a FastAPI service whose POST /login checks a password and
signs an HS256 token, and whose other routes accept only a valid bearer
token. Before Keyward the HS256 secret sat in the service's environment;
now it is an HMAC_SHA256 JWT key inside keywardd, which signs (SignJwt) and
verifies (VerifyJwt); the service never holds it.

    python3 fastapi_login.py --target unix:///run/keyward/keyward.sock --port 8000

Needs python3-fastapi and python3-uvicorn. Uses only keyward's public API
(keyward.aio.Client, keyward.jwt, keyward.fastapi).
"""

import argparse
import hashlib
import hmac
import os
from typing import Dict

import fastapi
import pydantic

import keyward
import keyward.aio
import keyward.fastapi
import keyward.jwt

KEY = "login-hs256"
AUDIENCE = "web"
TTL = 900


def hash_password(password: str, salt: bytes = b"") -> str:
    """"salt$hash" with PBKDF2-SHA256 (the user store's format)."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
    return salt.hex() + "$" + digest.hex()


def check_password(stored: str, password: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(stored,
                               hash_password(password, bytes.fromhex(salt)))


def ensure_key(client: keyward.Client) -> None:
    """Creates the HS256 JWT key once (an admin step, sync client)."""
    try:
        client.get_key(KEY)
    except keyward.NotFoundError:
        client.create_key(KEY, "HMAC_SHA256", "JWT", description="login tokens")


class Credentials(pydantic.BaseModel):
    username: str
    password: str


def create_app(target: str, users: Dict[str, str]) -> fastapi.FastAPI:
    """The app; `users` maps a user name to hash_password()'s output. The
    keyward.aio.Client is made on startup, in the server's event loop."""
    app = fastapi.FastAPI()
    state: Dict[str, keyward.aio.Client] = {}
    bearer = keyward.fastapi.BearerClaims(KEY, audience=AUDIENCE,
                                          client=lambda: state["client"])

    @app.on_event("startup")
    async def connect() -> None:
        state["client"] = keyward.aio.Client(target)

    @app.on_event("shutdown")
    async def disconnect() -> None:
        await state["client"].close()

    @app.post("/login")
    async def login(body: Credentials) -> Dict[str, object]:
        stored = users.get(body.username)
        if stored is None or not check_password(stored, body.password):
            raise fastapi.HTTPException(401, "unknown user or wrong password")
        token = await keyward.jwt.encode(
            {"sub": body.username, "aud": AUDIENCE}, key=KEY, ttl=TTL,
            client=state["client"])
        return {"access_token": token, "token_type": "bearer",
                "expires_in": TTL}

    @app.get("/me")
    async def me(claims: dict = fastapi.Depends(bearer)) -> Dict[str, str]:
        return {"user": claims["sub"]}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with keyward.Client(args.target) as admin:
        ensure_key(admin)
    users = {"alice": hash_password("correct horse")}
    uvicorn.run(create_app(admin.target, users), host="127.0.0.1",
                port=args.port)


if __name__ == "__main__":
    main()
