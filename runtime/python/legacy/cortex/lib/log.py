"""The loggers older Cortex versions' examples imported (`from cortex.lib.log import get_logger`,
`cx_logger()`, `from cortex.lib.log import cx_logger as logger`), all one logger that writes
through the worker's JSON logging, as cortex_internal.lib.log does."""

from cortex_internal.lib.log import logger


def get_logger():
    return logger


class _LoggerFunction:
    """cx_logger was a function returning the logger in some versions and used as the logger
    itself (`cx_logger as logger; logger.info(...)`) elsewhere: both work."""

    def __call__(self):
        return logger

    def __getattr__(self, name):
        return getattr(logger, name)


cx_logger = _LoggerFunction()


def refresh_logger(*args, **kwargs):
    """Cortex replaced its logger per predictor; here there is one."""


def debug_obj(name, payload, debug):
    if debug:
        logger.info(f"{name}: {payload!r:.75}")
