"""Generates Gnomon's Swift value types, their C conversions, the method table and the round-trip
test samples from the FileDescriptorSet that protoc-c writes for proto/.

The generated Swift never exposes the protobuf-c structs: conversions are internal, and the public
surface is plain value types plus `serializedBytes()` / `init(serializedBytes:)`.
"""

from dataclasses import dataclass

# descriptor.proto field types
T_DOUBLE, T_FLOAT, T_INT64, T_UINT64, T_INT32, T_FIXED64, T_FIXED32, T_BOOL = 1, 2, 3, 4, 5, 6, 7, 8
T_STRING, T_GROUP, T_MESSAGE, T_BYTES, T_UINT32, T_ENUM, T_SFIXED32, T_SFIXED64 = 9, 10, 11, 12, 13, 14, 15, 16
T_SINT32, T_SINT64 = 17, 18
LABEL_REPEATED = 3

SCALARS = {
    T_DOUBLE: "Double",
    T_FLOAT: "Float",
    T_INT64: "Int64",
    T_UINT64: "UInt64",
    T_INT32: "Int32",
    T_FIXED64: "UInt64",
    T_FIXED32: "UInt32",
    T_UINT32: "UInt32",
    T_SFIXED32: "Int32",
    T_SFIXED64: "Int64",
    T_SINT32: "Int32",
    T_SINT64: "Int64",
}

ACRONYMS = {"id": "ID", "ids": "IDs", "json": "JSON", "url": "URL", "http": "HTTP", "dst": "DST", "rpc": "RPC"}

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
    "inout", "internal", "let", "open", "operator", "private", "protocol", "public", "rethrows",
    "static", "struct", "subscript", "typealias", "var", "break", "case", "continue", "default",
    "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch",
    "where", "while", "as", "catch", "false", "is", "nil", "super", "self", "Self", "throw", "throws",
    "true", "try", "Type",
}


def lower_camel(snake):
    parts = [p for p in snake.lower().split("_") if p]
    out = parts[0]
    for part in parts[1:]:
        out += ACRONYMS.get(part, part.capitalize())
    return f"`{out}`" if out in SWIFT_KEYWORDS else out


def upper_camel(snake):
    return "".join(ACRONYMS.get(p, p.capitalize()) for p in snake.split("_") if p)


def bare(name):
    return name.strip("`")


def camel_to_upper_snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and not name[i - 1].isupper():
            out += "_"
        out += ch.upper()
    return out


def c_lower(name):
    """protobuf-c's CamelToLower."""
    out = ""
    was_upper = True
    for ch in name:
        is_upper = ch.isupper()
        if is_upper:
            if not was_upper:
                out += "_"
            out += ch.lower()
        else:
            out += ch
        was_upper = is_upper
    return out


def doc_lines(comment, indent=""):
    if not comment:
        return []
    lines = comment.rstrip("\n").split("\n")
    out = []
    for line in lines:
        line = line[1:] if line.startswith(" ") else line
        out.append(f"{indent}/// {line}".rstrip())
    return out


@dataclass
class TypeInfo:
    full: str  # ".gnomon.v1.Job"
    kind: str  # "message" or "enum"
    swift: str  # "V1.Job"
    c_type: str  # "Gnomon__V1__Job"
    c_lower: str  # "gnomon__v1__job"
    desc: object
    path: tuple  # source-info path
    file: object


