"""Issue 24: the Python package `edbp` against a real edbp-server (label python).

Run by ctest with PYTHONPATH=build/python and EDBP_SERVER_BIN set; exits 77 (ctest:
skipped) with the reason when Debian's python3-grpcio is missing. The server runs on a
fixed free loopback port with a token (so that the restart test finds it again), a
temporary data dir, and real edbp-train jobs on a Fashion-MNIST subset.
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import grpc  # noqa: F401
except ImportError:
    print("SKIPPED: python3-grpcio is not installed (scripts/install-deps.sh installs it)")
    sys.exit(77)

import edbp

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVER = os.environ.get("EDBP_SERVER_BIN", str(ROOT / "build/bin/edbp-server"))
DATA = pathlib.Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
TOKEN = "python-client-test-token-0123456789"


def tiny_config(epochs: int, limit: int) -> str:
    """configs/small.yaml for `epochs` epochs on the first `limit` samples."""
    text = (ROOT / "configs/small.yaml").read_text()
    text = text.replace("epochs: 100", f"epochs: {epochs}", 1)
    return text.replace("n_steps: 5", f"n_steps: 5\n  data_limit: {limit}", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """edbp-server as a child process on 127.0.0.1:`port`."""

    def __init__(self, data_dir: pathlib.Path, port: int):
        self.data_dir = data_dir
        self.address = f"127.0.0.1:{port}"
        self.token_file = data_dir.parent / "token"
        self.token_file.write_text(TOKEN + "\n")
        self.token_file.chmod(0o600)
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(self.data_dir.parent / "server.log", "ab")
        self.proc = subprocess.Popen(
            [SERVER, f"--listen={self.address}", f"--data-dir={self.data_dir}",
             f"--auth-token-file={self.token_file}", "--grace-seconds=20"],
            stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("listening on "), line

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
            self.proc.stdout.close()
            self.log.close()
            self.proc = None


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DATA.exists():
            raise unittest.SkipTest(f"Fashion-MNIST is not installed ({DATA})")
        cls.tmp = tempfile.TemporaryDirectory(prefix="edbp_python_")
        root = pathlib.Path(cls.tmp.name)
        (root / "data").mkdir()
        cls.server = Server(root / "data", free_port())
        cls.server.start()
        cls.client = edbp.Client(cls.server.address, token=TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop(signal.SIGKILL)
        cls.tmp.cleanup()

    def test_submit_watch_metrics_download(self):
        job = self.client.submit(tiny_config(2, 100), name="py-tiny", priority=1)
        self.assertRegex(job.name, r"^jobs/\d+$")
        self.assertEqual(job.display_name, "py-tiny")
        self.assertIn(job.state, ("QUEUED", "RUNNING"))
        events = list(self.client.watch(job))
        self.assertEqual([e.sequence for e in events], list(range(1, len(events) + 1)))
        states = [e.data["state"] for e in events if e.kind == "state_change"]
        self.assertEqual(states[0], "QUEUED")
        self.assertEqual(states[-1], "SUCCEEDED")
        self.assertIn("RUNNING", states)
        ended = self.client.get(job.id)
        self.assertEqual(ended.state, "SUCCEEDED")
        self.assertTrue(ended.done)
        self.assertEqual(ended.last_sequence, events[-1].sequence)

        records = self.client.metrics(job)
        self.assertEqual([r["epoch"] for r in records], [1, 2])
        for r in records:
            self.assertEqual(r["train_samples"], 100)
            self.assertIsInstance(r["train_samples"], int)  # not protobuf JSON's string
            self.assertTrue(0 <= r["test_accuracy"] <= 1)
            self.assertEqual(len(r["confusion"]), 100)
            self.assertEqual([l["name"] for l in r["layers"]],
                             ["conv_1", "conv_2", "FC_1", "output"])
        try:
            import pandas  # noqa: F401
            frame = self.client.metrics(job, as_dataframe=True)
            self.assertEqual(list(frame["epoch"]), [1, 2])
            self.assertNotIn("layers", frame.columns)
        except ImportError:
            with self.assertRaisesRegex(ImportError, "needs pandas"):
                self.client.metrics(job, as_dataframe=True)
        self.assertAlmostEqual(ended.best_test_accuracy,
                               max(r["test_accuracy"] for r in records))

        data = self.client.download(job, best=True)
        header = int.from_bytes(data[:8], "little")
        self.assertLess(header, len(data))
        self.assertEqual(data[8:9], b"{")
        self.assertIn(b"net.0.weight", data[8:8 + header])
        path = pathlib.Path(self.tmp.name) / "last.safetensors"
        self.assertEqual(self.client.download(job.name, path=path), path)
        # Byte for byte the files the job wrote.
        run = self.server.data_dir / "jobs" / job.id
        self.assertEqual(path.read_bytes(), (run / "checkpoint_last.safetensors").read_bytes())
        self.assertEqual(data, (run / "checkpoint_best.safetensors").read_bytes())
        self.assertEqual([f for f in path.parent.iterdir() if ".tmp." in f.name], [])

        self.assertIn(job.name, [j.name for j in self.client.list()])
        self.assertIn(job.name, [j.name for j in self.client.list(state="SUCCEEDED")])
        with self.assertRaises(edbp.FailedPreconditionError):
            self.client.cancel(job)

    def test_errors_carry_the_servers_field_paths(self):
        bad = tiny_config(1, 100).replace("n_inputs: 640", "n_inputs: 600")
        bad = bad.replace('optimizer: "AdamW"', 'optimizer: "Adamm"')
        with self.assertRaises(edbp.InvalidArgumentError) as caught:
            self.client.submit(bad)
        paths = " ".join(caught.exception.errors)
        self.assertIn("Layers.FC_1.n_inputs", paths)
        self.assertIn("Network.optimizer", paths)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(edbp.NotFoundError):
            self.client.get(999999)
        with self.assertRaises(edbp.NotFoundError):
            self.client.download("jobs/999999")
        with self.assertRaises(ValueError):
            self.client.get("not-a-job")
        with self.assertRaises(FileNotFoundError):
            self.client.submit("no/such/config.yaml")
        with self.assertRaises(TypeError):
            self.client.submit(tiny_config(1, 100), no_such_field=3)
        # validate_only creates nothing.
        before = len(self.client.list())
        self.client.submit(tiny_config(1, 100), validate_only=True)
        self.assertEqual(len(self.client.list()), before)

    def test_a_wrong_or_missing_token_is_an_authentication_error(self):
        for token in ("wrong-token-wrong-token-wrong", ""):
            with edbp.Client(self.server.address, token=token) as other:
                with self.assertRaises(edbp.AuthenticationError):
                    other.list()
        # The token never goes in clear to another host: refused before any call.
        with self.assertRaises(ValueError) as caught:
            edbp.Client("192.0.2.1:50051", token=TOKEN)
        self.assertIn("refusing to send the token in clear", str(caught.exception))
        with self.assertRaises(ValueError):
            edbp.Client(self.server.address, token="two words")

    def test_the_examples_run(self):
        examples = ROOT / "client/python/examples"
        out = pathlib.Path(self.tmp.name) / "example_best.safetensors"
        env = dict(os.environ, EDBP_TOKEN=TOKEN)
        follow = subprocess.run(
            [sys.executable, str(examples / "follow_small.py"), "--server",
             self.server.address, "--epochs", "1", "--data-limit", "100", "--out", str(out)],
            env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(follow.returncode, 0, follow.stdout + follow.stderr)
        self.assertIn("SUCCEEDED", follow.stdout)
        self.assertRegex(follow.stdout, r"\n\s+1\s+\d+\.\d{4}")  # the epoch's row
        torch = subprocess.run([sys.executable, str(examples / "to_pytorch.py"), str(out)],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(torch.returncode, 0, torch.stderr)
        self.assertIn("12 model tensors", torch.stdout)
        self.assertIn("net.4.weight", torch.stdout)
        self.assertIn("[300, 640]", torch.stdout)

    def test_watch_resumes_across_a_server_restart_without_gaps(self):
        job = self.client.submit(tiny_config(3, 300), name="py-restart")
        sequences, restarted = [], False
        for event in self.client.watch(job):
            sequences.append(event.sequence)
            if not restarted and event.kind == "epoch_metrics":
                # The server goes away mid-stream (its jobs checkpoint and are queued
                # again) and comes back on the same address.
                restarted = True
                self.server.stop(signal.SIGTERM)
                threading.Timer(1.0, self.server.start).start()
        self.assertTrue(restarted)
        time.sleep(0.2)
        self.assertEqual(sequences, list(range(1, len(sequences) + 1)))
        ended = self.client.get(job)
        self.assertEqual(ended.state, "SUCCEEDED")
        self.assertGreaterEqual(ended.attempt, 2)
        self.assertEqual([r["epoch"] for r in self.client.metrics(job)], [1, 2, 3])


class HostileServerTest(unittest.TestCase):
    """A fake server that lies: the client says so instead of returning bad data."""

    @classmethod
    def setUpClass(cls):
        from concurrent import futures

        from edbp.v1 import training_service_pb2 as pb
        from edbp.v1 import training_service_pb2_grpc as rpc

        class Liar(rpc.TrainingServiceServicer):
            def DownloadCheckpoint(self, request, context):
                if request.name == "jobs/1":  # more bytes than announced
                    yield pb.CheckpointChunk(data=b"x" * 10, total_bytes=10)
                    yield pb.CheckpointChunk(data=b"y" * 10)
                elif request.name == "jobs/2":  # fewer bytes than announced
                    yield pb.CheckpointChunk(data=b"x" * 10, total_bytes=1 << 40)
                # jobs/3: no chunk at all

            def WatchJob(self, request, context):
                yield pb.Event(job=request.name, sequence=1)
                yield pb.Event(job=request.name, sequence=3)  # a gap

        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        rpc.add_TrainingServiceServicer_to_server(Liar(), cls.server)
        port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()
        cls.client = edbp.Client(f"127.0.0.1:{port}", token="")

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop(None)

    def test_a_download_that_does_not_add_up_is_data_loss(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "ckpt"
            for job in ("jobs/1", "jobs/2", "jobs/3"):
                with self.assertRaises(edbp.DataLossError, msg=job):
                    self.client.download(job, path=out)
                self.assertFalse(out.exists(), job)
            self.assertEqual(list(out.parent.iterdir()), [])

    def test_a_gap_in_the_events_is_data_loss(self):
        events = self.client.watch("jobs/7")
        self.assertEqual(next(events).sequence, 1)
        with self.assertRaisesRegex(edbp.DataLossError, "expected event 2, got 3"):
            next(events)


if __name__ == "__main__":
    unittest.main(verbosity=2)
