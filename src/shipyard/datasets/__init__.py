"""Dataset versions: content-addressed tables with their contract and profile, for lineage and training,
added from files, frames, or the prediction log joined with its late labels (``dataset_from_log``)."""

from shipyard.datasets.catalog import DatasetCatalog, DatasetVersion, describe_table, describe_type_breaks
from shipyard.datasets.from_log import dataset_from_log
from shipyard.datasets.reading import read_contract, read_table

__all__ = [
    "DatasetCatalog",
    "DatasetVersion",
    "dataset_from_log",
    "describe_table",
    "describe_type_breaks",
    "read_contract",
    "read_table",
]
