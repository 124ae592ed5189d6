"""The demo behind ``make demo``: the whole loop on generated data, with only the embedded defaults.

``story`` trains, gates, promotes, rolls back and monitors; ``alerting`` carries the story on into alerts.
"""

from shipyard.demo.story import make_transactions, run_demo

__all__ = ["make_transactions", "run_demo"]
