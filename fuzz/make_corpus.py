#!/usr/bin/env python3
"""Writes the seed corpus of the libFuzzer targets into fuzz/corpus/<target>/.

Small valid inputs of each format (and a few near misses), made here so that the
corpus in the repository can be rebuilt and explained. Run from the repository root:

  fuzz/make_corpus.py [--checkpoint FILE]

FILE is an edbp checkpoint of fuzz/tiny_network.h, written by the safetensors fuzzer:
  EDBP_FUZZ_WRITE_CHECKPOINT=FILE build-fuzz/fuzz/edbp_fuzz_safetensors
The report seeds are encoded with protoc (--encode) from proto/.
"""
import argparse
import glob
import gzip
import json
import os
import shutil
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tiny_yaml():
    text = open(os.path.join(ROOT, "fuzz", "tiny_network.h")).read()
    return text.split('R"(', 1)[1].split(')";', 1)[0]


def configs():
    for path in sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml"))):
        put("config", os.path.basename(path), open(path, "rb").read())
    put("config", "tiny.yaml", tiny_yaml())


def safetensors_file(tensors, metadata=None, pad=True):
    """tensors: [(name, shape, floats)] laid out contiguously in order."""
    header, data, offset = {}, b"", 0
    for name, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    while pad and (8 + len(text)) % 8:
        text += b" "
    return struct.pack("<Q", len(text)) + text + data


def safetensors(checkpoint):
    if checkpoint:
        put("safetensors", "tiny_checkpoint.safetensors", open(checkpoint, "rb").read())
    put("safetensors", "two_tensors.safetensors", safetensors_file(
        [("a", [2, 3], [0.5 * i for i in range(6)]), ("b", [4], [1, -1, 2, -2])],
        {"format": "edbp-checkpoint-1", "epoch": "3"}))
    put("safetensors", "empty_tensor.safetensors",
        safetensors_file([("e", [0, 5], []), ("s", [], [7.0])]))
    put("safetensors", "no_tensors.safetensors", safetensors_file([], {"k": "v"}))


def idx_pair(count, rows, cols, limit, gz_images=False, gz_labels=False):
    images = struct.pack(">IIII", 0x803, count, rows, cols) + bytes(
        (i * 37) % 256 for i in range(count * rows * cols))
    labels = struct.pack(">II", 0x801, count) + bytes(i % 10 for i in range(count))
    if gz_images:
        images = gzip.compress(images, mtime=0)
    if gz_labels:
        labels = gzip.compress(labels, mtime=0)
    return bytes([limit]) + struct.pack(">I", len(images)) + images + labels


def idx():
    put("idx", "raw_3x4x5", idx_pair(3, 4, 5, 0))
    put("idx", "raw_limit2", idx_pair(4, 2, 3, 2))
    put("idx", "gzip_both", idx_pair(3, 4, 5, 0, True, True))
    put("idx", "gzip_images", idx_pair(2, 3, 3, 1, True, False))
    put("idx", "empty_set", idx_pair(0, 1, 1, 0))


def cifar():
    def record(label_bytes, label):
        return bytes(label_bytes) + bytes((label + i) % 256 for i in range(3072))

    put("cifar", "cifar10_2", bytes([0]) + record([3], 3) + record([9], 9))
    put("cifar", "cifar10_limit1", bytes([2]) + record([1], 1) + record([2], 2))
    put("cifar", "cifar100_2", bytes([1]) + record([4, 42], 42) + record([19, 99], 99))


