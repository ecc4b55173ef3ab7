"""Recordings as a Parquet dataset: write with :class:`DatasetWriter`, query with :func:`dataset`.

The layout (Hive partitions ``category=/topic=/symbol=/date=``, typed columns plus the raw frame)
is described in ``docs/dataset.md``; DuckDB, pyarrow, polars, Dask and Spark read it unchanged.
"""

from __future__ import annotations

try:
    import duckdb  # noqa: F401
    import pyarrow  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        f"Parquet datasets need pyarrow and duckdb ({exc.name} is missing): pip install 'rxbybit[dataset]'",
        name=exc.name) from exc

from .layout import PARTITION_SCHEMA, SCHEMAS
from .reader import Dataset, dataset
from .writer import DatasetWriter

__all__ = ["PARTITION_SCHEMA", "SCHEMAS", "Dataset", "DatasetWriter", "dataset"]
