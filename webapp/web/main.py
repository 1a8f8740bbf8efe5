from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated and "tasks.new" in current_app.view_functions:
        return redirect(url_for("tasks.new"))
    return render_template("home.html")
