"""Who is calling: the Bearer token turned into a user, and role checks."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from server.auth import tokens
from server.auth.standing import still_standing
from server.errors import APIError
from server.models import User
from server.store import accounts as store
from server.store import units as unit_store
from sync.actors import Actor, Scope, resolve_scope, scope_of_unit
from sync.errors import ForbiddenError

ENDED = "The account is disabled, or its password or role changed since this token was issued; log in again."


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate_bearer(token: str, token_types: tuple[str, ...] = ("access",)) -> User:
    """The active user behind an access token (or another of ``token_types``); 401 otherwise."""
    claims = tokens.decode(token, token_types)
    try:
        user_id, generation = int(claims["sub"]), int(claims.get("gen", 0))
    except (TypeError, ValueError) as exc:
        raise APIError("unauthorized", "The token is not valid.") from exc
    # The user and its token family in one statement: this runs on every request.
    found, family_revoked = store.get_user_and_family_revoked(user_id, str(claims.get("fam", "")))
    user = still_standing(found, generation)
    if user is None:
        raise APIError("unauthorized", ENDED)
    if family_revoked:
        raise APIError("unauthorized", "This session was revoked; log in again.")
    g.token_claims = claims
    return user


def current_user() -> User:
    """The authenticated user of this request (cached on ``g``)."""
    user = getattr(g, "user", None)
    if user is None:
        token = bearer_token()
        if token is None:
            raise APIError("unauthorized")
        user = g.user = authenticate_bearer(token)
    return user


def actor_and_scope(user: User) -> tuple[Actor, Scope]:
    """The engine's actor for ``user`` and the units it sees: the one place either is made.

    The API, the pages, ODK intake and review all come here, so a user whose unit is unknown
    (deleted from the units table) is refused the same way everywhere: 403 ``forbidden``.
    Cached on ``g`` for the request.
    """
    cache = g.setdefault("actors", {})
    if user.id not in cache:
        actor = Actor(user_id=user.id, username=user.username, role=user.role, unit_code=user.unit_code)
        try:
            cache[user.id] = actor, resolve_scope(unit_store, actor)
        except ForbiddenError as exc:
            raise APIError("forbidden", f"{exc} Ask an admin to place your account in a unit.") from exc
    return cache[user.id]


def current_scope() -> Scope:
    """The units the Bearer token's user sees."""
    return actor_and_scope(current_user())[1]


def authorize(roles: tuple[str, ...]) -> User:
    """The signed-in user, refused (403) unless of one of ``roles`` (none = any role)."""
    user = current_user()
    if roles and user.role not in roles:
        raise APIError("forbidden")
    return user


def require_roles(*roles: str):
    """Authenticate, then refuse (403) a role not in ``roles``; no roles = any signed-in user.

    The roles are also kept on the view (``required_roles``), so ``authorize_before_parsing``
    can run the same check before flask-smorest reads the arguments.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            authorize(roles)
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorator


def authorize_before_parsing() -> None:
    """Run a view's ``require_roles`` check before anything reads the request.

    ``@blp.arguments`` wraps the view from outside, so without this an anonymous caller's bad
    body was answered 422 with the schema's field names before the view could say 401. Each
    decorator copies the one below's ``__dict__`` (``functools.wraps``), so the marker set by
    ``require_roles`` is visible on the outermost function. An app-wide ``before_request``:
    it runs before every blueprint's own (the push size check reads the body).
    """
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        view = getattr(view_class, method, None) or (
            getattr(view_class, "get", None) if method == "head" else None
        )
    roles = getattr(view, "required_roles", None)
    if roles is not None:
        authorize(roles)


def requested_unit(code: str | None) -> Scope | None:
    """The unit a query narrows to (``?unit=CODE``), as a scope; 404 unless inside the caller's.

    An unknown unit and a unit outside the caller's scope get the same answer, as records do.
    """
    if code is None:
        return None
    return unit_within(current_scope(), code)


def unit_within(scope: Scope, code: str) -> Scope:
    """The scope of unit ``code``, which must lie inside ``scope``; 404 otherwise."""
    unit = unit_store.get_unit(code)
    if unit is None or not scope.covers_unit(unit.code, unit.level, unit.parent_code):
        raise APIError("not_found", f"No unit {code} in your scope.")
    return scope_of_unit(unit_store, unit)
