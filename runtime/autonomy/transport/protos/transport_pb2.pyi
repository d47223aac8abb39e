from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Frame(_message.Message):
    __slots__ = ("hello", "envelopes")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    envelopes: _containers.RepeatedCompositeFieldContainer[Envelope]
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., envelopes: _Optional[_Iterable[_Union[Envelope, _Mapping]]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("version", "node", "pod", "accepted", "reason", "instance", "replace")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    version: int
    node: str
    pod: str
    accepted: bool
    reason: str
    instance: str
    replace: bool
    def __init__(self, version: _Optional[int] = ..., node: _Optional[str] = ..., pod: _Optional[str] = ..., accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., instance: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("kind", "address", "body", "reply_to", "request_id", "deadline_ms", "error_code", "blob")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MESSAGE: _ClassVar[Envelope.Kind]
        REPLY: _ClassVar[Envelope.Kind]
        ERROR: _ClassVar[Envelope.Kind]
    MESSAGE: Envelope.Kind
    REPLY: Envelope.Kind
    ERROR: Envelope.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    kind: Envelope.Kind
    address: str
    body: str
    reply_to: str
    request_id: int
    deadline_ms: int
    error_code: str
    blob: bytes
    def __init__(self, kind: _Optional[_Union[Envelope.Kind, str]] = ..., address: _Optional[str] = ..., body: _Optional[str] = ..., reply_to: _Optional[str] = ..., request_id: _Optional[int] = ..., deadline_ms: _Optional[int] = ..., error_code: _Optional[str] = ..., blob: _Optional[bytes] = ...) -> None: ...
