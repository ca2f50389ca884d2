"""gunicorn settings for Switchboard's web processes.

`gunicorn wsgi:app` run from the repository root reads them through ./gunicorn.conf.py;
`switchboard serve` passes them as `-c python:switchboard.gunicorn_conf`. Command-line
flags win over every value here.
"""

import multiprocessing
import os
import shutil
import tempfile

wsgi_app = "switchboard.wsgi:app"


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this container may use
    except AttributeError:
        return multiprocessing.cpu_count()


# One sync worker per CPU: on the 2-core machines of shared/PERFORMANCE.md, sync -w2 beat
# both -w4 (oversubscribed) and gthread (SQLite lock contention between threads).
workers = int(os.environ.get("WEB_CONCURRENCY") or _cpus())
worker_class = "sync"
# A callback is answered in milliseconds; one busy for 30 s is stuck (the database pool
# gives up after 10 s, SQLite's busy timeout after 5 s), so its worker is replaced.
timeout = 30
graceful_timeout = 30
# Our JSON line per request (switchboard.observability.http) replaces the access log; one
# asked for (--access-logfile) is written as masked JSON too (see the logger class).
accesslog = None
# ...and builds no access-log fields for nothing (see the class).
logger_class = "switchboard.observability.gunicorn_logger.Logger"
errorlog = "-"
loglevel = "info"
# gunicorn's own lines (boot, refused requests, worker timeouts and kills) in the same
# masked JSON as ours, so one parser reads the whole stream and no URL token or secret is in
# it; the app replaces the root handler with its own in workers.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "switchboard.observability.logging.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"],
                                   "propagate": False}},
}

# Prometheus multiprocess mode: every worker writes its counters to files in this folder
# and a scrape of any worker adds them all up. It must be in the environment before the
# workers import prometheus_client, hence here and not in the app.
_created_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_metrics_dir = tempfile.mkdtemp(prefix="switchboard-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_dir
else:
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
