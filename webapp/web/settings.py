"""The user's own settings: API tokens and password."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..domain import budgets as b
from ..services import accounts, budgets
from .forms import CapsForm, EmptyForm, PasswordForm, TokenForm

bp = Blueprint("settings", __name__)


@bp.before_request
@login_required
def _require_login():
    return None


def _page(token_form=None, password_form=None, new_token=None, status=200, caps_form=None):
    tokens = accounts.list_tokens(current_user)
    return (
        render_template(
            "settings/index.html",
            tokens=tokens,
            token_caps={t.id: budgets.token_caps(t) for t in tokens},
            standing=budgets.standing(current_user),
            cap_names=b.CAPS,
            token_form=token_form or TokenForm(prefix="token", formdata=None),
            caps_form=caps_form or CapsForm(prefix="tokcaps", formdata=None),
            password_form=password_form or PasswordForm(prefix="pw", formdata=None),
            revoke_form=EmptyForm(),
            new_token=new_token,
        ),
        status,
    )


@bp.get("/")
def index():
    return _page()


@bp.post("/tokens")
def create_token():
    form, caps_form = TokenForm(prefix="token"), CapsForm(prefix="tokcaps")
    if not all([form.validate_on_submit(), caps_form.validate_on_submit()]):
        return _page(token_form=form, caps_form=caps_form, status=422)
    days = int(form.expires.data) if form.expires.data else None
    caps = {k: v for k, v in caps_form.values().items() if v is not ... and v is not None}
    _token, clear = accounts.create_token(
        current_user, form.name.data, scope=form.scope.data, days=days, caps=caps
    )
    page, status = _page(new_token=clear)  # a fresh, empty form below the token
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not accounts.revoke_token(current_user, token_id):
        abort(404)
    flash("Token revoked. Programs using it can no longer sign in.", "success")
    return redirect(url_for("settings.index"))


@bp.post("/password")
def change_password():
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                revoke_tokens=form.revoke_tokens.data,
            )
        except accounts.AccountError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            flash(
                "Password changed; every other browser was signed out"
                + (" and your API tokens were revoked." if form.revoke_tokens.data else "."),
                "success",
            )
            return redirect(url_for("settings.index"))
    return _page(password_form=form, status=422)
