"""keyward.flask: a Flask view decorator that verifies the request's bearer
token through Keyward (needs Debian's python3-flask; imported only when
this module is).

    import flask, keyward, keyward.flask

    client = keyward.Client()
    app = flask.Flask(__name__)

    @app.get("/pay")
    @keyward.flask.require_bearer("payment-tokens", audience="pay",
                                  client=client)
    def pay():
        return {"sub": flask.g.keyward_claims["sub"]}

The view runs with the token's claims in flask.g.keyward_claims. Otherwise
the answer is JSON: 401 with WWW-Authenticate (RFC 6750) for a missing
header or an invalid token (the daemon's reason, e.g. "EXPIRED", in
error_description), 503 when Keyward is unreachable or overloaded, 500 for
any other failed call; see keyward._bearer. Use a sync keyward.Client.
"""

import functools
from typing import Any, Callable, Optional

import flask

from keyward import _bearer
from keyward.errors import KeywardError
from keyward.jwt import InvalidTokenError


def require_bearer(key: Optional[str] = None, *,
                   audience: Optional[str] = None,
                   issuer: Optional[str] = None, leeway: Any = None,
                   typ: Optional[str] = None,
                   client: Any = None) -> Callable[[Callable], Callable]:
    """The decorator (see the module). Arguments as keyward.jwt.decode();
    client: a keyward.Client or a callable returning one."""
    verifier = _bearer.Verifier(key, audience=audience, issuer=issuer,
                                leeway=leeway, typ=typ, client=client)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                token = _bearer.bearer_token(
                    flask.request.headers.get("Authorization"))
                flask.g.keyward_claims = verifier.decode(token)
            except (InvalidTokenError, KeywardError) as e:
                return _bearer.answer(_bearer.refusal(e))
            except _bearer.BearerRefused as e:
                return _bearer.answer(e)
            return view(*args, **kwargs)
        return wrapper
    return decorate
