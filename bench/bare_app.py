"""The baseline for bench/ingest.py: a bare Flask app that answers an empty 200 to anything.

It is served by exactly the same gunicorn configuration as Switchboard, so the ratio of the
two measures what Switchboard itself costs, not the machine, gunicorn or Flask.
"""

from flask import Flask

app = Flask("bare")


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def ok(path: str):
    return "", 200
