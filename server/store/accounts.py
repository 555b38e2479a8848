"""SQL for users, devices, refresh-token families and login failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from server.extensions import db
from server.models import Device, DeviceToken, LoginFailure, RefreshToken, User, WebSession


def get_user_by_username(username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def get_user_by_id(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def get_user_and_family_revoked(user_id: int, family_id: str) -> tuple[User | None, bool]:
    """The user ``user_id`` and whether refresh-token family ``family_id`` is revoked, in one statement.

    Checking a Bearer token needs both on every request; one round trip instead of two.
    """
    revoked = (
        select(RefreshToken.jti)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
        .exists()
    )
    row = db.session.execute(select(User, revoked.label("revoked")).where(User.id == user_id)).first()
    return (None, False) if row is None else (row[0], bool(row[1]))


def create_user(
    username: str,
    role: str,
    unit_code: str,
    password_hash: str,
    now: datetime,
    display_name: str | None = None,
) -> User:
    user = User(
        username=username,
        role=role,
        unit_code=unit_code,
        password_hash=password_hash,
        display_name=display_name,
        created_at=now,
        active=True,
    )
    db.session.add(user)
    db.session.flush()
    return user


@dataclass(frozen=True)
class RecentFailures:
    """A username's failed logins since some moment: everywhere, and from one address."""

    user_count: int
    user_latest: datetime | None
    pair_count: int
    pair_oldest: datetime | None


def summarise_recent_failures(username: str, address: str, since: datetime) -> RecentFailures:
    """One indexed read (username, at): the counts and times the throttle needs."""
    from_address = LoginFailure.address == address
    q = select(
        func.count(),
        func.max(LoginFailure.at),
        func.count().filter(from_address),
        func.min(LoginFailure.at).filter(from_address),
    ).where(LoginFailure.username == username[:80], LoginFailure.at > since)
    user_count, user_latest, pair_count, pair_oldest = db.session.execute(q).one()
    return RecentFailures(user_count, user_latest, pair_count, pair_oldest)


def record_failure(username: str, address: str, now: datetime) -> None:
    db.session.add(LoginFailure(username=username[:80], address=address[:64], at=now))


def clear_failures(username: str, address: str) -> None:
    """Forget a username's failures from one address (after a success from there)."""
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == address[:64])
    )


def create_refresh_token(
    jti: str, family_id: str, user_id: int, issued_at: datetime, expires_at: datetime
) -> None:
    db.session.add(
        RefreshToken(
            jti=jti, family_id=family_id, user_id=user_id, issued_at=issued_at, expires_at=expires_at
        )
    )


def get_refresh_token(jti: str) -> RefreshToken | None:
    return db.session.get(RefreshToken, jti)


def spend_refresh_token(jti: str, now: datetime) -> bool:
    """Mark a refresh token used; False when it was already spent or revoked.

    A single conditional UPDATE, so two workers refreshing the same token at once cannot
    both succeed: the database settles which one spent it.
    """
    result = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.spent_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(spent_at=now)
    )
    return result.rowcount == 1


def revoke_family(family_id: str, now: datetime) -> None:
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def get_device(device_id: str) -> Device | None:
    return db.session.get(Device, device_id)


def list_users() -> list[User]:
    return list(db.session.execute(select(User).order_by(User.username)).scalars())


def create_device_token(token_hash: str, user_id: int, label: str | None, now: datetime) -> DeviceToken:
    row = DeviceToken(token_hash=token_hash, user_id=user_id, label=label, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def get_active_device_token(token_hash: str) -> DeviceToken | None:
    """The unrevoked device token with this hash, or None."""
    q = select(DeviceToken).where(DeviceToken.token_hash == token_hash, DeviceToken.revoked_at.is_(None))
    return db.session.execute(q).scalar_one_or_none()


def get_device_token(token_id: int) -> DeviceToken | None:
    return db.session.get(DeviceToken, token_id)


def list_device_tokens() -> list[tuple[DeviceToken, str]]:
    """Every device token with its user's username, newest first."""
    q = (
        select(DeviceToken, User.username)
        .join(User, User.id == DeviceToken.user_id)
        .order_by(DeviceToken.created_at.desc(), DeviceToken.id.desc())
    )
    return [(row, username) for row, username in db.session.execute(q).all()]


def revoke_device_token(token_id: int, now: datetime) -> None:
    db.session.execute(
        update(DeviceToken)
        .where(DeviceToken.id == token_id, DeviceToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def get_first_account_time() -> datetime | None:
    """When the first account was made: the programme's start on this server."""
    return db.session.execute(select(func.min(User.created_at))).scalar_one()


def bump_token_generation(user: User) -> int:
    """End every credential issued to ``user`` so far; returns the new generation.

    One conditional-free UPDATE in the database (``+ 1`` there, not in Python), so two
    workers changing the same account at once both end what came before.
    """
    db.session.execute(
        update(User).where(User.id == user.id).values(token_generation=User.token_generation + 1)
    )
    db.session.refresh(user, ["token_generation"])
    return user.token_generation


def update_user(user: User, **values) -> None:
    """Set columns of ``user`` (role, unit_code, active, display_name, password_hash)."""
    for name, value in values.items():
        setattr(user, name, value)
    db.session.flush()


def create_web_session(key_hash: str, user: User, now: datetime, expires_at: datetime) -> None:
    db.session.add(
        WebSession(
            id=key_hash,
            user_id=user.id,
            generation=user.token_generation,
            created_at=now,
            expires_at=expires_at,
        )
    )


def get_live_web_session(key_hash: str, now: datetime) -> WebSession | None:
    """The page session with this key hash, unless it was ended or has expired."""
    q = select(WebSession).where(
        WebSession.id == key_hash, WebSession.ended_at.is_(None), WebSession.expires_at > now
    )
    return db.session.execute(q).scalar_one_or_none()


def end_web_session(key_hash: str, now: datetime) -> None:
    db.session.execute(
        update(WebSession)
        .where(WebSession.id == key_hash, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def delete_expired_web_sessions(now: datetime) -> None:
    """Sessions past their end serve no check any more (each login sweeps them)."""
    db.session.execute(delete(WebSession).where(WebSession.expires_at < now))