class Generator:
    def __init__(self, files):
        self.files = files
        self.types = {}
        for f in files:
            for i, m in enumerate(f.messages):
                self._register_message(f, m, f".{f.package}", [], (4, i))
            for i, e in enumerate(f.enums):
                self._register_enum(f, e, f".{f.package}", [], (5, i))

    # Registry

    def _names(self, package, outer, name):
        pkg_parts = package.strip(".").split(".")
        swift = ".".join([upper_camel(pkg_parts[-1])] + outer + [name])
        c_parts = [p[0].upper() + p[1:] for p in pkg_parts] + outer + [name]
        c_type = "__".join(c_parts)
        c_low = "__".join(c_lower(p) for p in pkg_parts + outer + [name])
        return swift, c_type, c_low

    def _register_message(self, f, m, package, outer, path):
        full = ".".join([package] + outer + [m.name])
        swift, c_type, c_low = self._names(package, outer, m.name)
        self.types[full] = TypeInfo(full, "message", swift, c_type, c_low, m, path, f)
        for i, n in enumerate(m.nested):
            self._register_message(f, n, package, outer + [m.name], path + (3, i))
        for i, e in enumerate(m.enums):
            self._register_enum(f, e, package, outer + [m.name], path + (4, i))

    def _register_enum(self, f, e, package, outer, path):
        full = ".".join([package] + outer + [e.name])
        swift, c_type, c_low = self._names(package, outer, e.name)
        self.types[full] = TypeInfo(full, "enum", swift, c_type, c_low, e, path, f)

    def messages_of(self, f):
        return [t for t in self.types.values() if t.file is f and t.kind == "message" and not t.desc.map_entry]

    def enums_of(self, f):
        return [t for t in self.types.values() if t.file is f and t.kind == "enum"]

    def all_messages(self):
        return [t for t in self.types.values() if t.kind == "message" and not t.desc.map_entry]

    # Field typing

    def is_map(self, fd):
        if fd.label != LABEL_REPEATED or fd.type != T_MESSAGE:
            return False
        return self.types[fd.type_name].desc.map_entry

    def map_parts(self, fd):
        entry = self.types[fd.type_name].desc
        key = next(x for x in entry.fields if x.number == 1)
        value = next(x for x in entry.fields if x.number == 2)
        return entry, key, value

    def element_type(self, fd):
        if fd.type in SCALARS:
            return SCALARS[fd.type]
        if fd.type == T_BOOL:
            return "Bool"
        if fd.type == T_STRING:
            return "String"
        if fd.type == T_BYTES:
            return "[UInt8]"
        if fd.type in (T_MESSAGE, T_ENUM):
            return self.types[fd.type_name].swift
        raise ValueError(f"unsupported field type {fd.type} for {fd.name}")

    def swift_type(self, fd):
        if self.is_map(fd):
            _, key, value = self.map_parts(fd)
            if key.type in (T_BOOL, T_BYTES):
                raise ValueError(f"map {fd.name}: only integer and string keys are supported")
            return f"[{self.element_type(key)}: {self.element_type(value)}]"
        element = self.element_type(fd)
        if fd.label == LABEL_REPEATED:
            return f"[{element}]"
        if fd.type == T_MESSAGE:
            return f"{element}?"
        return element

    def default_value(self, fd):
        if self.is_map(fd):
            return "[:]"
        if fd.label == LABEL_REPEATED:
            return "[]"
        return self.element_default(fd)

    def element_default(self, fd):
        if fd.type == T_MESSAGE:
            return "nil"
        if fd.type == T_BOOL:
            return "false"
        if fd.type == T_STRING:
            return '""'
        if fd.type == T_BYTES:
            return "[]"
        if fd.type == T_ENUM:
            return ".init(rawValue: 0)"
        return "0"

    def oneof_fields(self, m):
        groups = {}
        for fd in m.fields:
            if fd.oneof_index >= 0 and not fd.proto3_optional:
                groups.setdefault(fd.oneof_index, []).append(fd)
        return groups

    def plain_fields(self, m):
        return [fd for fd in m.fields if fd.oneof_index < 0]

    # C conversion expressions

    def read_element(self, fd, expr, path):
        """Swift expression turning the C value `expr` of one element into its Swift value."""
        if fd.type == T_STRING:
            return f'try cString({expr}, field: "{path}")'
        if fd.type == T_BYTES:
            return f"cBytes({expr})"
        if fd.type == T_BOOL:
            return f"{expr} != 0"
        if fd.type == T_ENUM:
            return f"{self.types[fd.type_name].swift}(rawValue: Int32(truncatingIfNeeded: {expr}.rawValue))"
        if fd.type == T_MESSAGE:
            return f"try {self.types[fd.type_name].swift}(cMessage: {expr})"
        return expr

    def write_element(self, fd, expr, path, explicit=False):
        """Swift expression turning the Swift value `expr` of one element into its C value."""
        if fd.type == T_STRING:
            return f'try arena.string({expr}, field: "{path}")'
        if fd.type == T_BYTES:
            return f"arena.bytes({expr})"
        if fd.type == T_BOOL:
            return f"protobuf_c_boolean({expr} ? 1 : 0)" if explicit else f"{expr} ? 1 : 0"
        if fd.type == T_ENUM:
            c_type = self.types[fd.type_name].c_type if explicit else ""
            return f"{c_type}.init(rawValue: .init(truncatingIfNeeded: {expr}.rawValue))"
        if fd.type == T_MESSAGE:
            return f"try arena.message({expr})"
        return expr

    def read_field(self, fd, m_name):
        c = fd.name
        prop = lower_camel(fd.name)
        path = f"{m_name}.{fd.name}"
        if self.is_map(fd):
            _, key, value = self.map_parts(fd)
            k = self.read_element(key, "entry.key", path + ".key")
            v = self.read_element(value, "entry.value", path + ".value")
            if value.type == T_MESSAGE:
                msg = self.types[value.type_name].swift
                v = f"try entry.value.map {{ try {msg}(cMessage: $0) }} ?? {msg}()"
            return [
                f"for pointer in cElements(c.{c}, count: c.n_{c}) {{",
                "    let entry = pointer.pointee",
                f"    self.{prop}[{k}] = {v}",
                "}",
            ]
        if fd.label == LABEL_REPEATED:
            if fd.type == T_MESSAGE:
                elem = self.read_element(fd, "$0", path)
                return [f"self.{prop} = try cElements(c.{c}, count: c.n_{c}).map {{ {elem} }}"]
            elem = self.read_element(fd, "$0", path)
            try_prefix = "try " if elem.startswith("try ") else ""
            return [f"self.{prop} = {try_prefix}cArray(c.{c}, count: c.n_{c}).map {{ {elem} }}"]
        if fd.type == T_MESSAGE:
            msg = self.types[fd.type_name].swift
            return [f"self.{prop} = try c.{c}.map {{ try {msg}(cMessage: $0) }}"]
        return [f"self.{prop} = {self.read_element(fd, 'c.' + c, path)}"]

    def write_field(self, fd, m_name):
        c = fd.name
        prop = lower_camel(fd.name)
        path = f"{m_name}.{fd.name}"
        if self.is_map(fd):
            entry, key, value = self.map_parts(fd)
            entry_info = self.types[fd.type_name]
            k = self.write_element(key, "key", path + ".key")
            v = self.write_element(value, "value", path + ".value")
            return [
                f"(c.pointee.n_{c}, c.pointee.{c}) = try arena.map(",
                f"    self.{prop}, initEntry: {entry_info.c_lower}__init",
                ") { entry, key, value in",
                f"    entry.pointee.key = {k}",
                f"    entry.pointee.value = {v}",
                "}",
            ]
        if fd.label == LABEL_REPEATED:
            if fd.type == T_MESSAGE:
                return [f"(c.pointee.n_{c}, c.pointee.{c}) = try arena.messages(self.{prop})"]
            if fd.type == T_STRING:
                return [f'(c.pointee.n_{c}, c.pointee.{c}) = try arena.strings(self.{prop}, field: "{path}")']
            elem = self.write_element(fd, "$0", path, explicit=True)
            if elem == "$0":
                return [f"(c.pointee.n_{c}, c.pointee.{c}) = arena.array(self.{prop})"]
            return [f"(c.pointee.n_{c}, c.pointee.{c}) = arena.array(self.{prop}.map {{ {elem} }})"]
        if fd.type == T_MESSAGE:
            return [f"c.pointee.{c} = try self.{prop}.map {{ try arena.message($0) }}"]
        return [f"c.pointee.{c} = {self.write_element(fd, 'self.' + prop, path)}"]

    # Emission

    def comment(self, t, suffix=()):
        return t.file.comments.get(t.path + tuple(suffix))

    def emit_enum(self, t, out):
        e = t.desc
        prefix = camel_to_upper_snake(e.name) + "_"
        cases = []
        for v in e.values:
            name = v.name[len(prefix):] if v.name.startswith(prefix) else v.name
            cases.append((lower_camel(name), v))
        short = t.swift.split(".")[-1]
        out += doc_lines(self.comment(t)) or [f"/// The `{t.full.strip('.')}` enumeration."]
        out.append(f"public enum {short}: Sendable, Hashable, CaseIterable {{")
        for i, (name, v) in enumerate(cases):
            out += doc_lines(t.file.comments.get(t.path + (2, i)), "    ")
            out.append(f"    case {name}")
        out.append("    /// A value this build does not know, kept so that it survives a round trip.")
        out.append("    case unrecognized(Int32)")
        out.append("")
        out.append("    /// Every value this build knows.")
        out.append(f"    public static let allCases: [{short}] = [{', '.join('.' + bare(n) for n, _ in cases)}]")
        out.append("")
        out.append("    /// Creates the value for a wire number, keeping unknown numbers as ``unrecognized(_:)``.")
        out.append("    public init(rawValue: Int32) {")
        out.append("        switch rawValue {")
        for name, v in cases:
            out.append(f"        case {v.number}: self = .{bare(name)}")
        out.append("        default: self = .unrecognized(rawValue)")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The number this value has on the wire.")
        out.append("    public var rawValue: Int32 {")
        out.append("        switch self {")
        for name, v in cases:
            out.append(f"        case .{bare(name)}: return {v.number}")
        out.append("        case .unrecognized(let value): return value")
        out.append("        }")
        out.append("    }")
        out.append("}")

    def emit_message(self, t, out):
        m = t.desc
        short = t.swift.split(".")[-1]
        proto_name = t.full.strip(".")
        out += doc_lines(self.comment(t)) or [f"/// The `{proto_name}` message."]
        out.append(f"public struct {short}: ProtoMessage {{")
        oneofs = self.oneof_fields(m)
        members = []
        for fd in m.fields:
            if fd.oneof_index >= 0:
                continue
            idx = m.fields.index(fd)
            out += doc_lines(t.file.comments.get(t.path + (2, idx)), "    ")
            out.append(f"    public var {lower_camel(fd.name)}: {self.swift_type(fd)} = {self.default_value(fd)}")
            members.append((lower_camel(fd.name), self.swift_type(fd), self.default_value(fd)))
        for index, fields in oneofs.items():
            name = m.oneofs[index].name
            enum_name = upper_camel(name)
            out += doc_lines(t.file.comments.get(t.path + (8, index)), "    ")
            out.append(f"    public var {lower_camel(name)}: {enum_name}? = nil")
            members.append((lower_camel(name), f"{enum_name}?", "nil"))
        for index, fields in oneofs.items():
            name = m.oneofs[index].name
            enum_name = upper_camel(name)
            if any(n.name == enum_name for n in m.nested) or any(n.name == enum_name for n in m.enums):
                raise ValueError(f"oneof {name} of {proto_name} collides with a nested type")
            out.append("")
            out.append(f"    /// The choices of `{name}`.")
            out.append(f"    public enum {enum_name}: Sendable, Hashable {{")
            for fd in fields:
                idx = m.fields.index(fd)
                out += doc_lines(t.file.comments.get(t.path + (2, idx)), "        ")
                out.append(f"        case {lower_camel(fd.name)}({self.element_type(fd)})")
            out.append("    }")
        out.append("")
        if members:
            out.append("    /// Creates a message with every field at its default.")
            out.append("    public init() {}")
            out.append("")
            out.append("    /// Creates a message; every field not given keeps its default.")
            params = ", ".join(f"{bare(n)}: {ty} = {d}" for n, ty, d in members)
            out.append(f"    public init({params}) {{")
            for n, _, _ in members:
                out.append(f"        self.{n} = {n}")
            out.append("    }")
        else:
            out.append("    /// Creates the message, which has no fields.")
            out.append("    public init() {}")
        out.append("")
        out.append(f'    public static let protoName = "{proto_name}"')
        out.append("")
        out.append("    public init(serializedBytes bytes: some Collection<UInt8>) throws(ProtocolError) {")
        out.append("        self = try CMessageCodec.decode(Self.self, from: bytes)")
        out.append("    }")
        out.append("")
        out.append("    public func serializedBytes() throws(ProtocolError) -> [UInt8] {")
        out.append("        try CMessageCodec.encode(self)")
        out.append("    }")
        out.append("}")

    def emit_conversion(self, t, out):
        m = t.desc
        proto_name = t.full.strip(".")
        oneofs = self.oneof_fields(m)
        needs_arena_unused = not m.fields
        out.append(f"extension {t.swift}: CMessageConvertible {{")
        out.append(f"    typealias CMessage = {t.c_type}")
        out.append("")
        out.append(f"    init(cMessage pointer: UnsafePointer<{t.c_type}>) throws {{")
        if m.fields:
            out.append("        let c = pointer.pointee")
        out.append("        self.init()")
        for fd in self.plain_fields(m):
            out += ["        " + line for line in self.read_field(fd, proto_name)]
        for index, fields in oneofs.items():
            name = lower_camel(m.oneofs[index].name)
            out.append(f"        switch c.{m.oneofs[index].name}_case.rawValue {{")
            for fd in fields:
                value = self.read_oneof_value(fd, proto_name)
                out.append(f"        case {fd.number}: self.{name} = .{bare(lower_camel(fd.name))}({value})")
            out.append(f"        default: self.{name} = nil")
            out.append("        }")
        out.append("    }")
        out.append("")
        arena = "_" if needs_arena_unused else "arena"
        label = "arena" if arena == "arena" else "arena _"
        out.append(f"    func fillCMessage(_ c: UnsafeMutablePointer<{t.c_type}>, {label}: CArena) throws {{")
        out.append(f"        {t.c_lower}__init(c)")
        for fd in self.plain_fields(m):
            out += ["        " + line for line in self.write_field(fd, proto_name)]
        for index, fields in oneofs.items():
            oneof = m.oneofs[index].name
            name = lower_camel(oneof)
            out.append(f"        switch self.{name} {{")
            for fd in fields:
                value = self.write_element(fd, "value", f"{proto_name}.{fd.name}")
                out.append(f"        case .{bare(lower_camel(fd.name))}(let value):")
                out.append(f"            c.pointee.{oneof}_case = .init(rawValue: {fd.number})")
                out.append(f"            c.pointee.{fd.name} = {value}")
            out.append("        case nil:")
            out.append("            break")
            out.append("        }")
        out.append("    }")
        out.append("")
        out.append(f"    static func packedSize(_ c: UnsafePointer<{t.c_type}>) -> Int {{")
        out.append(f"        {t.c_lower}__get_packed_size(c)")
        out.append("    }")
        out.append("")
        out.append(f"    static func pack(_ c: UnsafePointer<{t.c_type}>, into buffer: UnsafeMutablePointer<UInt8>) -> Int {{")
        out.append(f"        {t.c_lower}__pack(c, buffer)")
        out.append("    }")
        out.append("")
        out.append(f"    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<{t.c_type}>? {{")
        out.append(f"        {t.c_lower}__unpack(nil, bytes.count, bytes.baseAddress)")
        out.append("    }")
        out.append("")
        out.append(f"    static func freeUnpacked(_ c: UnsafeMutablePointer<{t.c_type}>) {{")
        out.append(f"        {t.c_lower}__free_unpacked(c, nil)")
        out.append("    }")
        out.append("}")

    def read_oneof_value(self, fd, proto_name):
        path = f"{proto_name}.{fd.name}"
        if fd.type == T_MESSAGE:
            msg = self.types[fd.type_name].swift
            return f"try c.{fd.name}.map {{ try {msg}(cMessage: $0) }} ?? {msg}()"
        return self.read_element(fd, f"c.{fd.name}", path)

    def file_stem(self, f):
        return upper_camel(f.name.split("/")[-1].replace(".proto", ""))

    def generate_file(self, f):
        out = [
            f"// Generated by scripts/generate-proto from proto/{f.name}. Do not edit.",
            "",
            "import CGnomonProto",
            "import CProtobufC",
            "",
        ]
        namespace = upper_camel(f.package.split(".")[-1])
        groups = {}
        for t in self.enums_of(f) + self.messages_of(f):
            outer = ".".join(t.swift.split(".")[:-1])
            groups.setdefault(outer, []).append(t)
        for outer in sorted(groups, key=lambda o: (o.count("."), o)):
            out.append(f"extension {outer} {{")
            for t in groups[outer]:
                body = []
                if t.kind == "enum":
                    self.emit_enum(t, body)
                else:
                    self.emit_message(t, body)
                out += ["    " + line if line else "" for line in body]
                out.append("")
            if out[-1] == "":
                out.pop()
            out.append("}")
            out.append("")
        out.append("// MARK: - C conversions")
        out.append("")
        for t in self.messages_of(f):
            self.emit_conversion(t, out)
            out.append("")
        assert namespace
        return "\n".join(out).rstrip() + "\n"

    def generate_methods(self):
        out = [
            "// Generated by scripts/generate-proto from proto/. Do not edit.",
            "",
            "extension MethodDescriptor {",
        ]
        names = []
        for f in self.files:
            for si, s in enumerate(f.services):
                for mi, meth in enumerate(s.methods):
                    if meth.client_streaming:
                        raise ValueError(f"{s.name}.{meth.name}: client streaming is not part of the protocol")
                    full = f"{f.package}.{s.name}/{meth.name}"
                    name = meth.name[0].lower() + meth.name[1:]
                    kind = ".serverStreaming" if meth.server_streaming else ".unary"
                    out += doc_lines(f.comments.get((6, si, 2, mi)), "    ") or [f"    /// `{full}`."]
                    out.append(f"    public static let {name} = MethodDescriptor(")
                    out.append(f'        fullName: "{full}",')
                    out.append(f"        kind: {kind},")
                    out.append(f"        requestType: {self.types[meth.input_type].swift}.self,")
                    out.append(f"        responseType: {self.types[meth.output_type].swift}.self")
                    out.append("    )")
                    out.append("")
                    names.append(name)
        out.append("    /// Every method of the protocol, in the order the services declare them.")
        out.append("    public static let all: [MethodDescriptor] = [")
        for name in names:
            out.append(f"        .{name},")
        out.append("    ]")
        out.append("}")
        return "\n".join(out) + "\n"

    def generate_digest(self, digest):
        return "\n".join(
            [
                "// Generated by scripts/generate-proto from proto/. Do not edit.",
                "",
                "extension ProtoSchema {",
                "    /// SHA-256 over the `.proto` files this code was generated from, each as its path, a NUL,",
                "    /// its bytes and a NUL, in path order. A test recomputes it to catch stale generated code.",
                f'    public static let sourceDigest = "{digest}"',
                "}",
                "",
            ]
        )

    # Test samples

    def sample_element(self, fd, variant, depth):
        if fd.type == T_MESSAGE:
            return f"{self.types[fd.type_name].swift}.testSample({variant})"
        if fd.type == T_ENUM:
            e = self.types[fd.type_name].desc
            if variant == 0:
                return f"{self.types[fd.type_name].swift}(rawValue: {e.values[-1].number})"
            return ".unrecognized(1_000)"
        if fd.type == T_STRING:
            if variant == 0:
                return '"gnomon \\u{2713} \\u{1F989} \\"q\\" \'); DROP TABLE jobs; --"'
            return 'String(repeating: "x\\u{E9}", count: 40_000)'
        if fd.type == T_BYTES:
            if variant == 0:
                return "[0x00, 0xFF, 0x7F, 0x80, 0x00]"
            return "[UInt8](repeating: 0xAB, count: 70_000)"
        if fd.type == T_BOOL:
            return "true"
        swift = SCALARS[fd.type]
        if swift in ("Double", "Float"):
            return f"{swift}.greatestFiniteMagnitude" if variant == 0 else f"-{swift}.leastNonzeroMagnitude"
        if swift.startswith("U"):
            return f"{swift}.max" if variant == 0 else "1"
        return f"{swift}.max" if variant == 0 else f"{swift}.min"

    def sample_field(self, fd, variant):
        if self.is_map(fd):
            _, key, value = self.map_parts(fd)
            if variant == 0:
                if key.type == T_STRING:
                    keys = ['"a"', '"\\u{43A}\\u{43B}\\u{44E}\\u{447}"', '""']
                else:
                    keys = [self.sample_element(key, 0, 0), self.sample_element(key, 1, 0), "0"]
                values = [self.sample_element(value, v, 0) for v in (0, 1, 0)]
                return "[" + ", ".join(f"{k}: {v}" for k, v in zip(keys, values)) + "]"
            k = '"k"' if key.type == T_STRING else "7"
            return f"[{k}: {self.sample_element(value, 1, 0)}]"
        if fd.label == LABEL_REPEATED:
            if variant == 0:
                items = [self.sample_element(fd, v, 0) for v in (0, 1, 0)]
                return "[" + ", ".join(items) + "]"
            return f"[{self.sample_element(fd, 1, 0)}]"
        return self.sample_element(fd, variant, 0)

    def sample_count(self, m):
        return max([2] + [len(fields) for fields in self.oneof_fields(m).values()])

    def generate_samples(self):
        out = [
            "// Generated by scripts/generate-proto from proto/. Do not edit.",
            "",
            "@testable import GnomonProtocol",
            "",
        ]
        for t in sorted(self.all_messages(), key=lambda t: t.swift):
            m = t.desc
            oneofs = self.oneof_fields(m)
            out.append(f"extension {t.swift}: SampledMessage {{")
            out.append("    /// A message with every field set; variants alternate extreme values and oneof choices.")
            out.append(f"    static func testSample(_ variant: Int) -> {t.swift} {{")
            if not m.fields:
                out.append(f"        {t.swift}()")
                out.append("    }")
                out.append("}")
                out.append("")
                continue
            out.append(f"        var sample = {t.swift}()")
            plain = self.plain_fields(m)
            if plain:
                out.append("        if variant % 2 == 0 {")
                for fd in plain:
                    out.append(f"            sample.{lower_camel(fd.name)} = {self.sample_field(fd, 0)}")
                out.append("        } else {")
                for fd in plain:
                    out.append(f"            sample.{lower_camel(fd.name)} = {self.sample_field(fd, 1)}")
                out.append("        }")
            for index, fields in oneofs.items():
                name = lower_camel(m.oneofs[index].name)
                out.append(f"        switch variant % {len(fields)} {{")
                for i, fd in enumerate(fields):
                    label = "default" if i == len(fields) - 1 else f"case {i}"
                    value = self.sample_element(fd, i % 2, 0)
                    out.append(f"        {label}:")
                    out.append(f"            sample.{name} = .{bare(lower_camel(fd.name))}({value})")
                out.append("        }")
            out.append("        return sample")
            out.append("    }")
            out.append("}")
            out.append("")
        out.append("/// Every message type with its samples: the empty message and each variant.")
        out.append("let allMessageSamples: [MessageSamples] = [")
        for t in sorted(self.all_messages(), key=lambda t: t.swift):
            count = self.sample_count(t.desc) if t.desc.fields else 0
            out.append(f"    MessageSamples({t.swift}.self, variants: {count}),")
        out.append("]")
        return "\n".join(out) + "\n"
