"""How hard the standing fault-and-fuzz suite pushes: short in ``make test``, long in ``make reliability``.

``SHIPYARD_RELIABILITY=long`` (set by ``make reliability``) selects the long form.
"""

from __future__ import annotations

import os

LONG = os.environ.get("SHIPYARD_RELIABILITY") == "long"

#: Generated cases per schemathesis operation and per hypothesis property.
EXAMPLES = 200 if LONG else 25
#: How long the soak drives the server.
SOAK_SECONDS = 600.0 if LONG else 60.0
