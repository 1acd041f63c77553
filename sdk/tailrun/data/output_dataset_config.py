"""Azure ML's `azureml.data.output_dataset_config`: `OutputFileDatasetConfig`, a folder a step writes.

Written straight into a step's `arguments` (or listed in `outputs`) it is that step's output: the
script receives an empty folder's path. `as_input()` in a later step's `arguments` (or `inputs`)
gives that step the same folder once the producer has completed. The folder lives on the service's
machine; `destination` (a datastore), `source`, registration and dataset conversions are not
supported and say so.
"""
from __future__ import annotations

import uuid
from typing import Any

from ..pipeline.core.builder import _DataFolder
from ..pipeline.errors import unsupported_argument

__all__ = ["OutputFileDatasetConfig", "OutputDatasetConfig"]


class OutputFileDatasetConfig(_DataFolder):
    TYPE = "OutputFileDatasetConfig"

    def __init__(self, name: str | None = None, destination: Any = None, source: str | None = None,
                 partition_format: str | None = None) -> None:
        if destination is not None:
            unsupported_argument("OutputFileDatasetConfig", "destination",
                                 "the folder lives on the service's machine; there are no datastores")
        if source is not None:
            unsupported_argument("OutputFileDatasetConfig", "source", "the step writes to the folder it is given")
        if partition_format is not None:
            unsupported_argument("OutputFileDatasetConfig", "partition_format", "there are no datasets")
        # Azure ML names an unnamed output itself; the name is its folder and its input's name.
        super().__init__(name if name is not None else f"output_{uuid.uuid4().hex[:8]}")
        self.mode = "mount"

    def as_input(self, name: str | None = None) -> Any:
        from .dataset_consumption_config import DatasetConsumptionConfig
        return DatasetConsumptionConfig(name, self, mode="mount")

    def as_mount(self, disable_metadata_cache: bool = False) -> "OutputFileDatasetConfig":
        self.mode = "mount"
        return self

    def as_upload(self, overwrite: bool = False, source_globs: Any = None) -> "OutputFileDatasetConfig":
        self.mode = "upload"
        return self

    def _refuse(self, what: str) -> Any:
        unsupported_argument("OutputFileDatasetConfig", what, "there are no datasets; read the folder instead")

    def register_on_complete(self, name: str, description: str | None = None, tags: Any = None) -> Any:
        return self._refuse("register_on_complete()")

    def read_delimited_files(self, *args: Any, **kwargs: Any) -> Any:
        return self._refuse("read_delimited_files()")

    def read_parquet_files(self, *args: Any, **kwargs: Any) -> Any:
        return self._refuse("read_parquet_files()")


OutputDatasetConfig = OutputFileDatasetConfig
