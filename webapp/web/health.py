from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.get("/health")
@limiter.exempt
def health():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure means "down"; details go to the log
        db.session.rollback()
        database = "unavailable"
    ok = database == "ok"
    return jsonify(status="ok" if ok else "degraded", database=database), 200 if ok else 503
