"""Each user's copy of the entity lists, built from the records in their units.

Shared by the OpenRosa routes (a form's manifest and its ``<list>.csv`` attachments) and
Central's dataset routes. What goes in a list is decided in ``server/odk/entity_lists.py``;
the rows come from ``server/store/entity_lists.py``.
"""

from __future__ import annotations

from server.auth.current import actor_and_scope
from server.models import User
from server.odk.entity_lists import COMMUNES, STATUSES, UserList, build_csv, is_entity_list, list_name_of
from server.odk.forms import FormDefinition
from server.store import entity_lists as store


def build_user_list(user: User, name: str) -> UserList:
    """The list ``name`` as ``user``'s phone gets it: their units, what a form can act on."""
    scope = actor_and_scope(user)[1]
    if name == COMMUNES:
        return build_csv(COMMUNES, store.list_communes_in(scope))
    return build_csv(name, store.list_entity_rows(name, scope, STATUSES.get(name)))


def list_form_lists(form: FormDefinition, user: User) -> list[UserList]:
    """The per-user lists ``form`` reads, built for ``user`` (the manifest's entries)."""
    names = [name for name in (list_name_of(f) for f in form.csv_files) if name is not None]
    return [build_user_list(user, name) for name in dict.fromkeys(names)]


def manifest_entries(form: FormDefinition, user: User) -> list[tuple[str, str, bool]]:
    """``(filename, md5 hash, is_entity_list)`` of each per-user list of ``form``."""
    return [(lst.filename, lst.hash, is_entity_list(lst.name)) for lst in list_form_lists(form, user)]
