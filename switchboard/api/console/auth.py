"""Console sign-in: the admin token, entered once, kept as a fingerprint in a signed session
cookie; every form carries a per-session CSRF token.

The cookie also holds a random session id whose hash is a row of console_sessions, checked
on every request: signing out deletes the row, so a copy of the cookie is worthless after
it in every process, and a row older than LIFETIME no longer counts however the cookie was
kept. The database is the only state web processes share, so it is where this lives.

The sign-in form alone has none: there is no session yet to tie it to, and a forged sign-in
(login CSRF) needs the one admin token, which would already be everything an attacker
wants. The cookie is SameSite=Strict besides, so no other site's form is sent signed in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from switchboard import clock
from switchboard.store import sessions as session_rows

LIFETIME = timedelta(hours=12)


def _token() -> str | None:
    return current_app.extensions["switchboard"].settings.admin_token


def fingerprint(token: str) -> str:
    """Changing SWITCHBOARD_ADMIN_TOKEN signs every console session out."""
    return hmac.new(token.encode(), b"switchboard-console", hashlib.sha256).hexdigest()


def session_key(token: str) -> str:
    # Derived, not random: every gunicorn worker must accept every other worker's cookie.
    return hmac.new(token.encode(), b"switchboard-console-cookie", hashlib.sha256).hexdigest()


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever this request came over HTTPS (as the
    WSGI server saw it: gunicorn takes X-Forwarded-Proto from --forwarded-allow-ips), so
    the same process serves plain-HTTP development and HTTPS production."""

    def get_cookie_secure(self, app) -> bool:
        return has_request_context() and request.is_secure


def _engine():
    return current_app.extensions["switchboard"].engine


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def sign_in(given: str) -> bool:
    token = _token()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return False
    sid = secrets.token_urlsafe(32)
    now = clock.now()
    with _engine().begin() as conn:
        # Sign-ins are few: clearing out the expired ones here keeps the table small.
        session_rows.remove_older(conn, now - LIFETIME)
        session_rows.add(conn, _key(sid), now)
    session.clear()  # a new id every sign-in: nothing fixed beforehand carries over
    session.permanent = True
    session["sid"] = sid
    session["who"] = fingerprint(token)
    session["csrf"] = secrets.token_urlsafe(32)
    return True


def sign_out() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        with _engine().begin() as conn:
            session_rows.remove(conn, _key(sid))
    session.clear()


def signed_in() -> bool:
    token = _token()
    who = session.get("who")
    sid = session.get("sid")
    if not (token and who and isinstance(sid, str)
            and hmac.compare_digest(who, fingerprint(token))):
        return False
    with _engine().connect() as conn:
        since = session_rows.signed_in_at(conn, _key(sid))
    return since is not None and clock.now() - since < LIFETIME


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
