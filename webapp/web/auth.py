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
from ..services import accounts
from .forms import EmptyForm, LoginForm, RegisterForm

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


@bp.route("/register", methods=["GET", "POST"])
@login_limited
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register(form.email.data, form.password.data)
        except accounts.AccountError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            _log_in(user)
            flash("Welcome to Reelay! Your account is ready.", "success")
            return redirect(url_for("main.index"))
    return render_template("auth/register.html", form=form), 200 if not form.errors else 422


@bp.route("/login", methods=["GET", "POST"])
@login_limited
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append("Wrong email or password.")
        else:
            _log_in(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 422


@bp.post("/logout")
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        accounts.end_session(current_user.session_token if current_user.is_authenticated else None)
        logout_user()
        session.clear()
        flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
