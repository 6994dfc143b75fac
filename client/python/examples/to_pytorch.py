#!/usr/bin/env python3
"""Loads a checkpoint downloaded from edbp-server (`client.download(job, path=...)` or
`edbp-client download`) into the layout of the reference's PyTorch model: the same
state_dict keys (net.{i}.weight, net.{i}.norm_weight, net.{i}.norm_bias) and shapes.
Prints every key with its shape; with torch installed, also builds the state_dict of
torch tensors that the reference's `model.load_state_dict(state, strict=False)` takes
(edbp's optimizer moments are left out).

    python3 client/python/examples/to_pytorch.py CHECKPOINT.safetensors
"""

import json
import struct
import sys


def read_safetensors(path):
    """{name: (shape, raw little-endian float32 bytes)} and the metadata."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        tensors[name] = (info["shape"], data[begin:end])
    return tensors, meta


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tensors, meta = read_safetensors(sys.argv[1])
    model = {k: v for k, v in sorted(tensors.items()) if k.startswith("net.")}
    print(f"{sys.argv[1]}: epoch {meta.get('epoch', '?')}, {len(model)} model tensors")
    for name, (shape, _) in model.items():
        print(f"  {name:32} {shape}")
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        print("(torch is not installed: the state_dict was not built)")
        return 0
    state = {
        name: torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape)
        for name, (shape, raw) in model.items()
    }
    print(f"state_dict of {len(state)} tensors, "
          f"{sum(t.numel() for t in state.values())} parameters: "
          "model.load_state_dict(state, strict=False)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
