"""The WSGI module gunicorn loads: the app, and its start-up objects frozen out of the
collector's full passes."""

import subprocess
import sys

PROBE = "import gc, switchboard.wsgi; print(gc.get_freeze_count())"


def test_loading_the_app_freezes_what_start_up_built(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    # Flask, SQLAlchemy and the vendors' tables: tens of thousands of objects.
    assert int(done.stdout.strip().splitlines()[-1]) > 20_000


def test_a_configuration_error_stops_start_up_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}",
           "SWITCHBOARD_RETRY_SCHEDULE": "soon"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("switchboard: configuration error:")
    assert "RETRY_SCHEDULE" in done.stderr
