"""gunicorn's logger class for Switchboard's web processes (gunicorn_conf.logger_class).

Its own module: gunicorn_conf sets up the environment when imported, this does not."""

from gunicorn import glogging

from switchboard.observability.logging import JsonFormatter


class Logger(glogging.Logger):
    """gunicorn's logger, building no access-log line unless one is asked for
    (--access-logfile). With logconfig_dict set, gunicorn builds every request's access-log
    fields and hands them to a logger that prints nothing: ~4% of a worker's time on the
    ingest benchmark."""

    def setup(self, cfg):
        super().setup(cfg)
        # gunicorn gives an access log asked for (--access-logfile), or syslog, a plain-text
        # handler of its own, outside logconfig_dict: its request line would carry the URL
        # token and query string. Every handler of gunicorn's loggers writes our masked JSON.
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not isinstance(handler.formatter, JsonFormatter):
                    handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)
