"""Upstream's logging helpers used the way its modules use them: the one-line helpers, an app logger from
`get_logger`, a class with the InfoContext/DebugContext mixins, and levels changed while running."""

from autonomy import (
    DebugContext,
    InfoContext,
    Node,
    debug,
    error,
    get_logger,
    info,
    set_log_level,
    set_log_levels,
    warning,
)

logger = get_logger("main")


class Catalogue(InfoContext, DebugContext):
    def __init__(self):
        self.logger = get_logger("catalogue")

    def load(self):
        with self.info("Loading the catalogue", "Loaded the catalogue"):
            pass
        with self.debug("Indexing the catalogue", "Indexed the catalogue"):
            pass

    def fail(self):
        with self.info("Reloading the catalogue", "Reloaded the catalogue"):
            raise ValueError("the catalogue is gone")


async def main(node):
    info("helper info")
    debug("helper debug")
    warning("helper warning")
    error("helper error")
    logger.debug("main debug")
    logger.info("main info")
    catalogue = Catalogue()
    catalogue.load()
    try:
        catalogue.fail()
    except ValueError:
        print("RAISED", flush=True)
    set_log_level("main", "ERROR")
    logger.warning("main warning while at ERROR")
    set_log_levels("DEBUG")  # a new spec replaces the old one: main follows the default again
    logger.debug("main debug after the new spec")
    debug("helper debug after the new spec")
    print("DONE", flush=True)


Node.start(main)
