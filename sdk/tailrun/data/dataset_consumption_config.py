"""Azure ML's `azureml.data.dataset_consumption_config`: how a step consumes data. In tailrun
only the output of an earlier step can be consumed (`OutputFileDatasetConfig.as_input()`)."""
from __future__ import annotations

from typing import Any

from ..pipeline.core.builder import InputPortBinding

__all__ = ["DatasetConsumptionConfig"]


class DatasetConsumptionConfig(InputPortBinding):
    """An input of a step reading the folder of an `OutputFileDatasetConfig`; in `arguments` it
    becomes that folder's path."""

    def __init__(self, name: str | None, dataset: Any, mode: str = "direct",
                 path_on_compute: str | None = None) -> None:
        super().__init__(name, dataset, bind_mode=mode, path_on_compute=path_on_compute)

    @property
    def dataset(self) -> Any:
        return self.bind_object

    def as_mount(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        return DatasetConsumptionConfig(self.name, self.bind_object, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        return DatasetConsumptionConfig(self.name, self.bind_object, "download", path_on_compute)
