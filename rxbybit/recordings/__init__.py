"""Recordings as a Parquet dataset: write with :class:`DatasetWriter`, query with :func:`dataset`.

The layout (Hive partitions ``category=/topic=/symbol=/date=``, typed columns plus the raw frame)
is described in ``docs/dataset.md``; DuckDB, pyarrow, polars, Dask and Spark read it unchanged.

The dataset names load lazily: :mod:`.times` (time bounds) and :mod:`.window` (replay windows) work
without pyarrow and DuckDB, so a JSONL replay takes the same time bounds without the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .times import TimeLike, to_timestamp

if TYPE_CHECKING:
    from .layout import PARTITION_SCHEMA, SCHEMAS
    from .reader import Dataset, dataset
    from .writer import DatasetWriter

_LAZY = {"PARTITION_SCHEMA": ".layout", "SCHEMAS": ".layout", "Dataset": ".reader", "dataset": ".reader",
         "DatasetWriter": ".writer"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(_LAZY[name], __name__)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("duckdb", "pyarrow"):
            raise
        raise ModuleNotFoundError(
            f"Parquet datasets need pyarrow and duckdb ({exc.name} is missing): pip install 'rxbybit[dataset]'",
            name=exc.name) from exc
    return getattr(module, name)


__all__ = ["PARTITION_SCHEMA", "SCHEMAS", "Dataset", "DatasetWriter", "TimeLike", "dataset", "to_timestamp"]
