from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALUE_KIND_FLOAT: _ClassVar[ValueKind]
    VALUE_KIND_INT: _ClassVar[ValueKind]
    VALUE_KIND_BOOL: _ClassVar[ValueKind]
    VALUE_KIND_NONE: _ClassVar[ValueKind]
    VALUE_KIND_STR: _ClassVar[ValueKind]
    VALUE_KIND_BIGINT: _ClassVar[ValueKind]

class MetricKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_KIND_UNSPECIFIED: _ClassVar[MetricKind]
    METRIC_KIND_SCALAR: _ClassVar[MetricKind]
    METRIC_KIND_LIST: _ClassVar[MetricKind]
    METRIC_KIND_ROW: _ClassVar[MetricKind]
    METRIC_KIND_TABLE: _ClassVar[MetricKind]
    METRIC_KIND_IMAGE: _ClassVar[MetricKind]
    METRIC_KIND_JSON: _ClassVar[MetricKind]
    METRIC_KIND_SYSTEM: _ClassVar[MetricKind]
VALUE_KIND_FLOAT: ValueKind
VALUE_KIND_INT: ValueKind
VALUE_KIND_BOOL: ValueKind
VALUE_KIND_NONE: ValueKind
VALUE_KIND_STR: ValueKind
VALUE_KIND_BIGINT: ValueKind
METRIC_KIND_UNSPECIFIED: MetricKind
METRIC_KIND_SCALAR: MetricKind
METRIC_KIND_LIST: MetricKind
METRIC_KIND_ROW: MetricKind
METRIC_KIND_TABLE: MetricKind
METRIC_KIND_IMAGE: MetricKind
METRIC_KIND_JSON: MetricKind
METRIC_KIND_SYSTEM: MetricKind

class Column(_message.Message):
    __slots__ = ("name", "values", "kinds", "ints", "strs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    INTS_FIELD_NUMBER: _ClassVar[int]
    STRS_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.RepeatedScalarFieldContainer[float]
    kinds: bytes
    ints: _containers.RepeatedScalarFieldContainer[int]
    strs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., kinds: _Optional[bytes] = ..., ints: _Optional[_Iterable[int]] = ..., strs: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricPoints(_message.Message):
    __slots__ = ("run_id", "name", "kind", "times", "steps", "columns", "description", "first_index")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    kind: MetricKind
    times: _containers.RepeatedScalarFieldContainer[float]
    steps: _containers.RepeatedScalarFieldContainer[int]
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    description: str
    first_index: int
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[MetricKind, str]] = ..., times: _Optional[_Iterable[float]] = ..., steps: _Optional[_Iterable[int]] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., description: _Optional[str] = ..., first_index: _Optional[int] = ...) -> None: ...

class RunInfo(_message.Message):
    __slots__ = ("run_id", "experiment", "display_name", "description", "status", "number", "created_time", "start_time", "end_time", "tags", "properties", "parent_run_id", "run_type", "error_json", "run_definition_json", "target", "script", "arguments", "last_heartbeat", "submitted_by", "warnings", "last_activity", "metric_names", "last_metrics", "last_system_metrics")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LastMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class LastSystemMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_TYPE_FIELD_NUMBER: _ClassVar[int]
    ERROR_JSON_FIELD_NUMBER: _ClassVar[int]
    RUN_DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAMES_FIELD_NUMBER: _ClassVar[int]
    LAST_METRICS_FIELD_NUMBER: _ClassVar[int]
    LAST_SYSTEM_METRICS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    experiment: str
    display_name: str
    description: str
    status: str
    number: int
    created_time: float
    start_time: float
    end_time: float
    tags: _containers.ScalarMap[str, str]
    properties: _containers.ScalarMap[str, str]
    parent_run_id: str
    run_type: str
    error_json: str
    run_definition_json: str
    target: str
    script: str
    arguments: _containers.RepeatedScalarFieldContainer[str]
    last_heartbeat: float
    submitted_by: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    last_activity: float
    metric_names: _containers.RepeatedScalarFieldContainer[str]
    last_metrics: _containers.ScalarMap[str, float]
    last_system_metrics: _containers.ScalarMap[str, float]
    def __init__(self, run_id: _Optional[str] = ..., experiment: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ..., number: _Optional[int] = ..., created_time: _Optional[float] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ..., tags: _Optional[_Mapping[str, str]] = ..., properties: _Optional[_Mapping[str, str]] = ..., parent_run_id: _Optional[str] = ..., run_type: _Optional[str] = ..., error_json: _Optional[str] = ..., run_definition_json: _Optional[str] = ..., target: _Optional[str] = ..., script: _Optional[str] = ..., arguments: _Optional[_Iterable[str]] = ..., last_heartbeat: _Optional[float] = ..., submitted_by: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., last_activity: _Optional[float] = ..., metric_names: _Optional[_Iterable[str]] = ..., last_metrics: _Optional[_Mapping[str, float]] = ..., last_system_metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class RunStart(_message.Message):
    __slots__ = ("run_id", "experiment", "parent_run_id", "display_name", "description", "tags", "properties", "run_type", "status", "time", "submitted_by", "run_definition_json", "target", "script", "arguments")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    RUN_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    RUN_DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    experiment: str
    parent_run_id: str
    display_name: str
    description: str
    tags: _containers.ScalarMap[str, str]
    properties: _containers.ScalarMap[str, str]
    run_type: str
    status: str
    time: float
    submitted_by: str
    run_definition_json: str
    target: str
    script: str
    arguments: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., experiment: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., properties: _Optional[_Mapping[str, str]] = ..., run_type: _Optional[str] = ..., status: _Optional[str] = ..., time: _Optional[float] = ..., submitted_by: _Optional[str] = ..., run_definition_json: _Optional[str] = ..., target: _Optional[str] = ..., script: _Optional[str] = ..., arguments: _Optional[_Iterable[str]] = ...) -> None: ...

