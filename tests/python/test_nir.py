#!/usr/bin/env python3
"""Issue 20: the NIR export of configs/small.yaml read with h5py and simulated with numpy.

edbp-train trains the small network for one step on synthetic data (for weights that
fire), exports it with --export-nir and writes edbp's own forward of one sample with
--inspect-step (its input `inputs` and its output spikes `outputs_raw`). This test then

1. checks the file's layout as nir.read expects it: `version`, `node/type` = NIRGraph,
   every node's `type`, the parameter shapes, the edges (variable-length UTF-8 strings);
2. runs a discrete simulation of the NIR graph with numpy (the integrator of
   docs/ALGORITHM.md §14, float64): dt = 1; each step's value enters every node in edge
   order within the step; a CubaLIF takes its input as a pulse at the step's start
   (I += w_in·x/tau_syn), integrates exactly over the step
   (v = v·e^{-1/tau_mem} + r·I·tau_syn/(tau_mem - tau_syn)·(e^{-1/tau_mem} - e^{-1/tau_syn}),
   then I = I·e^{-1/tau_syn}) and compares at the step's end;
3. compares it with edbp's forward, under two rule sets:
   - "edbp rules" (the differences §14 lists undone: a spike at v >= threshold, and a
     spike resets I as well as v): the output spike trains must equal edbp's exactly;
   - "NIR rules" (v > threshold, reset v only, as NIR defines CubaLIF): identical up to
     the first step in which any neuron of the network spikes, different after (the
     test prints the output spike counts of both).

Measured (configs/small.yaml after one training step on 2 synthetic samples, seed 0;
8 synthetic samples, T = 5; AMD EPYC): edbp rules: all 400 output spike entries equal
edbp's forward (15 spikes), and NIR's v at every step's end is edbp's two-trace u within
4.4e-6 (float32 parameters, float64 simulation); NIR rules: identical through each
sample's first spike anywhere, then more spikes in every layer (conv_1 59502 against
34897, conv_2 20099 / 9683, FC_1 2205 / 1047, output 53 / 15): the reset that keeps I.

Skipped (exit 77) where h5py or numpy is missing (Debian: python3-h5py python3-numpy).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: {e} (install python3-h5py and python3-numpy)")
    sys.exit(77)

TRAIN = os.environ.get("EDBP_TRAIN_BIN", "build/bin/edbp-train")
CONFIG = "configs/small.yaml"
SAMPLES = 8  # of edbp's forward, each simulated on its own


def run(*args):
    r = subprocess.run([TRAIN, CONFIG, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"edbp-train {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
    return out


def conv2d(x, w, stride, padding, dilation):
    """x [C, H, W], w [O, C, kh, kw] -> [O, H', W'] (cross-correlation, as PyTorch)."""
    c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((o, ho, wo))
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dilation[0], j * dilation[1]
            patch = xp[:, y0:y0 + stride[0] * (ho - 1) + 1:stride[0],
                       x0:x0 + stride[1] * (wo - 1) + 1:stride[1]]
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    return out


def avg_pool(x, kernel, stride):
    c, h, w = x.shape
    ho, wo = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    out = np.zeros((c, ho, wo))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            out += x[:, i:i + stride[0] * (ho - 1) + 1:stride[0],
                     j:j + stride[1] * (wo - 1) + 1:stride[1]]
    return out / (kernel[0] * kernel[1])


def simulate(graph, order, inputs, edbp_rules, gap=None):
    """inputs [T, C, H, W]; returns {node: [T, ...] spikes} of every CubaLIF.

    With `gap` (a one-element list), edbp's own two-trace neuron (§2: m, s, u) runs
    beside every CubaLIF on the same input, θ = 1 - e^{-1/tau}, and gap[0] becomes the
    largest |v - u| seen before any reset.
    """
    state = {n: None for n in order}
    traces = {}
    spikes = {n: [] for n in order if graph[n]["type"] == "CubaLIF"}
    for x in inputs:
        v_in = np.asarray(x, dtype=np.float64)
        for name in order:
            g = graph[name]
            t = g["type"]
            if t == "Conv2d":
                v_in = conv2d(v_in, g["weight"], g["stride"], g["padding"], g["dilation"])
                v_in += g["bias"][:, None, None]
            elif t == "AvgPool2d":
                v_in = avg_pool(v_in, g["kernel_size"], g["stride"])
            elif t == "Flatten":
                v_in = v_in.reshape(-1)
            elif t == "Affine":
                v_in = g["weight"] @ v_in + g["bias"]
            elif t == "CubaLIF":
                if state[name] is None:
                    state[name] = (np.zeros_like(v_in), np.zeros_like(v_in))
                i_syn, v = state[name]
                am, as_ = np.exp(-1 / g["tau_mem"]), np.exp(-1 / g["tau_syn"])
                i_syn = i_syn + g["w_in"] * v_in / g["tau_syn"]
                v = g["v_leak"] + (v - g["v_leak"]) * am + g["r"] * i_syn * g["tau_syn"] / (
                    g["tau_mem"] - g["tau_syn"]) * (am - as_)
                i_syn = i_syn * as_
                if gap is not None:
                    m, s = traces.get(name, (np.zeros_like(v_in), np.zeros_like(v_in)))
                    tm, ts = 1 - am, 1 - as_
                    m, s = (m + v_in) * (1 - tm), (s + v_in) * (1 - ts)
                    gap[0] = max(gap[0], float(np.abs((m - s) * ts / (ts - tm) - v).max()))
                z = v >= g["v_threshold"] if edbp_rules else v > g["v_threshold"]
                v = np.where(z, g["v_reset"], v)
                if edbp_rules:
                    i_syn = np.where(z, 0.0, i_syn)
                if gap is not None:
                    traces[name] = (np.where(z, 0.0, m), np.where(z, 0.0, s))
                state[name] = (i_syn, v)
                v_in = z.astype(np.float64)
                spikes[name].append(z)
            elif t in ("Input", "Output"):
                pass
            else:
                sys.exit(f"unexpected node type {t}")
    return {n: np.array(s) for n, s in spikes.items()}


def main():
    with tempfile.TemporaryDirectory(prefix="edbp_nir_") as tmp:
        run("--synthetic-data", "--data-limit", "2", "--batch-size", "2", "--epochs", "1",
            "--notensorboard", "--out-dir", os.path.join(tmp, "run"))
        ckpt = os.path.join(tmp, "run", "checkpoint_last.safetensors")
        nir_path = os.path.join(tmp, "small.nir")
        out = run("--init-weights", ckpt, "--export-nir", nir_path)
        assert "wrote " + nir_path in out, out
        step_path = os.path.join(tmp, "step.safetensors")
        run("--init-weights", ckpt, "--synthetic-data", "--data-limit", str(SAMPLES),
            "--batch-size", str(SAMPLES), "--inspect-step", step_path)
        step = read_safetensors(step_path)

        with h5py.File(nir_path, "r") as f:
            assert h5py.check_string_dtype(f["version"].dtype).encoding == "utf-8"
            assert f["version"][()] == b"1.0.0", f["version"][()]
            node = f["node"]
            assert node["type"][()] == b"NIRGraph"
            edges = [(a.decode(), b.decode()) for a, b in node["edges"][()]]
            assert h5py.check_string_dtype(node["edges"].dtype).encoding == "utf-8"
            order = ["input"] + [b for _, b in edges]
            assert [a for a, _ in edges] == order[:-1], edges
            graph = {}
            for name in order:
                g = node["nodes"][name]
                graph[name] = {k: g[k][()] for k in g.keys()}
                graph[name]["type"] = graph[name]["type"].decode()
        types = [graph[n]["type"] for n in order]
        assert types == ["Input", "Conv2d", "CubaLIF", "AvgPool2d", "Conv2d", "CubaLIF",
                         "AvgPool2d", "Flatten", "Affine", "CubaLIF", "Affine", "CubaLIF",
                         "Output"], types
        assert list(graph["input"]["shape"]) == [1, 28, 28]
        assert graph["conv_1.synapse"]["weight"].shape == (15, 1, 5, 5)
        assert graph["conv_1.synapse"]["weight"].dtype == np.float32
        assert graph["conv_1.lif"]["v_threshold"].shape == (15, 24, 24)
        assert graph["conv_2.synapse"]["weight"].shape == (40, 15, 5, 5)
        assert graph["conv_2.lif"]["tau_mem"].shape == (40, 8, 8)
        assert list(graph["FC_1.flatten"]["input_type"]) == [40, 4, 4]
        assert graph["FC_1.synapse"]["weight"].shape == (300, 640)
        assert graph["output.synapse"]["weight"].shape == (10, 300)
        assert graph["output.lif"]["w_in"].shape == (10,)
        assert list(graph["output"]["shape"]) == [10]
        assert graph["conv_1.synapse"]["stride"].dtype == np.int64
        # §14's mapping for tau_m = 5, tau_s = 3: one-step decays 0.8 and 2/3.
        assert abs(np.exp(-1 / float(graph["conv_1.lif"]["tau_mem"].flat[0])) - 0.8) < 1e-6
        assert abs(np.exp(-1 / float(graph["conv_1.lif"]["tau_syn"].flat[0])) - 2 / 3) < 1e-6

        xs = step["inputs"]  # [T, B, 1, 28, 28]: the samples as edbp's forward saw them
        wants = step["outputs_raw"] > 0.5  # [T, B, 10]
        assert xs.shape == (5, SAMPLES, 1, 28, 28), xs.shape
        equal = total = edbp_spikes = 0
        gap = [0.0]
        layer_counts = {}
        for b in range(SAMPLES):
            exact = simulate(graph, order, xs[:, b], edbp_rules=True, gap=gap)
            nir = simulate(graph, order, xs[:, b], edbp_rules=False)
            got, want = exact["output.lif"], wants[:, b]
            equal += int((got == want).sum())
            total += want.size
            edbp_spikes += int(want.sum())
            assert (got == want).all(), (b, got.astype(int).tolist(), want.astype(int).tolist())
            # NIR rules: identical through the step of the first spike anywhere.
            first = min(int(np.argmax(s.reshape(len(s), -1).any(1)))
                        for s in exact.values() if s.any())
            for name in exact:
                assert (exact[name][:first + 1] == nir[name][:first + 1]).all(), (b, name)
                e, n = layer_counts.get(name, (0, 0))
                layer_counts[name] = (e + int(exact[name].sum()), n + int(nir[name].sum()))
        print(f"edbp rules: {equal} of {total} output spike entries ({SAMPLES} samples x 5 "
              f"steps x 10 classes) equal edbp's forward, {edbp_spikes} of them spikes")
        assert edbp_spikes > 0, "the trained network should fire at its output"
        # §14's derivation in numbers: NIR's v at each step's end is edbp's u.
        print(f"largest |v_NIR - u_edbp| over every neuron and step: {gap[0]:.2e}")
        assert gap[0] < 1e-4, gap[0]
        for name, (e, n) in layer_counts.items():
            print(f"  {name}: {e} spikes with edbp rules, {n} with NIR rules "
                  f"(v > threshold, reset v only; identical through each sample's first "
                  f"spike anywhere)")
        print("nir_python_test OK")


if __name__ == "__main__":
    main()
