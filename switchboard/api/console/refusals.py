"""How the console shows an operation's refusal (OperationError): here, once, for every view,
as the admin API answers it in one JSON shape and the CLI says it in one line.

A view raises and lets it come here; it only says, with a decorator, what its page looks
like refused:
- `@page(render)`: `render(error)` draws the view's own page again, the message above it
  and the form as it was sent, at the refusal's status (a list with a bad filter, a form
  with a bad field);
- `@back(target)`: an action posted from another page goes back to `target()` with the
  message, as it does with its news when it succeeds;
- neither: a page of its own saying what was refused, at its status (a thing that is not
  there, say).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, redirect, render_template, request
from werkzeug.http import HTTP_STATUS_CODES

from switchboard.operations.common import OperationError

ERROR = "error"  # the flash category base.html shows as an alert
_PAGE = "console_refused_page"
_BACK = "console_refused_back"


def page(render: Callable[[str], str]):
    """The view's page drawn again with `error` when its operation is refused."""
    def mark(view):
        setattr(view, _PAGE, render)
        return view

    return mark


def back(target: Callable[[], str]):
    """Where a refused action goes back to (the URL), with its message flashed."""
    def mark(view):
        setattr(view, _BACK, target)
        return view

    return mark


def show(exc: OperationError):
    """The console blueprint's handler for OperationError."""
    # Flask's own map from endpoint to view; functools.wraps (auth.required) carries the
    # marks over to the function registered there.
    view = current_app.view_functions.get(request.endpoint or "")
    error = exc.said()
    target = getattr(view, _BACK, None)
    if target is not None:
        flash(error, ERROR)
        return redirect(target())
    render = getattr(view, _PAGE, None)
    if render is not None:
        return render(error), exc.status
    return render_template("console/refused.html", error=error,
                           title=HTTP_STATUS_CODES.get(exc.status, "Refused")), exc.status
