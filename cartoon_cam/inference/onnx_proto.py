"""Just enough of the ONNX file format (protobuf wire format) to read a model's metadata, producer
and graph name and its initializers, and to set one metadata entry — so listing, loading, checking
and importing ONNX styles needs neither the ``onnx`` package nor ``protobuf``.

Field numbers are those of ``onnx.proto`` (stable since IR version 3). Initializer values decode as
``onnx.numpy_helper.to_array`` decodes them, for every type our styles and common image models use;
a rarer element type (bfloat16, float8, int4, strings, complex) is decoded by the ``onnx`` package
when it is installed, else :class:`UnsupportedTensor` says what is missing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

# ModelProto
_M_PRODUCER_NAME, _M_GRAPH, _M_METADATA = 2, 7, 14
# GraphProto
_G_NAME, _G_INITIALIZER = 2, 5
# TensorProto
(_T_DIMS, _T_DATA_TYPE, _T_FLOAT_DATA, _T_INT32_DATA, _T_INT64_DATA, _T_NAME, _T_RAW_DATA,
 _T_DOUBLE_DATA, _T_UINT64_DATA, _T_DATA_LOCATION) = 1, 2, 4, 5, 7, 8, 9, 10, 11, 14
# StringStringEntryProto
_E_KEY, _E_VALUE = 1, 2

# TensorProto.DataType → numpy dtype, and which typed field holds non-raw values.
_DTYPES: dict[int, tuple[type, int]] = {
    1: (np.float32, _T_FLOAT_DATA), 2: (np.uint8, _T_INT32_DATA), 3: (np.int8, _T_INT32_DATA),
    4: (np.uint16, _T_INT32_DATA), 5: (np.int16, _T_INT32_DATA), 6: (np.int32, _T_INT32_DATA),
    7: (np.int64, _T_INT64_DATA), 9: (np.bool_, _T_INT32_DATA), 10: (np.float16, _T_INT32_DATA),
    11: (np.float64, _T_DOUBLE_DATA), 12: (np.uint32, _T_UINT64_DATA), 13: (np.uint64, _T_UINT64_DATA),
}


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class UnsupportedTensor(ValueError):
    """An initializer this reader cannot decode without the ``onnx`` package."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview, int, int]]:
    """``(field number, wire type, value, start, end)`` of each field; ``start:end`` spans the
    whole field (tag included). Length-delimited values are memoryview slices (no copy)."""
    pos, n = 0, len(buf)
    while pos < n:
        start = pos
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        value: int | memoryview
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")
        if pos > n or num == 0:
            raise ProtoError("truncated message" if pos > n else "field number 0")
        yield num, wire, value, start, pos


def _text(v: int | memoryview) -> str:
    if not isinstance(v, memoryview):
        raise ProtoError("expected a string")
    return bytes(v).decode("utf-8", errors="replace")


def _signed(v: int, bits: int = 64) -> int:
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def _ints(wire: int, v: int | memoryview, signed: bool = True) -> list[int]:
    """A repeated integer field's values: packed (wire type 2) or one unpacked value."""
    if isinstance(v, memoryview):
        out, pos = [], 0
        while pos < len(v):
            x, pos = _varint(v, pos)
            out.append(_signed(x) if signed else x)
        return out
    return [_signed(v) if signed else v]


