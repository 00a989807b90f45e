"""A minimal reader of protobuf FileDescriptorSet bytes, using only the standard library.

Only the descriptor.proto fields that the Swift generator needs are decoded; everything else is
skipped. Keeping this self-contained means regenerating the code needs nothing from PyPI.
"""

from dataclasses import dataclass, field


def _varint(data, pos):
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data):
    """Yields (number, wire_type, value) for each field of one serialized message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _packed_varints(data):
    values = []
    pos = 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        values.append(value)
    return values


@dataclass
class FieldDesc:
    name: str = ""
    number: int = 0
    label: int = 1  # 1 optional, 2 required, 3 repeated
    type: int = 0
    type_name: str = ""
    oneof_index: int = -1
    proto3_optional: bool = False


@dataclass
class OneofDesc:
    name: str = ""


@dataclass
class EnumValueDesc:
    name: str = ""
    number: int = 0


@dataclass
class EnumDesc:
    name: str = ""
    values: list = field(default_factory=list)


@dataclass
class MessageDesc:
    name: str = ""
    fields: list = field(default_factory=list)
    nested: list = field(default_factory=list)
    enums: list = field(default_factory=list)
    oneofs: list = field(default_factory=list)
    map_entry: bool = False


@dataclass
class MethodDesc:
    name: str = ""
    input_type: str = ""
    output_type: str = ""
    client_streaming: bool = False
    server_streaming: bool = False


@dataclass
class ServiceDesc:
    name: str = ""
    methods: list = field(default_factory=list)


@dataclass
class FileDesc:
    name: str = ""
    package: str = ""
    dependencies: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    enums: list = field(default_factory=list)
    services: list = field(default_factory=list)
    comments: dict = field(default_factory=dict)  # path tuple -> leading comment


def _text(value):
    return bytes(value).decode("utf-8")


def _field(data):
    f = FieldDesc()
    for number, _, value in _fields(data):
        if number == 1:
            f.name = _text(value)
        elif number == 3:
            f.number = value
        elif number == 4:
            f.label = value
        elif number == 5:
            f.type = value
        elif number == 6:
            f.type_name = _text(value)
        elif number == 9:
            f.oneof_index = value
        elif number == 17:
            f.proto3_optional = bool(value)
    return f


def _enum(data):
    e = EnumDesc()
    for number, _, value in _fields(data):
        if number == 1:
            e.name = _text(value)
        elif number == 2:
            v = EnumValueDesc()
            for n2, _, val2 in _fields(value):
                if n2 == 1:
                    v.name = _text(val2)
                elif n2 == 2:
                    v.number = val2 if val2 < 2**63 else val2 - 2**64
            e.values.append(v)
    return e


def _message(data):
    m = MessageDesc()
    for number, _, value in _fields(data):
        if number == 1:
            m.name = _text(value)
        elif number == 2:
            m.fields.append(_field(value))
        elif number == 3:
            m.nested.append(_message(value))
        elif number == 4:
            m.enums.append(_enum(value))
        elif number == 7:
            for n2, _, val2 in _fields(value):
                if n2 == 7:
                    m.map_entry = bool(val2)
        elif number == 8:
            o = OneofDesc()
            for n2, _, val2 in _fields(value):
                if n2 == 1:
                    o.name = _text(val2)
            m.oneofs.append(o)
    return m


def _service(data):
    s = ServiceDesc()
    for number, _, value in _fields(data):
        if number == 1:
            s.name = _text(value)
        elif number == 2:
            meth = MethodDesc()
            for n2, _, val2 in _fields(value):
                if n2 == 1:
                    meth.name = _text(val2)
                elif n2 == 2:
                    meth.input_type = _text(val2)
                elif n2 == 3:
                    meth.output_type = _text(val2)
                elif n2 == 5:
                    meth.client_streaming = bool(val2)
                elif n2 == 6:
                    meth.server_streaming = bool(val2)
            s.methods.append(meth)
    return s


def _comments(data):
    comments = {}
    for number, _, location in _fields(data):
        if number != 1:
            continue
        path = ()
        leading = None
        for n2, wire, val2 in _fields(location):
            if n2 == 1:
                path = tuple(_packed_varints(val2)) if wire == 2 else path + (val2,)
            elif n2 == 3:
                leading = _text(val2)
        if leading:
            comments[path] = leading
    return comments


def _file(data):
    f = FileDesc()
    for number, _, value in _fields(data):
        if number == 1:
            f.name = _text(value)
        elif number == 2:
            f.package = _text(value)
        elif number == 3:
            f.dependencies.append(_text(value))
        elif number == 4:
            f.messages.append(_message(value))
        elif number == 5:
            f.enums.append(_enum(value))
        elif number == 6:
            f.services.append(_service(value))
        elif number == 9:
            f.comments = _comments(value)
    return f


def read_descriptor_set(data):
    """Returns the FileDesc of every file in a serialized FileDescriptorSet."""
    return [_file(value) for number, _, value in _fields(data) if number == 1]
