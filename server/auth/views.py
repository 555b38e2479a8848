"""``/api/v1/auth``: log in, refresh (rotating), log out."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.auth import LogoutRequest, Me, RefreshRequest, TokenPair, TokenRequest
from server.auth import tokens
from server.auth.current import current_user, require_roles
from server.auth.passwords import verify_password
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.store import accounts as store

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


def client_address() -> str:
    # Behind a proxy, gunicorn's --forwarded-allow-ips makes remote_addr the real client.
    return request.remote_addr or "unknown"


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenPair)
    @blp.alt_response(401, description="invalid_credentials")
    @blp.alt_response(429, description="too_many_requests")
    def post(self, body):
        """Log in with username and password; returns an access and a refresh token."""
        now = utcnow()
        limit, window = current_app.config["LOGIN_MAX_FAILURES"], current_app.config["LOGIN_FAILURE_WINDOW"]
        username, address = body["username"], client_address()
        if (
            store.count_recent_failures(now, window, username=username) >= limit
            or store.count_recent_failures(now, window, address=address) >= limit * 4
        ):
            oldest = store.oldest_recent_failure(now, window, username, address) or now
            retry_after = max(1, int(window - (now - oldest).total_seconds()))
            raise APIError(
                "too_many_requests",
                details={"retry_after": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
        user = store.get_user_by_username(username)
        if not verify_password(user.password_hash if user else None, body["password"]) or not user.active:
            store.record_failure(username, address, now)
            db.session.commit()
            raise APIError("invalid_credentials")
        store.clear_failures(username)
        pair = tokens.issue_pair(user, now)
        db.session.commit()
        return pair


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshRequest)
    @blp.response(200, TokenPair)
    @blp.alt_response(401, description="unauthorized")
    def post(self, body):
        """Trade a refresh token for a new pair; the old refresh token is spent."""
        try:
            pair = tokens.rotate(body["refresh_token"], utcnow())
        except APIError:
            db.session.commit()  # keep the family revocation a reuse triggered
            raise
        db.session.commit()
        return pair


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(LogoutRequest)
    @blp.response(204)
    @require_roles()
    def post(self, body):
        """Revoke the caller's refresh-token family (every device session of this login)."""
        current_user()
        store.revoke_family(g.token_claims["fam"], utcnow())
        db.session.commit()


@blp.route("/me")
class CurrentUser(MethodView):
    @blp.response(200, Me)
    @require_roles()
    def get(self):
        """The signed-in user."""
        return current_user()
