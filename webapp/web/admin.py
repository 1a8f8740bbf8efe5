"""Admin pages: users (providers and stats live in their own modules)."""

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..domain.validation import ValidationError
from ..extensions import db
from ..htmx_utils import render
from ..models import Provider, User
from ..models.users import ROLE_ADMIN, ROLE_USER
from ..providers import base as pb
from ..read_only import read_only
from ..services import accounts, budgets, catalog, health, history, recovery, signup, stats
from .auth import admin_required
from .downloads import csv_download
from .forms import CapsForm, EmptyForm, InviteForm, ProviderForm, SignupPolicyForm

bp = Blueprint("admin", __name__)


@bp.before_request
@admin_required
def _require_admin():
    return None


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


def _users_page(status: int = 200, **shown):
    users = accounts.list_users()
    user_forms = shown.pop("user_forms", {})
    for u in users:
        if u.id not in user_forms:
            user_forms[u.id] = CapsForm(
                prefix=f"u{u.id}", formdata=None, data=CapsForm.shown(u.caps or {})
            )
    defaults = budgets.defaults()
    return (
        render_template(
            "admin/users.html",
            users=users,
            usage=budgets.usage_by_user([u.id for u in users]),
            caps_of=budgets.caps_for,
            user_forms=user_forms,
            defaults_form=shown.pop("defaults_form", None)
            or CapsForm(prefix="defaults", formdata=None, data=CapsForm.shown(defaults)),
            pending=signup.pending_users(),
            invites=signup.open_invites(),
            policy=signup.policy(),
            policy_source=signup.policy_source(),
            descriptions=signup.DESCRIPTIONS,
            policy_form=shown.pop("policy_form", None) or SignupPolicyForm(policy=signup.policy()),
            invite_form=shown.pop("invite_form", None) or InviteForm(),
            form=EmptyForm(),
            **shown,
        ),
        status,
    )


@bp.get("/users")
def users():
    return _users_page()


ACTIONS = {
    "approve": ("approved", lambda uid: signup.approve(uid)),
    "activate": ("activated", lambda uid: accounts.set_active(uid, True)),
    "deactivate": ("deactivated", lambda uid: accounts.set_active(uid, False)),
    "promote": ("made an admin", lambda uid: accounts.set_role(uid, ROLE_ADMIN)),
    "demote": ("is no longer an admin", lambda uid: accounts.set_role(uid, ROLE_USER)),
}


