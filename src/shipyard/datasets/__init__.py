"""Dataset versions: content-addressed tables with their contract and profile, for lineage and training."""

from shipyard.datasets.catalog import DatasetCatalog, DatasetVersion, describe_table, describe_type_breaks
from shipyard.datasets.reading import read_contract, read_table

__all__ = [
    "DatasetCatalog",
    "DatasetVersion",
    "describe_table",
    "describe_type_breaks",
    "read_contract",
    "read_table",
]
