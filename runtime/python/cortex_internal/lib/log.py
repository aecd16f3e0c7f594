"""Cortex 0.33's documented predictor logger:

    from cortex_internal.lib.log import logger as cortex_logger
    cortex_logger.info("received payload", extra={"size": 3})

Its records go through the worker's JSON logging (cortex_logging.py): one line with the level,
the API, the request id being served and the `extra` fields, filtered by predictor.log_level.
"""

import logging

logger = logging.getLogger("cortex")


def configure_logger(name=None, config_file=None):
    """Cortex configured its logger from a YAML file; here the worker already did: the logger."""
    return logger


def retrieve_logger(name=None, config_file=None):
    return logger
