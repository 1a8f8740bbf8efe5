"""Register, log in, log out."""

from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import login_manager
from ..htmx_utils import is_htmx
from ..models import User
from ..ratelimits import login_limited
from ..services import accounts, login_throttle, recovery, signup
from .forms import EmptyForm, ForgotForm, LoginForm, RegisterForm, ResetForm

bp = Blueprint("auth", __name__)


def init_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(session_token: str):
        return accounts.user_for_session(session_token)

    @login_manager.unauthorized_handler
    def unauthorized():
        # htmx would follow a 302 and swap the login page into a fragment.
        if is_htmx():
            return "", 401, {"HX-Redirect": url_for("auth.login")}
        flash(login_manager.login_message, "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    """Only same-site absolute paths: never an open redirect. ``////evil.example`` has no
    netloc for urlsplit, but Werkzeug collapses the slashes to ``//evil.example``, which a
    browser reads as another site, so any doubled leading slash is refused too."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and "\\" not in target
            and not any(ch in target for ch in "\r\n\t")
        ):
            return target
    return url_for("main.index")


def _log_in(user: User, remember: bool = False) -> None:
    """A fresh session: nothing from before the login (CSRF token included) carries over,
    and the cookie names a server-side session row that logout deletes."""
    session.clear()
    accounts.start_session(user, request.headers.get("User-Agent"))
    login_user(user, remember=remember)


def _page(template: str, form, status: int = 200, **context):
    return render_template(template, form=form, **context), status


def _register_context(form) -> dict:
    invite = signup.find_invite(form.invite.data) if form.invite.data else None
    return {
        "policy": signup.policy(),
        "bootstrap": not signup.has_admin(),
        "invite": invite,
        "invite_given": bool(form.invite.data),
        "descriptions": signup.DESCRIPTIONS,
    }


@bp.route("/register", methods=["GET", "POST"])
@login_limited
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    if request.method == "GET":
        form.invite.data = request.args.get("invite", "")[:100]
    if form.validate_on_submit():
        try:
            user = accounts.register(form.email.data, form.password.data, form.invite.data or None)
        except accounts.AccountError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            if not user.approved:
                flash(
                    "Thanks! An admin needs to approve your account; you can log in once they have.",
                    "info",
                )
                return redirect(url_for("auth.login"))
            _log_in(user)
            if user.is_admin:
                flash(
                    "Welcome to Reelay! You are the first user, so you are the admin: "
                    "Admin → Providers and Users are yours to set up.",
                    "success",
                )
            else:
                flash("Welcome to Reelay! Your account is ready.", "success")
            return redirect(url_for("main.index"))
    return _page(
        "auth/register.html", form, 200 if not form.errors else 422, **_register_context(form)
    )


@bp.route("/login", methods=["GET", "POST"])
@login_limited
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        address = request.remote_addr
        wait = login_throttle.wait_seconds(form.email.data, address)
        if wait:
            return too_many(wait, form)
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.AccountError as exc:
            if exc.code == "invalid_credentials":
                login_throttle.failed(form.email.data, address)
            getattr(form, exc.field).errors.append(exc.message)
        else:
            login_throttle.succeeded(form.email.data, address)
            _log_in(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return _page("auth/login.html", form, 200 if not form.errors else 422, **_login_context())


def _login_context() -> dict:
    return {"policy": signup.policy(), "self_service": recovery.self_service_available()}


# Forms whose page is shown again, filled in, when their rate limit is hit.
LIMITED_FORMS = {
    "auth.login": (LoginForm, "auth/login.html"),
    "auth.register": (RegisterForm, "auth/register.html"),
    "auth.forgot": (ForgotForm, "auth/forgot.html"),
}


def too_many(retry_after: int, form=None):
    """The form again, as typed (passwords excepted), saying how long to wait."""
    form_class, template = LIMITED_FORMS[request.endpoint]
    form = form or form_class()
    wait = _say_seconds(retry_after)
    target = form.email if hasattr(form, "email") else None
    if target is not None:
        target.errors = [*target.errors, f"Too many attempts; try again in {wait}."]
    context = _register_context(form) if template == "auth/register.html" else _login_context()
    body = render_template(template, form=form, retry_after=retry_after, **context)
    return body, 429, {"Retry-After": str(int(retry_after))}


def _say_seconds(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


@bp.route("/forgot", methods=["GET", "POST"])
@login_limited
def forgot():
    form = ForgotForm()
    sent = False
    if form.validate_on_submit():
        recovery.request_link(form.email.data)
        sent = True
    return _page(
        "auth/forgot.html",
        form,
        200 if not form.errors else 422,
        sent=sent,
        self_service=recovery.self_service_available(),
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@login_limited
def reset(token: str):
    link = recovery.find(token)
    form = ResetForm()
    if link is not None and form.validate_on_submit():
        try:
            recovery.reset(token, form.new_password.data, form.revoke_tokens.data)
        except accounts.AccountError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash(
                "Your password was changed and every browser was signed out. Log in again.",
                "success",
            )
            return redirect(url_for("auth.login"))
    status = 410 if link is None else (422 if form.errors else 200)
    return _page("auth/reset.html", form, status, valid=link is not None)


@bp.post("/logout")
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        accounts.end_session(current_user.session_token if current_user.is_authenticated else None)
        logout_user()
        session.clear()
        flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