class RunPatch(_message.Message):
    __slots__ = ("run_id", "status", "set_tags", "remove_tags", "add_properties", "display_name", "description", "error_json", "time", "warnings")
    class SetTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AddPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    ADD_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ERROR_JSON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    status: str
    set_tags: _containers.ScalarMap[str, str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    add_properties: _containers.ScalarMap[str, str]
    display_name: str
    description: str
    error_json: str
    time: float
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., status: _Optional[str] = ..., set_tags: _Optional[_Mapping[str, str]] = ..., remove_tags: _Optional[_Iterable[str]] = ..., add_properties: _Optional[_Mapping[str, str]] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., error_json: _Optional[str] = ..., time: _Optional[float] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("run_id", "path", "offset", "data", "last", "append")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    APPEND_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    path: str
    offset: int
    data: bytes
    last: bool
    append: bool
    def __init__(self, run_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ..., append: _Optional[bool] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("run_id", "time", "pid", "host")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    time: float
    pid: int
    host: str
    def __init__(self, run_id: _Optional[str] = ..., time: _Optional[float] = ..., pid: _Optional[int] = ..., host: _Optional[str] = ...) -> None: ...

class ExperimentEnsure(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("metrics", "file", "heartbeat", "patch", "start", "experiment")
    METRICS_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    metrics: MetricPoints
    file: FileChunk
    heartbeat: Heartbeat
    patch: RunPatch
    start: RunStart
    experiment: ExperimentEnsure
    def __init__(self, metrics: _Optional[_Union[MetricPoints, _Mapping]] = ..., file: _Optional[_Union[FileChunk, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., patch: _Optional[_Union[RunPatch, _Mapping]] = ..., start: _Optional[_Union[RunStart, _Mapping]] = ..., experiment: _Optional[_Union[ExperimentEnsure, _Mapping]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("writer", "seq", "events")
    WRITER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    writer: str
    seq: int
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, writer: _Optional[str] = ..., seq: _Optional[int] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class IngestAck(_message.Message):
    __slots__ = ("writer", "committed_seq", "rejected")
    WRITER_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_SEQ_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    writer: str
    committed_seq: int
    rejected: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, writer: _Optional[str] = ..., committed_seq: _Optional[int] = ..., rejected: _Optional[_Iterable[str]] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("name", "id", "created_time", "archived_time", "run_count", "running_count", "last_activity", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    created_time: float
    archived_time: float
    run_count: int
    running_count: int
    last_activity: float
    tags: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., created_time: _Optional[float] = ..., archived_time: _Optional[float] = ..., run_count: _Optional[int] = ..., running_count: _Optional[int] = ..., last_activity: _Optional[float] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ("view_type", "name")
    VIEW_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    view_type: str
    name: str
    def __init__(self, view_type: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments",)
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[Experiment]
    def __init__(self, experiments: _Optional[_Iterable[_Union[Experiment, _Mapping]]] = ...) -> None: ...

class SetExperimentArchivedRequest(_message.Message):
    __slots__ = ("name", "id", "archived")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    archived: bool
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., archived: _Optional[bool] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("experiment", "parent_run_id", "include_children", "tags", "properties", "status", "limit", "recursive", "page_size", "page_token", "select_metrics", "metric_columns", "list_metric_names")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SELECT_METRICS_FIELD_NUMBER: _ClassVar[int]
    METRIC_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    LIST_METRIC_NAMES_FIELD_NUMBER: _ClassVar[int]
    experiment: str
    parent_run_id: str
    include_children: bool
    tags: _containers.ScalarMap[str, str]
    properties: _containers.ScalarMap[str, str]
    status: str
    limit: int
    recursive: bool
    page_size: int
    page_token: str
    select_metrics: bool
    metric_columns: _containers.RepeatedScalarFieldContainer[str]
    list_metric_names: bool
    def __init__(self, experiment: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., include_children: _Optional[bool] = ..., tags: _Optional[_Mapping[str, str]] = ..., properties: _Optional[_Mapping[str, str]] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ..., recursive: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., select_metrics: _Optional[bool] = ..., metric_columns: _Optional[_Iterable[str]] = ..., list_metric_names: _Optional[bool] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token", "metric_names")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAMES_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunInfo]
    next_page_token: str
    metric_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., metric_names: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ("run_id", "name", "batched", "system")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BATCHED_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    batched: bool
    system: bool
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., batched: _Optional[bool] = ..., system: _Optional[bool] = ...) -> None: ...

class MetricData(_message.Message):
    __slots__ = ("points", "batch")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    points: MetricPoints
    batch: _containers.RepeatedCompositeFieldContainer[MetricPoints]
    def __init__(self, points: _Optional[_Union[MetricPoints, _Mapping]] = ..., batch: _Optional[_Iterable[_Union[MetricPoints, _Mapping]]] = ...) -> None: ...

class SeriesRequest(_message.Message):
    __slots__ = ("run_id", "name", "max_points", "first_index", "tail", "with_times")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    WITH_TIMES_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    max_points: int
    first_index: int
    tail: int
    with_times: bool
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., max_points: _Optional[int] = ..., first_index: _Optional[int] = ..., tail: _Optional[int] = ..., with_times: _Optional[bool] = ...) -> None: ...

class SeriesResponse(_message.Message):
    __slots__ = ("run_id", "name", "total_points", "downsampled", "x", "y", "has_steps", "t")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    DOWNSAMPLED_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    HAS_STEPS_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    total_points: int
    downsampled: bool
    x: _containers.RepeatedScalarFieldContainer[float]
    y: _containers.RepeatedScalarFieldContainer[float]
    has_steps: bool
    t: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., total_points: _Optional[int] = ..., downsampled: _Optional[bool] = ..., x: _Optional[_Iterable[float]] = ..., y: _Optional[_Iterable[float]] = ..., has_steps: _Optional[bool] = ..., t: _Optional[_Iterable[float]] = ...) -> None: ...

class ListFilesRequest(_message.Message):
    __slots__ = ("run_id", "prefix")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    prefix: str
    def __init__(self, run_id: _Optional[str] = ..., prefix: _Optional[str] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("path", "size", "mtime", "complete")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    mtime: float
    complete: bool
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., mtime: _Optional[float] = ..., complete: _Optional[bool] = ...) -> None: ...

class ListFilesResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FileInfo]
    def __init__(self, files: _Optional[_Iterable[_Union[FileInfo, _Mapping]]] = ...) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("run_id", "path", "offset", "limit")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    path: str
    offset: int
    limit: int
    def __init__(self, run_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadOutputRequest(_message.Message):
    __slots__ = ("run_id", "offset", "tail_bytes")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    offset: int
    tail_bytes: int
    def __init__(self, run_id: _Optional[str] = ..., offset: _Optional[int] = ..., tail_bytes: _Optional[int] = ...) -> None: ...

class OutputText(_message.Message):
    __slots__ = ("path", "offset", "text", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    offset: int
    text: str
    size: int
    def __init__(self, path: _Optional[str] = ..., offset: _Optional[int] = ..., text: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("run_id", "experiment", "cursor", "include_children", "from_start", "kinds")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    FROM_START_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    experiment: str
    cursor: int
    include_children: bool
    from_start: bool
    kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., experiment: _Optional[str] = ..., cursor: _Optional[int] = ..., include_children: _Optional[bool] = ..., from_start: _Optional[bool] = ..., kinds: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("cursor", "run_id", "run", "metrics", "output", "file", "caught_up")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    run_id: str
    run: RunInfo
    metrics: MetricPoints
    output: OutputText
    file: FileInfo
    caught_up: bool
    def __init__(self, cursor: _Optional[int] = ..., run_id: _Optional[str] = ..., run: _Optional[_Union[RunInfo, _Mapping]] = ..., metrics: _Optional[_Union[MetricPoints, _Mapping]] = ..., output: _Optional[_Union[OutputText, _Mapping]] = ..., file: _Optional[_Union[FileInfo, _Mapping]] = ..., caught_up: _Optional[bool] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("spec", "snapshot_chunk")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    spec: SubmitSpec
    snapshot_chunk: bytes
    def __init__(self, spec: _Optional[_Union[SubmitSpec, _Mapping]] = ..., snapshot_chunk: _Optional[bytes] = ...) -> None: ...

class SubmitSpec(_message.Message):
    __slots__ = ("experiment", "run_id", "run_definition_json", "tags", "display_name", "description", "parent_run_id", "submitted_by")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    experiment: str
    run_id: str
    run_definition_json: str
    tags: _containers.ScalarMap[str, str]
    display_name: str
    description: str
    parent_run_id: str
    submitted_by: str
    def __init__(self, experiment: _Optional[str] = ..., run_id: _Optional[str] = ..., run_definition_json: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., submitted_by: _Optional[str] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("run_id", "data")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    data: bytes
    def __init__(self, run_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class SnapshotInfo(_message.Message):
    __slots__ = ("snapshot_id", "size", "file_count")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    size: int
    file_count: int
    def __init__(self, snapshot_id: _Optional[str] = ..., size: _Optional[int] = ..., file_count: _Optional[int] = ...) -> None: ...

class ReadSnapshotRequest(_message.Message):
    __slots__ = ("snapshot_id", "run_id")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    run_id: str
    def __init__(self, snapshot_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "id", "run_id", "experiment", "description", "tags", "properties", "created_time", "model_path", "files", "created_by")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    id: str
    run_id: str
    experiment: str
    description: str
    tags: _containers.ScalarMap[str, str]
    properties: _containers.ScalarMap[str, str]
    created_time: float
    model_path: str
    files: _containers.RepeatedCompositeFieldContainer[FileInfo]
    created_by: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., id: _Optional[str] = ..., run_id: _Optional[str] = ..., experiment: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., properties: _Optional[_Mapping[str, str]] = ..., created_time: _Optional[float] = ..., model_path: _Optional[str] = ..., files: _Optional[_Iterable[_Union[FileInfo, _Mapping]]] = ..., created_by: _Optional[str] = ...) -> None: ...

class RegisterModelSpec(_message.Message):
    __slots__ = ("name", "run_id", "model_path", "description", "tags", "properties")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_id: str
    model_path: str
    description: str
    tags: _containers.ScalarMap[str, str]
    properties: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., run_id: _Optional[str] = ..., model_path: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("spec", "file")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    spec: RegisterModelSpec
    file: FileChunk
    def __init__(self, spec: _Optional[_Union[RegisterModelSpec, _Mapping]] = ..., file: _Optional[_Union[FileChunk, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("name", "tags", "latest", "run_id", "tag_keys")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_KEYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    tags: _containers.ScalarMap[str, str]
    latest: bool
    run_id: str
    tag_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., latest: _Optional[bool] = ..., run_id: _Optional[str] = ..., tag_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ("name", "version", "add_tags", "remove_tags", "add_properties", "description")
    class AddTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AddPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADD_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    ADD_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    add_tags: _containers.ScalarMap[str, str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    add_properties: _containers.ScalarMap[str, str]
    description: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., add_tags: _Optional[_Mapping[str, str]] = ..., remove_tags: _Optional[_Iterable[str]] = ..., add_properties: _Optional[_Mapping[str, str]] = ..., description: _Optional[str] = ...) -> None: ...

class EnvironmentInfo(_message.Message):
    __slots__ = ("name", "version", "definition_json", "created_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    definition_json: str
    created_time: float
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., definition_json: _Optional[str] = ..., created_time: _Optional[float] = ...) -> None: ...

class RegisterEnvironmentRequest(_message.Message):
    __slots__ = ("name", "definition_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    definition_json: str
    def __init__(self, name: _Optional[str] = ..., definition_json: _Optional[str] = ...) -> None: ...

class GetEnvironmentRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListEnvironmentsRequest(_message.Message):
    __slots__ = ("name", "latest")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    name: str
    latest: bool
    def __init__(self, name: _Optional[str] = ..., latest: _Optional[bool] = ...) -> None: ...

class ListEnvironmentsResponse(_message.Message):
    __slots__ = ("environments",)
    ENVIRONMENTS_FIELD_NUMBER: _ClassVar[int]
    environments: _containers.RepeatedCompositeFieldContainer[EnvironmentInfo]
    def __init__(self, environments: _Optional[_Iterable[_Union[EnvironmentInfo, _Mapping]]] = ...) -> None: ...

class ComputeTargetInfo(_message.Message):
    __slots__ = ("name", "kind", "state", "detail", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    state: str
    detail: str
    properties: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., detail: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListComputeTargetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListComputeTargetsResponse(_message.Message):
    __slots__ = ("targets",)
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    targets: _containers.RepeatedCompositeFieldContainer[ComputeTargetInfo]
    def __init__(self, targets: _Optional[_Iterable[_Union[ComputeTargetInfo, _Mapping]]] = ...) -> None: ...
