#!/usr/bin/env bash
# Regenerates Sources/InteropONNX/Generated/onnx.pb.swift, the Swift types of ONNX's onnx.proto that the ONNX
# reader and writer use (Schemas/onnx.md section 5). The generated file is committed: builds and CI need only the
# SwiftProtobuf runtime library and never build the code generator.
#
#   scripts/generate-onnx-proto.sh [--update-proto PATH]
#
# --update-proto copies PATH (onnx/onnx.proto from the onnx Python package, e.g.
# .venv/lib/python3.11/site-packages/onnx/onnx.proto) to Sources/InteropONNX/Proto/onnx.proto first, with a header
# saying where it came from; without it the committed copy is used. Needs:
#   - protoc (Debian: apt-get install protobuf-compiler; 3.21.12 made the committed file);
#   - protoc-gen-swift from apple/swift-protobuf 1.39.0, the runtime version Package.swift asks for, built once
#     outside the repository:
#       git clone https://github.com/apple/swift-protobuf /tmp/swift-protobuf && cd /tmp/swift-protobuf &&
#       git checkout 1.39.0 && swift build -c release --product protoc-gen-swift
#     and named by PROTOC_GEN_SWIFT (default /tmp/swift-protobuf/.build/release/protoc-gen-swift).
# The proto2 file (not onnx.proto3) is used: proto2 writes repeated integers unpacked, as the export always did.
set -euo pipefail
cd "$(dirname "$0")/.."

proto_dir=Sources/InteropONNX/Proto
out_dir=Sources/InteropONNX/Generated
plugin="${PROTOC_GEN_SWIFT:-/tmp/swift-protobuf/.build/release/protoc-gen-swift}"

if [[ "${1:-}" == "--update-proto" ]]; then
    src="${2:?--update-proto needs the path of onnx.proto}"
    version=$(python3 - "$src" <<'PY' 2>/dev/null || true
import pathlib, re, sys
meta = sorted(pathlib.Path(sys.argv[1]).resolve().parent.parent.glob("onnx-*.dist-info/METADATA"))
print(next((l.split(": ", 1)[1].strip() for l in meta[0].read_text().splitlines() if l.startswith("Version: ")), "") if meta else "")
PY
)
    {
        echo "// Copied unchanged below this header from onnx/onnx.proto of the onnx Python package${version:+ $version} (PyPI),"
        echo "// https://github.com/onnx/onnx, Copyright (c) ONNX Project Contributors, Apache License 2.0 (the file's"
        echo "// SPDX line below). Regenerate the Swift types with scripts/generate-onnx-proto.sh."
        cat "$src"
    } > "$proto_dir/onnx.proto"
fi

[[ -x "$plugin" ]] || { echo "generate-onnx-proto.sh: no protoc-gen-swift at $plugin (set PROTOC_GEN_SWIFT; see the header)" >&2; exit 69; }
command -v protoc >/dev/null || { echo "generate-onnx-proto.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 69; }
[[ "$("$plugin" --version)" == *"1.39.0"* ]] || { echo "generate-onnx-proto.sh: $plugin is not protoc-gen-swift 1.39.0" >&2; exit 69; }

protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$proto_dir" \
    --swift_opt=Visibility=Internal --swift_opt=FileNaming=DropPath --swift_out="$out_dir" onnx.proto
echo "wrote $out_dir/onnx.pb.swift from $proto_dir/onnx.proto ($(protoc --version), $("$plugin" --version))"
