"""``/api/v1/units`` and ``/api/v1/users``: what the caller's scope holds."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.units import UnitOut, UnitQuery, UserOut
from server.auth.current import current_scope, require_roles
from server.store import units as unit_store
from server.store.accounts import list_users
from sync.lifecycles import MANAGE_UNITS, roles_for

blp = Blueprint("units", __name__, url_prefix="/api/v1", description="Administrative units and users")


@blp.route("/units")
class Units(MethodView):
    @blp.arguments(UnitQuery, location="query")
    @blp.response(200, UnitOut(many=True))
    @require_roles()
    def get(self, args):
        """The administrative units inside the caller's scope, in code order."""
        scope = current_scope()
        return [
            u
            for u in unit_store.list_units(args.get("level"))
            if scope.covers_unit(u.code, u.level, u.parent_code)
        ]


@blp.route("/users")
class Users(MethodView):
    @blp.response(200, UserOut(many=True))
    @require_roles(*roles_for(MANAGE_UNITS))
    def get(self):
        """Every account (admins and supervisors only); passwords are never returned."""
        return list_users()
