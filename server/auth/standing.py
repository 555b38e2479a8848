"""Does a credential issued earlier still stand? One check for every kind of them.

Every credential given to a user - an access or refresh token, an ODK session token
(``POST /v1/sessions``), a page session - records the user's ``token_generation`` when it
was issued. Deactivating the user, changing or resetting the password, changing the role or
the unit bumps the generation (``server.auth.accounts``), so each older credential is refused
here, wherever it is presented, by every worker: the generation lives in the database.
"""

from __future__ import annotations

from server.models import User
from server.store import accounts as store


def standing_user(user_id: int, generation: int) -> User | None:
    """The user a credential of ``generation`` names, if active and nothing ended it since."""
    return still_standing(store.get_user_by_id(user_id), generation)


def still_standing(user: User | None, generation: int) -> User | None:
    """``user``, if it exists, is active and its credentials of ``generation`` were not ended."""
    if user is None or not user.active or user.token_generation != generation:
        return None
    return user