@dataclass
class TensorRecord:
    """One initializer as stored: name, element type, dims and where its values are."""

    name: str = ""
    data_type: int = 0
    dims: list[int] = field(default_factory=list)
    raw: memoryview | None = None
    values: dict[int, list[int | float]] = field(default_factory=dict)  # typed field → values
    external: bool = False
    message: memoryview | None = None  # the whole TensorProto (for the onnx fallback)

    def to_array(self) -> np.ndarray:
        """The values as ``onnx.numpy_helper.to_array`` gives them."""
        if self.external:
            raise UnsupportedTensor(f"initializer {self.name!r} keeps its data in an external file")
        if self.data_type not in _DTYPES:
            return self._onnx_fallback()
        dtype, typed = _DTYPES[self.data_type]
        shape = tuple(self.dims)
        if self.raw is not None:
            return np.frombuffer(self.raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
        vals = self.values.get(typed, [])
        if self.data_type == 10:  # float16 bit patterns in int32_data
            return np.asarray(vals, dtype=np.uint16).reshape(shape).view(np.float16)
        return np.asarray(vals, dtype=dtype).reshape(shape)

    def _onnx_fallback(self) -> np.ndarray:
        try:
            from onnx import TensorProto, numpy_helper
        except ImportError:
            from ..errors import ONNX_EXTRA

            raise UnsupportedTensor(f"initializer {self.name!r} has ONNX element type {self.data_type}, "
                                    f"which needs the onnx package to read: {ONNX_EXTRA}") from None
        t = TensorProto()
        t.ParseFromString(bytes(self.message or b""))
        return numpy_helper.to_array(t)


def _tensor(msg: memoryview) -> TensorRecord:
    t = TensorRecord(message=msg)
    for num, wire, v, _, _ in _fields(msg):
        if num == _T_DIMS:
            t.dims.extend(_ints(wire, v))
        elif num == _T_DATA_TYPE and isinstance(v, int):
            t.data_type = v
        elif num == _T_NAME:
            t.name = _text(v)
        elif num == _T_RAW_DATA and isinstance(v, memoryview):
            t.raw = v
        elif num == _T_DATA_LOCATION and isinstance(v, int):
            t.external = v == 1
        elif num == _T_FLOAT_DATA:
            t.values.setdefault(num, []).extend(_floats(wire, v, "<f", 4))
        elif num == _T_DOUBLE_DATA:
            t.values.setdefault(num, []).extend(_floats(wire, v, "<d", 8))
        elif num in (_T_INT32_DATA, _T_INT64_DATA):
            t.values.setdefault(num, []).extend(_ints(wire, v))
        elif num == _T_UINT64_DATA:
            t.values.setdefault(num, []).extend(_ints(wire, v, signed=False))
    return t


def _floats(wire: int, v: int | memoryview, fmt: str, size: int) -> list[float]:
    if wire == 2 and isinstance(v, memoryview):
        return list(struct.unpack(f"<{len(v) // size}{fmt[1]}", v[: len(v) // size * size]))
    if isinstance(v, memoryview):  # one unpacked fixed-width value
        return list(struct.unpack(fmt, v))
    raise ProtoError("expected a floating-point value")


@dataclass
class ModelInfo:
    """What :func:`read_model` found: metadata entries (later duplicates win, as in a dict built
    from ``metadata_props``), producer and graph name, and the initializers in file order."""

    metadata: dict[str, str] = field(default_factory=dict)
    producer_name: str = ""
    graph_name: str = ""
    initializers: list[TensorRecord] = field(default_factory=list)

    def initializer_arrays(self) -> dict[str, np.ndarray]:
        """``{name: array}`` of every initializer (what the style checksum covers)."""
        return {t.name: t.to_array() for t in self.initializers}


def read_model(data: bytes | memoryview, *, initializers: bool = True) -> ModelInfo:
    """Parse a serialized ``ModelProto``; raises :class:`ProtoError` when it is not one.
    ``initializers=False`` skips the graph's tensors (metadata only: fast)."""
    buf = memoryview(data)
    info = ModelInfo()
    graph_seen = False
    for num, _wire, v, _, _ in _fields(buf):
        if num == _M_PRODUCER_NAME:
            info.producer_name = _text(v)
        elif num == _M_METADATA and isinstance(v, memoryview):
            key = value = ""
            for enum, _w, ev, _, _ in _fields(v):
                if enum == _E_KEY:
                    key = _text(ev)
                elif enum == _E_VALUE:
                    value = _text(ev)
            info.metadata[key] = value
        elif num == _M_GRAPH and isinstance(v, memoryview):
            graph_seen = True
            for gnum, _w, gv, _, _ in _fields(v):
                if gnum == _G_NAME:
                    info.graph_name = _text(gv)
                elif gnum == _G_INITIALIZER and initializers and isinstance(gv, memoryview):
                    info.initializers.append(_tensor(gv))
    if not graph_seen:
        raise ProtoError("no graph")
    return info


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(num: int, payload: bytes) -> bytes:
    return _encode_varint(num << 3 | 2) + _encode_varint(len(payload)) + payload


def set_metadata(data: bytes, key: str, value: str) -> bytes:
    """``data`` (a serialized ``ModelProto``) with every metadata entry named ``key`` replaced by one
    ``key: value`` entry at the end; every other byte of the model is kept as it was."""
    buf = memoryview(data)
    out = bytearray()
    for num, _wire, v, start, end in _fields(buf):
        if num == _M_METADATA and isinstance(v, memoryview):
            k = next((_text(ev) for enum, _w, ev, _, _ in _fields(v) if enum == _E_KEY), "")
            if k == key:
                continue
        out += buf[start:end]
    entry = _len_field(_E_KEY, key.encode()) + _len_field(_E_VALUE, value.encode())
    out += _len_field(_M_METADATA, entry)
    return bytes(out)
