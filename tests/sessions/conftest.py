"""Fixtures of the end-to-end sessions: a session bus of the test's own."""

import os
import shutil
import signal
import subprocess

import pytest


@pytest.fixture
def bus(pulse_server, warm_cache, tmp_path):
    """A session bus of this test's own; the environment that reaches it."""
    assert shutil.which("dbus-daemon") and shutil.which("playerctl"), "scripts/setup --dev"
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    address = daemon.stdout.readline().strip()
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
    yield env, pulse_server
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=10)
