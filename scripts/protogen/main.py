"""Writes the generated Swift for Gnomon's protocol: python3 main.py DESCRIPTOR_SET PROTO_ROOT OUT_DIR."""

import hashlib
import os
import sys

from descriptor import read_descriptor_set
from swiftgen import Generator


def proto_digest(proto_root):
    digest = hashlib.sha256()
    paths = []
    for folder, _, names in os.walk(proto_root):
        for name in names:
            if name.endswith(".proto"):
                paths.append(os.path.relpath(os.path.join(folder, name), proto_root))
    for path in sorted(paths):
        digest.update(path.encode() + b"\0")
        with open(os.path.join(proto_root, path), "rb") as handle:
            digest.update(handle.read() + b"\0")
    return digest.hexdigest()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def main():
    descriptor_path, proto_root, out_dir = sys.argv[1:4]
    with open(descriptor_path, "rb") as handle:
        files = read_descriptor_set(handle.read())
    files = [f for f in files if f.package.startswith("gnomon.")]
    generator = Generator(files)
    sources = os.path.join(out_dir, "Sources", "GnomonProtocol", "Generated")
    for f in files:
        write(os.path.join(sources, f"V1+{generator.file_stem(f)}.swift"), generator.generate_file(f))
    write(os.path.join(sources, "MethodDescriptor+V1.swift"), generator.generate_methods())
    write(os.path.join(sources, "ProtoSchema+Digest.swift"), generator.generate_digest(proto_digest(proto_root)))
    tests = os.path.join(out_dir, "Tests", "GnomonProtocolTests", "Generated")
    write(os.path.join(tests, "MessageSamples+Generated.swift"), generator.generate_samples())


if __name__ == "__main__":
    main()
