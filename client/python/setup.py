"""Builds the package with its gRPC stubs generated from ../../proto/edbp/v1 (never
vendored): with grpc_tools.protoc where grpcio-tools is installed, else with protoc and
grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc)."""

import pathlib
import shutil
import subprocess
import sys

from setuptools import setup

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
PROTOS = ["job", "metrics", "training_service", "worker"]


def generate(out: pathlib.Path) -> None:
    files = [str(PROTO_ROOT / "edbp" / "v1" / f"{p}.proto") for p in PROTOS]
    for f in files:
        if not pathlib.Path(f).is_file():
            sys.exit(f"edbp setup.py: {f} is missing: build from the edbp repository")
    (out / "edbp" / "v1").mkdir(parents=True, exist_ok=True)
    try:
        from grpc_tools import protoc  # noqa: PLC0415

        args = ["protoc", f"-I{PROTO_ROOT}", f"--python_out={out}",
                f"--grpc_python_out={out}", *files]
        if protoc.main(args) != 0:
            sys.exit("edbp setup.py: grpc_tools.protoc failed")
    except ImportError:
        plugin = shutil.which("grpc_python_plugin")
        compiler = shutil.which("protoc")
        if plugin is None or compiler is None:
            sys.exit("edbp setup.py: needs grpcio-tools, or protoc and grpc_python_plugin")
        subprocess.check_call([compiler, f"-I{PROTO_ROOT}", f"--python_out={out}",
                               f"--grpc_out={out}", f"--plugin=protoc-gen-grpc={plugin}",
                               *files])
    (out / "edbp" / "v1" / "__init__.py").touch()


# Before setup(): the metadata step already lists edbp/v1. The stubs go next to the
# sources (edbp/v1/, ignored by git), where build_py picks them up.
generate(HERE)
setup()
