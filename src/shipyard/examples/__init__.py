"""Examples shipped inside the package, so a newcomer can try the loop without cloning the repository.

``shipyard example fraud DIR`` writes ``spec.toml`` and ``transactions.csv``: ``shipyard train spec.toml``
in that folder trains, cross-validates and registers a fraud model with its data contract.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from shipyard.errors import Conflict, not_found

#: Each example's name and what it holds.
EXAMPLES = {
    "fraud": "card transactions (amount, hour, channel, account_age_days) and a fraud classifier's spec",
}


def example_files(name: str) -> list[str]:
    """The file names of the example ``name``; a NotFound naming the closest example otherwise."""
    if name not in EXAMPLES:
        raise not_found("example", name, candidates=EXAMPLES)
    folder = resources.files(__name__) / name
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file() and entry.name[0] not in "_.")


def write_example(name: str, directory: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the example ``name`` into ``directory`` (created if needed); return the files written.

    Nothing is written when any file exists already, unless ``overwrite``: a half-copied example would mix
    the user's files with ours.
    """
    files = example_files(name)
    target = Path(directory)
    existing = [target / file for file in files if (target / file).exists()]
    if existing and not overwrite:
        names = ", ".join(str(path) for path in existing)
        raise Conflict(f"{names} already exist; choose an empty folder, or pass --force to overwrite")
    target.mkdir(parents=True, exist_ok=True)
    folder = resources.files(__name__) / name
    written = []
    for file in files:
        path = target / file
        path.write_bytes((folder / file).read_bytes())
        written.append(path)
    return written
