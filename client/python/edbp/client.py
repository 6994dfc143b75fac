"""The edbp client: submit, watch and analyse the jobs of an edbp-server.

    import edbp
    client = edbp.Client()                       # $EDBP_SERVER, $EDBP_TOKEN
    job = client.submit("configs/small.yaml", name="try")
    for event in client.watch(job):
        if event.kind == "epoch_metrics":
            print(event.data["epoch"], event.data["test_accuracy"])
    client.download(job, best=True, path="best.safetensors")

The stubs come from proto/edbp/v1, generated at build time (edbp.v1.*_pb2).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import pathlib
import tempfile
import time
from typing import Any, Iterator

import grpc
from google.protobuf import descriptor as _descriptor

from edbp import errors
from edbp.v1 import job_pb2, training_service_pb2, training_service_pb2_grpc

DEFAULT_SERVER = "127.0.0.1:50051"
# The largest message the server sends (its CheckpointChunk and event limits).
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def to_python(message) -> dict[str, Any]:
    """A protobuf message as plain Python values: ints stay ints (not the strings of
    protobuf's JSON mapping), enums become their names, timestamps datetimes, repeated
    fields lists, and every field is present with its value or default."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.label == _descriptor.FieldDescriptor.LABEL_REPEATED:
            if field.type == _descriptor.FieldDescriptor.TYPE_MESSAGE:
                out[field.name] = [to_python(v) for v in value]
            else:
                out[field.name] = list(value)
        elif field.type == _descriptor.FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                out[field.name] = _time(value) if message.HasField(field.name) else None
            else:
                out[field.name] = to_python(value)
        elif field.type == _descriptor.FieldDescriptor.TYPE_ENUM:
            out[field.name] = field.enum_type.values_by_number[value].name
        else:
            out[field.name] = value
    return out


def _time(ts) -> datetime.datetime:
    return ts.ToDatetime(tzinfo=datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Job:
    """A job as the server last described it (``proto`` is the edbp.v1.Job)."""

    name: str  # "jobs/{id}"
    display_name: str
    state: str  # QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
    priority: int
    error: str
    best_test_accuracy: float | None  # None before the first epoch ends
    last_epoch: int
    epochs: int
    last_sequence: int
    attempt: int
    device: str
    create_time: datetime.datetime | None
    proto: job_pb2.Job = dataclasses.field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.name.split("/", 1)[1]

    @property
    def done(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @staticmethod
    def from_proto(p: job_pb2.Job) -> "Job":
        return Job(
            name=p.name,
            display_name=p.display_name,
            state=job_pb2.JobState.Name(p.state),
            priority=p.priority,
            error=p.error,
            best_test_accuracy=None if p.best_test_accuracy < 0 else p.best_test_accuracy,
            last_epoch=p.last_epoch,
            epochs=p.epochs,
            last_sequence=p.last_sequence,
            attempt=p.attempt,
            device=p.device,
            create_time=_time(p.create_time) if p.HasField("create_time") else None,
            proto=p,
        )


@dataclasses.dataclass(frozen=True)
class Event:
    """One entry of a job's event log. ``kind`` is one of state_change, progress,
    epoch_metrics, log, checkpoint_saved; ``data`` its fields as Python values (see
    to_python); ``record`` the training record's number (0 for state changes and log
    lines)."""

    job: str
    sequence: int
    record: int
    time: datetime.datetime | None
    kind: str
    data: dict[str, Any]
    proto: training_service_pb2.Event = dataclasses.field(repr=False, compare=False)

    @staticmethod
    def from_proto(p: training_service_pb2.Event) -> "Event":
        kind = p.WhichOneof("kind") or ""
        return Event(
            job=p.job,
            sequence=p.sequence,
            record=p.record,
            time=_time(p.time) if p.HasField("time") else None,
            kind=kind,
            data=to_python(getattr(p, kind)) if kind else {},
            proto=p,
        )


def _job_name(job: "Job | str | int") -> str:
    """A job as "jobs/{id}": a Job, a name, or an id."""
    if isinstance(job, Job):
        return job.name
    text = str(job)
    if text.startswith("jobs/"):
        return text
    if not text.isdigit():
        raise ValueError(f"not a job: {job!r} (expected a Job, jobs/ID or an id)")
    return f"jobs/{text}"


def _is_loopback(address: str) -> bool:
    """The CLI's rule (client/cli/channel.cc): unix sockets, localhost, 127.*, ::1."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    host = address
    if host.startswith("["):
        host = host[1 : host.index("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client:
    """A connection to edbp-server, with the CLI's credential rules: a token is sent only
    over TLS or to a loopback address; TLS when ``tls``, ``ca_cert`` or ``cert`` is given
    (``cert`` and ``key``: a client certificate for a server that requires one).

    address: default $EDBP_SERVER, else 127.0.0.1:50051. token: default $EDBP_TOKEN
    (``token=""`` sends none). timeout: seconds of each unary call; streams have none.
    """

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        tls: bool = False,
        ca_cert: str | os.PathLike | None = None,
        cert: str | os.PathLike | None = None,
        key: str | os.PathLike | None = None,
        timeout: float = 10.0,
    ):
        self.address = address or os.environ.get("EDBP_SERVER") or DEFAULT_SERVER
        token = os.environ.get("EDBP_TOKEN", "") if token is None else token
        token = token.strip()
        if any(c.isspace() for c in token):
            raise ValueError("token: expected one token without spaces")
        if (cert is None) != (key is None):
            raise ValueError("cert and key go together: a client certificate needs its key")
        self.timeout = timeout
        use_tls = tls or ca_cert is not None or cert is not None
        if use_tls:
            read = lambda p: pathlib.Path(p).read_bytes() if p is not None else None
            credentials = grpc.ssl_channel_credentials(
                root_certificates=read(ca_cert),
                private_key=read(key),
                certificate_chain=read(cert),
            )
        elif token:
            if not _is_loopback(self.address):
                raise ValueError(
                    f"refusing to send the token in clear to {self.address}: use TLS "
                    "(ca_cert=FILE or tls=True) or a loopback address"
                )
            kind = (
                grpc.LocalConnectionType.UDS
                if self.address.startswith("unix")
                else grpc.LocalConnectionType.LOCAL_TCP
            )
            credentials = grpc.local_channel_credentials(kind)
        else:
            credentials = None
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        if credentials is None:
            self._channel = grpc.insecure_channel(self.address, options=options)
        else:
            if token:
                credentials = grpc.composite_channel_credentials(
                    credentials, grpc.access_token_call_credentials(token)
                )
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        self._stub = training_service_pb2_grpc.TrainingServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, name: str, request):
        try:
            return getattr(self._stub, name)(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, name) from None

    # ---- jobs ---------------------------------------------------------------------

    def submit(
        self,
        config: str | os.PathLike,
        name: str = "",
        priority: int = 0,
        *,
        validate_only: bool = False,
        request_id: str = "",
        **fields: Any,
    ) -> Job:
        """Queues a job. ``config`` is a YAML file's path or the YAML text itself.
        Other CreateJobRequest fields of this server's API (e.g. workers, seed) go in
        ``fields``; one the API lacks is a TypeError. Raises InvalidArgumentError with
        every config error and its field path."""
        text = _config_text(config)
        request = training_service_pb2.CreateJobRequest(
            config_yaml=text,
            display_name=name,
            priority=priority,
            validate_only=validate_only,
            request_id=request_id,
        )
        known = request.DESCRIPTOR.fields_by_name
        for key, value in fields.items():
            if key not in known:
                raise TypeError(
                    f"submit() got {key!r}, which this API's CreateJobRequest does not "
                    f"have (it has {', '.join(sorted(known))})"
                )
            setattr(request, key, value)
        return Job.from_proto(self._call("CreateJob", request))

    def get(self, job: Job | str | int) -> Job:
        return Job.from_proto(
            self._call("GetJob", training_service_pb2.GetJobRequest(name=_job_name(job)))
        )

    def list(self, state: str | None = None, page_size: int = 200) -> list[Job]:
        """Every job (newest first), or those in ``state`` (e.g. "RUNNING")."""
        request = training_service_pb2.ListJobsRequest(page_size=page_size)
        if state is not None:
            request.state = job_pb2.JobState.Value(state)
        jobs: list[Job] = []
        while True:
            response = self._call("ListJobs", request)
            jobs.extend(Job.from_proto(j) for j in response.jobs)
            if not response.next_page_token:
                return jobs
            request.page_token = response.next_page_token

    def cancel(self, job: Job | str | int) -> Job:
        return Job.from_proto(
            self._call("CancelJob", training_service_pb2.CancelJobRequest(name=_job_name(job)))
        )

    def download(
        self,
        job: Job | str | int,
        best: bool = False,
        path: str | os.PathLike | None = None,
    ) -> bytes | pathlib.Path:
        """The job's last (or best) checkpoint: its bytes, or written to ``path``
        (atomically: a failed download leaves no file). Raises DataLossError when the
        stream does not add up to the size it announced."""
        request = training_service_pb2.DownloadCheckpointRequest(
            name=_job_name(job), best=best
        )
        chunks: list[bytes] = []
        total = None
        received = 0
        try:
            for chunk in self._stub.DownloadCheckpoint(request, timeout=self.timeout * 30):
                if total is None:
                    total = chunk.total_bytes
                received += len(chunk.data)
                if received > total:
                    raise errors.DataLossError(
                        f"the server sent more than the {total} bytes it announced",
                        None,
                        "DownloadCheckpoint",
                    )
                chunks.append(chunk.data)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, "DownloadCheckpoint") from None
        if total is None or received != total:
            raise errors.DataLossError(
                f"received {received} of {total or 0} bytes", None, "DownloadCheckpoint"
            )
        data = b"".join(chunks)
        if path is None:
            return data
        target = pathlib.Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=target.name + ".tmp.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise
        return target

    # ---- events -------------------------------------------------------------------

    def watch(
        self,
        job: Job | str | int,
        from_start: bool = True,
        *,
        from_sequence: int | None = None,
        max_failed_attempts: int = 60,
    ) -> Iterator[Event]:
        """The job's events in order (sequence numbers without gaps or repeats) until it
        ends; from the first event, or only the new ones when ``from_start`` is False.
        A dropped connection or a restarting server is waited out (backoff 0.25 s to
        2 s, at most ``max_failed_attempts`` failures in a row without a new event,
        then UnavailableError) and the stream resumes after the last event received."""
        name = _job_name(job)
        if from_sequence is not None:
            next_sequence = from_sequence
        elif from_start:
            next_sequence = 1
        else:
            next_sequence = self.get(name).last_sequence + 1
        failures = 0
        delay = 0.25
        while True:
            request = training_service_pb2.WatchJobRequest(name=name, from_sequence=next_sequence)
            try:
                for p in self._stub.WatchJob(request):
                    if p.sequence != next_sequence:
                        raise errors.DataLossError(
                            f"{name}: expected event {next_sequence}, got {p.sequence}",
                            None,
                            "WatchJob",
                        )
                    next_sequence += 1
                    failures = 0
                    delay = 0.25
                    yield Event.from_proto(p)
                return  # the job ended and every event was sent
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
                                    grpc.StatusCode.UNKNOWN):
                    raise errors.from_rpc_error(e, "WatchJob") from None
                failures += 1
                if max_failed_attempts and failures >= max_failed_attempts:
                    raise errors.from_rpc_error(e, "WatchJob") from None
                time.sleep(delay)
                delay = min(2.0, delay * 2)

    def wait(self, job: Job | str | int) -> Job:
        """Follows the job to its end; returns it as it ended."""
        for _ in self.watch(job, from_start=False):
            pass
        return self.get(job)

    def metrics(self, job: Job | str | int, as_dataframe: bool = False):
        """The job's epoch records so far, in order, as dicts (to_python of
        EpochMetrics: epoch, train_loss, test_accuracy, ..., layers); a pandas DataFrame
        of the scalar columns when ``as_dataframe`` (pandas must be installed). Records
        sent twice across a restart are kept once."""
        last = self.get(job).last_sequence
        records: list[dict[str, Any]] = []
        seen: set[int] = set()
        if last > 0:
            for event in self.watch(job, from_start=True):
                if event.kind == "epoch_metrics" and event.record not in seen:
                    seen.add(event.record)
                    records.append(event.data)
                if event.sequence >= last:
                    break
        if not as_dataframe:
            return records
        try:
            import pandas  # noqa: PLC0415 (optional dependency)
        except ImportError:
            raise ImportError(
                "metrics(as_dataframe=True) needs pandas (pip install pandas, or "
                "apt-get install python3-pandas)"
            ) from None

        scalar = [{k: v for k, v in r.items() if not isinstance(v, (list, dict))} for r in records]
        return pandas.DataFrame(scalar)


def _config_text(config: str | os.PathLike) -> str:
    """A config argument as YAML text: the text itself when it has several lines, else
    the path of a file."""
    if isinstance(config, str) and "\n" in config:
        return config
    path = pathlib.Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"config: no such file: {str(config)!r}")
    return path.read_text()
