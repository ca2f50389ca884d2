"""Driving console forms through Flask's test client as a browser would: find the form by
its action in the page, send its hidden fields (the CSRF token among them) with ours."""

from __future__ import annotations

import html
import re

TOKEN = "adm_console_test_token"


def signed_in(app):
    client = app.test_client()
    assert client.post("/console/login", data={"token": TOKEN}).status_code == 302
    return client


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to `action`; AssertionError if none does."""
    for match in re.finditer(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page, re.S):
        if html.unescape(match.group(1)) == action:
            return {name: html.unescape(value) for name, value in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2))}
    raise AssertionError(f"no form posts to {action}")


def submit(client, page_path: str, action: str, **fields):
    """Open page_path, then post its form for `action` with these fields added."""
    page = client.get(page_path).get_data(as_text=True)
    return client.post(action, data=form_fields(page, action) | fields)