@bp.post("/users/<int:user_id>")
def update_user(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    action = request.form.get("action")
    if user_id == current_user.id and action in ("deactivate", "demote", "reject"):
        flash("You cannot deactivate, demote or remove yourself.", "error")
        return redirect(url_for("admin.users"))
    target = accounts.get_user(user_id)
    if target is None:
        abort(404)
    if action == "reject":
        signup.reject(user_id)
        flash(f"The sign-up of {target.email} was rejected and removed.", "success")
        return redirect(url_for("admin.users"))
    if action == "reset_link":
        link = recovery.issue(target, created_by=current_user)
        return _users_page(reset_link=link, reset_for=target.email)
    if action not in ACTIONS:
        abort(400)
    said, run = ACTIONS[action]
    user = run(user_id)
    flash(f"{user.email} {said}.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/caps")
def default_caps():
    form = CapsForm(prefix="defaults")
    if not form.validate_on_submit():
        return _users_page(422, defaults_form=form)
    budgets.set_defaults({k: v for k, v in form.values().items() if v is not ...})
    flash(
        "Default budgets and quotas saved; they apply to every user without their own.", "success"
    )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/caps")
def user_caps(user_id: int):
    target = accounts.get_user(user_id) or abort(404)
    form = CapsForm(prefix=f"u{user_id}")
    if not form.validate_on_submit():
        return _users_page(422, user_forms={user_id: form})
    budgets.set_user_caps(target, form.values())
    flash(f"Budgets and quotas of {target.email} saved.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/policy")
def signup_policy():
    form = SignupPolicyForm()
    if not form.validate_on_submit():
        return _users_page(422, policy_form=form)
    signup.set_policy(form.policy.data)
    flash(f"Sign-up policy set to “{form.policy.data}”.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/invites")
def create_invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return _users_page(422, invite_form=form)
    _row, token = signup.create_invite(current_user, form.note.data)
    link = url_for("auth.register", invite=token, _external=True)
    return _users_page(invite_link=link)


@bp.post("/users/invites/<int:invite_id>/revoke")
def revoke_invite(invite_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    signup.revoke_invite(invite_id)
    flash("Invite revoked: its link no longer works.", "success")
    return redirect(url_for("admin.users"))


# ---- providers --------------------------------------------------------------------------


def _provider_form(provider=None, **kwargs) -> ProviderForm:
    kinds = {"kinds": catalog.KINDS, "options": catalog.EXTRA_OPTIONS}
    if provider is not None and request.method == "GET":
        return ProviderForm.of(provider, **kinds)
    return ProviderForm(**kinds, **kwargs)


def _provider_page(form, provider=None, status=200):
    return render_template("admin/provider_form.html", provider=provider, form=form), status


# The Add form starts from the OpenAI Videos shape that most gateways (new-api, LiteLLM) speak.
NEW_PROVIDER = {
    "kind": "openai",
    "path_prefix": "/v1",
    "auth_style": "bearer",
    "enabled": True,
    "priority": 100,
    "weight": 1,
    "max_rps": 10,
    "price_per_second": 0.1,
    "model_map": json.dumps(
        {
            "sora_video2": {
                "upstream": "sora-2",
                "size": "1280x720",
                "aspect_ratio": "16:9",
                "seconds": 8,
            }
        },
        indent=2,
    ),
    "sizes": "1280x720, 720x1280",
    "seconds_options": "4, 8, 12",
}


@bp.get("/providers")
def providers():
    rows = catalog.all_providers()
    return render_template(
        "admin/providers.html",
        providers=rows,
        health=health.report([p.id for p in rows]),
        form=EmptyForm(),
        key_set=catalog.api_key,
        caps=catalog.capabilities,
        can_sync=catalog.can_sync_models,
    )


@bp.route("/providers/new", methods=["GET", "POST"])
def provider_new():
    if request.method == "GET":
        return _provider_page(_provider_form(data=NEW_PROVIDER))
    return _save_provider(None)


@bp.route("/providers/<int:provider_id>", methods=["GET", "POST"])
def provider_edit(provider_id: int):
    provider = db.session.get(Provider, provider_id) or abort(404)
    if request.method == "GET":
        return _provider_page(_provider_form(provider), provider)
    return _save_provider(provider)


def _save_provider(provider):
    form = _provider_form()
    form.validate()  # what cannot even be parsed; the service checks the rest
    if form.csrf_failed:
        abort(400)
    try:
        saved = catalog.save_provider(form.provider_data(), provider, form.field_errors())
    except ValidationError as exc:
        db.session.rollback()
        form.add_errors(exc.errors)
        return _provider_page(form, provider, 422)
    flash(f"Provider “{saved.name}” saved.", "success")
    return redirect(url_for("admin.providers"))


@bp.post("/providers/<int:provider_id>/toggle")
def provider_toggle(provider_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    provider = db.session.get(Provider, provider_id) or abort(404)
    catalog.set_enabled(provider.id, not provider.enabled)
    flash(f"{provider.name} {'enabled' if provider.enabled else 'disabled'}.", "success")
    return redirect(url_for("admin.providers"))


@bp.post("/providers/<int:provider_id>/reset-circuit")
def provider_reset_circuit(provider_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    provider = db.session.get(Provider, provider_id) or abort(404)
    health.reset(provider.id)
    flash(f"Circuit of {provider.name} closed: new tasks may go to it again.", "success")
    return redirect(url_for("admin.providers"))


@bp.post("/providers/<int:provider_id>/test")
def provider_test(provider_id: int):
    provider = db.session.get(Provider, provider_id) or abort(404)
    result = catalog.test_connection(provider)
    return render_template("admin/_provider_check.html", provider=provider, result=result)


@bp.post("/providers/<int:provider_id>/sync-models")
def provider_sync_models(provider_id: int):
    provider = db.session.get(Provider, provider_id) or abort(404)
    try:
        updated, unmapped = catalog.sync_models(provider)
    except pb.ProviderError as exc:
        result = pb.CheckResult(False, False, None, f"Could not read the models: {exc.message}")
    else:
        note = f"Updated {', '.join(updated) or 'no mapped model'} from the provider's list."
        if unmapped:
            note += f" Also offered, not mapped: {', '.join(unmapped[:8])}."
        result = pb.CheckResult(True, True, True, note)
    return render_template("admin/_provider_check.html", provider=provider, result=result)


# ---- all tasks & stats ---------------------------------------------------------------------


@bp.get("/tasks")
@read_only
def tasks():
    query = history.parse_query(request.args)
    if request.args.get("format") == "csv":
        return csv_download(history.csv_rows(None, query), "reelay-all-tasks.csv")
    page = history.page_for(None, query)
    return render(
        "tasks/history.html",
        "partials/_history.html",
        page=page,
        query=query,
        filters=history.filter_choices(None),
        admin=True,
    )


@bp.get("/stats", endpoint="stats")
@read_only
def stats_():
    user_id = history.record_id(request.args.get("user"))
    report = stats.from_args(request.args, user_id)
    stats.spend(report, user_id)
    span = f"{report.date_from}-{report.date_to}"
    if request.args.get("format") == "spend-csv":
        return csv_download(stats.spend_csv(report), f"reelay-spend-{span}.csv")
    if request.args.get("format") == "csv":
        return csv_download(stats.days_csv(report), f"reelay-stats-{span}.csv")
    users = db.session.execute(select(User.id, User.email).order_by(User.email)).all()
    args = stats.url_args(report, user=user_id)
    return render_template(
        "tasks/stats.html",
        report=report,
        scope="all",
        users=users,
        selected_user=user_id,
        filters=history.filter_choices(None),
        csv_url=url_for("admin.stats", format="spend-csv", **args),
        days_csv_url=url_for("admin.stats", format="csv", **args),
    )
