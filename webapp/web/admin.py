"""Admin pages: users (providers and stats live in their own modules)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import User
from ..models.users import ROLE_ADMIN, ROLE_USER
from ..services import accounts
from .auth import admin_required
from .forms import EmptyForm

bp = Blueprint("admin", __name__)


@bp.before_request
@admin_required
def _require_admin():
    return None


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


@bp.get("/users")
def users():
    rows = db.session.scalars(select(User).order_by(User.id)).all()
    return render_template("admin/users.html", users=rows, form=EmptyForm())


@bp.post("/users/<int:user_id>")
def update_user(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    action = request.form.get("action")
    if user_id == current_user.id and action in ("deactivate", "demote"):
        flash("You cannot deactivate or demote yourself.", "error")
        return redirect(url_for("admin.users"))
    if action == "activate":
        user = accounts.set_active(user_id, True)
    elif action == "deactivate":
        user = accounts.set_active(user_id, False)
    elif action == "promote":
        user = accounts.set_role(user_id, ROLE_ADMIN)
    elif action == "demote":
        user = accounts.set_role(user_id, ROLE_USER)
    else:
        abort(400)
    if user is None:
        abort(404)
    flash(f"{user.email} updated.", "success")
    return redirect(url_for("admin.users"))
