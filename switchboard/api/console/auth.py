"""Console sign-in: the admin token, entered once, kept as a fingerprint in a signed session
cookie; every form carries a per-session CSRF token.

The sign-in form alone has none: there is no session yet to tie it to, and a forged sign-in
(login CSRF) needs the one admin token, which would already be everything an attacker
wants. The cookie is SameSite=Strict besides, so no other site's form is sent signed in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import wraps

from flask import abort, current_app, redirect, request, session, url_for


def _token() -> str | None:
    return current_app.extensions["switchboard"].settings.admin_token


def fingerprint(token: str) -> str:
    """Changing SWITCHBOARD_ADMIN_TOKEN signs every console session out."""
    return hmac.new(token.encode(), b"switchboard-console", hashlib.sha256).hexdigest()


def session_key(token: str) -> str:
    # Derived, not random: every gunicorn worker must accept every other worker's cookie.
    return hmac.new(token.encode(), b"switchboard-console-cookie", hashlib.sha256).hexdigest()


def sign_in(given: str) -> bool:
    token = _token()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return False
    session.clear()
    session["who"] = fingerprint(token)
    session["csrf"] = secrets.token_urlsafe(32)
    return True


def signed_in() -> bool:
    token = _token()
    who = session.get("who")
    return bool(token and who and hmac.compare_digest(who, fingerprint(token)))


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    given = request.form.get("csrf", "")
    if not hmac.compare_digest(given.encode(), csrf_token().encode()):
        abort(400, description="the form's CSRF token is missing or stale; reload the page")


def local(target: str | None, fallback: str) -> str:
    """A redirect target from a form or query string, if it is one of our own pages; else
    the fallback. Never an open redirect (`//host`, `https://host`, `/\\host`), and nothing
    a Location header cannot carry (a line break would be a 503 from werkzeug)."""
    if target and (target == "/console" or target.startswith("/console/")) \
            and "\\" not in target and target.isprintable() and " " not in target:
        return target
    return fallback


def required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not _token():
            abort(503, description="the console is off: set SWITCHBOARD_ADMIN_TOKEN")
        if not signed_in():
            return redirect(url_for("console.login", next=request.full_path))
        if request.method == "POST":
            check_csrf()
        return view(*args, **kwargs)

    return guarded
