from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("tasks.new"))
    return render_template("home.html")


@bp.get("/login")
@bp.get("/register")
def short_auth_link():
    """The addresses people type: /login and /register live under /auth/."""
    target = "auth.login" if request.path == "/login" else "auth.register"
    return redirect(url_for(target, **request.args.to_dict()), 301)
