"""``/api/v1/units``: the administrative units the caller's scope holds."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.units import UnitOut, UnitQuery
from server.auth.current import current_scope, require_roles
from server.store import units as unit_store

blp = Blueprint("units", __name__, url_prefix="/api/v1", description="Administrative units")


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
