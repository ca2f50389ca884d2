"""gunicorn's logger class for Switchboard's web processes (gunicorn_conf.logger_class).

Its own module: gunicorn_conf sets up the environment when imported, this does not."""

from gunicorn import glogging


class Logger(glogging.Logger):
    """gunicorn's logger, building no access-log line unless one is asked for
    (--access-logfile). With logconfig_dict set, gunicorn builds every request's access-log
    fields and hands them to a logger that prints nothing: ~4% of a worker's time on the
    ingest benchmark."""

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)
