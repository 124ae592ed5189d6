"""The installed package describes itself in today's metadata: the licence as an SPDX expression (the table
form made setuptools warn on every install)."""

from __future__ import annotations

import importlib.metadata


def test_the_licence_is_an_spdx_expression() -> None:
    metadata = importlib.metadata.metadata("shipyard")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["License"] is None  # the deprecated free-text field is gone
