"""The demo behind ``make demo``: the whole loop on generated data, with only the embedded defaults.

An interface like the rest of ``shipyard.cli``: it drives the services and prints with the CLI's renderers.
``story`` trains, gates, promotes, rolls back and monitors; ``alerting`` carries the story on into alerts;
``traffic`` makes the transactions and logs the predictions both chapters share.
"""

from shipyard.cli.demo.story import run_demo
from shipyard.cli.demo.traffic import make_transactions

__all__ = ["make_transactions", "run_demo"]
