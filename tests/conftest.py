"""pytest configuration: the Hypothesis settings profiles of the property suite.

Three profiles are registered from properties/stateful.py (deadlines off in
all of them): ``ci`` (derandomized, no example database, fast), ``default``
and ``thorough``. When the environment variable CI is set the ``ci`` profile
is the default, otherwise ``default``; ``pytest --hypothesis-profile NAME``
chooses another.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from hypothesis import settings

from properties.campaign import register_profiles

register_profiles()
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_configure(config: pytest.Config) -> None:
    # Whichever of this hook and Hypothesis' own runs first, --hypothesis-profile wins.
    chosen = config.getoption("--hypothesis-profile", default=None)
    if chosen:
        settings.load_profile(chosen)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``redis-server`` on 127.0.0.1 (a free port, no persistence, in a
    temporary directory) for the session, as ``redis://127.0.0.1:PORT/0``.
    When the binary is missing it is installed with apt-get if running as
    root; otherwise the tests that need it are skipped, except under CI=true,
    where that is a failure."""
    binary = shutil.which("redis-server")
    if binary is None and hasattr(os, "geteuid") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "-q", "redis-server"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
        binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed and cannot be installed (not root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail(f"redis-server exited with status {proc.returncode}")
                time.sleep(0.1)
        else:
            pytest.fail("redis-server did not answer within 10 seconds")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
