"""``/api/v1/auth``: log in, refresh (rotating), log out."""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.auth import LogoutRequest, Me, RefreshRequest, TokenPair, TokenRequest
from schemas.users import PasswordChange
from server.auth import accounts, tokens
from server.auth.current import current_user, require_roles
from server.auth.logins import authenticate_password
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.store import accounts as store

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


def client_address() -> str:
    """The client's address, as throttling counts it.

    gunicorn does not rewrite ``REMOTE_ADDR`` from ``X-Forwarded-For`` (its
    ``--forwarded-allow-ips`` only concerns the scheme): behind nginx this is the client's
    address only because ``server.proxies`` applies the header of a ``TRUSTED_PROXIES`` peer,
    and ignores it from anyone else.
    """
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
        try:
            user = authenticate_password(body["username"], body["password"], client_address(), now)
        except APIError:
            db.session.commit()  # keep the failure just recorded: it counts towards throttling
            raise
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


@blp.route("/password")
class OwnPassword(MethodView):
    @blp.arguments(PasswordChange)
    @blp.response(200, TokenPair)
    @blp.alt_response(401, description="invalid_credentials: the current password is wrong")
    @blp.alt_response(422, description="validation_error: a new password shorter than 8 characters")
    @blp.alt_response(429, description="too_many_requests")
    @require_roles()
    def post(self, body):
        """Change your own password. Every token and page session issued before ends, this
        one too; the answer is a new login (a fresh access and refresh token)."""
        user, now = current_user(), utcnow()
        try:
            # The current password is a login: wrong guesses are throttled like any other.
            authenticate_password(user.username, body["current_password"], client_address(), now)
        except APIError:
            db.session.commit()
            raise
        accounts.set_password(
            accounts.Operator(user.username, user.id, "api"), user, body["new_password"], own=True
        )
        pair = tokens.issue_pair(user, now)
        db.session.commit()
        return pair


@blp.route("/me")
class CurrentUser(MethodView):
    @blp.response(200, Me)
    @require_roles()
    def get(self):
        """The signed-in user."""
        return current_user()