def nmnist():
    def event(x, y, polarity, t):
        return bytes([x, y, (polarity << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])

    events = b"".join(event((3 * i) % 34, (5 * i) % 34, i % 2, 100 * i) for i in range(20))
    put("nmnist", "steps3_20events", bytes([2]) + events)
    put("nmnist", "steps1_20events", bytes([0]) + events)
    put("nmnist", "steps30_4events", bytes([29]) + events[:20])
    put("nmnist", "no_events", bytes([4]))


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def frame_cache_file(labels, samples, frames=3, shape=(2, 34, 34)):
    """samples: per sample a list of (index, count), indices increasing. The key is
    fuzz/frame_cache_fuzzer.cc's."""
    key = b"NMNIST|/fuzz/Train|train|T=3|files=0123456789abcdef"
    out = b"EDBPFRMC" + struct.pack("<II", 1, len(key)) + key
    counts = [c for s in samples for c in s]
    out += struct.pack("<qqqqqQ", *shape, frames, len(samples), len(counts))
    out += struct.pack("<%di" % len(labels), *labels)
    offsets, at = [0], 0
    for s in samples:
        at += len(s)
        offsets.append(at)
    out += struct.pack("<%dQ" % len(offsets), *offsets)
    out += b"".join(struct.pack("<II", i, c) for i, c in counts)
    return out + struct.pack("<Q", fnv1a64(out))


def frame_cache():
    valid = frame_cache_file([1, 7, 0], [[(0, 2), (35, 1), (6935, 4)], [], [(100, 1)]])
    put("frame_cache", "valid_3", bytes([0]) + valid)
    put("frame_cache", "valid_3_fixsum", bytes([1]) + valid)
    put("frame_cache", "valid_empty", bytes([1]) + frame_cache_file([], []))


REPORTS = {
    "progress": 'event { progress { epoch: 1 batch: 10 batches: 100 running_loss: 0.5 '
                'running_accuracy: 0.8 samples_per_second: 1200 eta_seconds: 3 } }',
    "epoch": 'event { epoch_metrics { epoch: 1 epochs: 2 train_loss: 0.7 '
             'train_accuracy: 0.75 test_loss: 0.8 test_accuracy: 0.7 '
             'learning_rate: 0.001 seconds: 12.5 train_samples: 60000 '
             'test_samples: 10000 n_class: 2 confusion: [40, 10, 5, 45] '
             'layers { name: "conv_1" index: 0 grad_norm: 0.1 firing_rate: 0.2 } '
             'best: true } }',
    "log": 'event { log { level: WARNING text: "epoch 1: 3 silent layers" } }',
    "checkpoint": 'event { checkpoint_saved { epoch: 1 kind: "last" } }',
    "state_change": 'event { state_change { state: SUCCEEDED } }',
    "other_job": 'job_id: "999" event { log { level: INFO text: "x" } }',
    "no_event": '',
}


def report():
    for name, text in REPORTS.items():
        encoded = subprocess.run(
            ["protoc", "--encode=edbp.v1.ReportRequest", "-I", os.path.join(ROOT, "proto"),
             "edbp/v1/worker.proto"], input=text.encode(), capture_output=True, check=True)
        put("report", name, encoded.stdout)


def aedat():
    """[u8 format: 0 AEDAT 3.1, 1 AEDAT 2.0, 2 labels][u8 n_steps - 1][the file]."""
    header31 = b"#!AER-DAT3.1\r\n#!END-HEADER\r\n"

    def packet(kind, size, overflow, capacity, events):
        return struct.pack("<hhiiiiii", kind, 1, size, 4, overflow, capacity, capacity,
                           capacity) + events

    def polarity(x, y, p, t):
        return struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | 1, t)

    put("aedat", "aedat31", bytes([0, 3]) + header31 +
        packet(1, 8, 0, 2, polarity(1, 2, 1, 10) + polarity(127, 127, 0, 20)) +
        packet(2, 16, 0, 1, bytes(16)) + packet(1, 8, 1, 1, polarity(5, 6, 1, 5)))

    def event20(x, y, p, t):
        return struct.pack(">II", (y << 8) | (x << 1) | p, t)

    put("aedat", "aedat20", bytes([1, 1]) + b"#!AER-DAT2.0\r\n# raw\r\n" +
        event20(1, 2, 1, 7) + event20(127, 0, 0, 9))
    put("aedat", "labels",
        bytes([2, 0]) + b"class,startTime_usec,endTime_usec\r\n3,10,30\r\n11,40,40\r\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="the tiny network's checkpoint to include")
    args = parser.parse_args()
    for target in ("config", "safetensors", "idx", "cifar", "nmnist", "frame_cache",
                   "aedat", "report"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    configs()
    safetensors(args.checkpoint)
    idx()
    cifar()
    nmnist()
    frame_cache()
    aedat()
    report()


if __name__ == "__main__":
    main()
