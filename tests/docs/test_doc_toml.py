"""Every TOML block in the README and docs/ parses: a reader copies them into shipyard.toml as they are."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_toml_block_parses(page: Path) -> None:
    for number, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), start=1):
        try:
            tomllib.loads(block)
        except tomllib.TOMLDecodeError as error:
            pytest.fail(f"{page.name}, TOML block {number}: {error}\n{block}")
