"""Private RabbitMQ nodes for the tests: each with its own name, ports, data, log and config.

A node lives in a temporary directory owned by the `rabbitmq` user and listens on ports of its
own: AMQP on `amqp_port`, Erlang distribution on `amqp_port + 1`, and its `rabbitmqctl` calls on
`amqp_port + 2` to `+ 12`. Its enabled-plugins file is empty (no management listener on 15672)
and its env file too (not /etc/rabbitmq's NODENAME), so the shared node on 5672 is never
touched. Nodes started here share the `rabbitmq` user's Erlang cookie, so they may cluster.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.servers import Machine, answers

# Fewer scheduler threads, none spinning while idle: the test machine's cores are shared.
QUIET_ERLANG = "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"


def owned_dir(prefix: str, owner: str) -> Path:
    """A temporary directory the server's OS user can use (pytest's tmp_path is root-only)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    shutil.chown(directory, owner, owner)
    return directory


@dataclass(frozen=True)
class RabbitNode:
    """A private node: its name (`name@localhost`), AMQP port, directory and environment."""

    name: str
    amqp_port: int
    base: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def pid_file(self) -> Path:
        return self.base / "node.pid"


def private_node(name: str, amqp_port: int, base: Path, *, config: str = "") -> RabbitNode:
    """The files and environment of node `name` under `base` (not started); `config` is added
    to its rabbitmq.conf."""
    (base / "enabled_plugins").write_text("[].\n")  # no management listener on 15672
    listener = f"listeners.tcp.default = 127.0.0.1:{amqp_port}\n"
    (base / "rabbitmq.conf").write_text(listener + config)
    (base / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's NODENAME
    env = {
        **Machine.here().env,  # its PATH finds the servers' sbin directories
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(amqp_port + 1),
        "RABBITMQ_CTL_DIST_PORT_MIN": str(amqp_port + 2),
        "RABBITMQ_CTL_DIST_PORT_MAX": str(amqp_port + 12),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "node.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": QUIET_ERLANG,
    }
    return RabbitNode(name=name, amqp_port=amqp_port, base=base, env=env)


def ctl(node: RabbitNode, *argv: str, timeout: float = 120) -> str:
    """`rabbitmqctl -n <node> argv...`; its output, or the test fails with what it said."""
    command = ["rabbitmqctl", "-n", node.name, *argv]
    done = subprocess.run(command, env=node.env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return done.stdout


def launch(node: RabbitNode) -> None:
    """Start the node in the background (`rabbitmq-server -detached`); `wait_until_up` after."""
    node.pid_file.unlink(missing_ok=True)  # a killed node's pid would be waited for
    started = subprocess.run(
        ["rabbitmq-server", "-detached"], env=node.env, capture_output=True, text=True
    )
    assert started.returncode == 0, f"rabbitmq-server: {started.stdout}{started.stderr}"


def wait_until_up(node: RabbitNode) -> None:
    """Wait until the node (launched) has booted, its applications included."""
    ctl(node, "wait", str(node.pid_file), "--timeout", "180", timeout=200)


def start(node: RabbitNode) -> None:
    """Start the node and wait until it has booted."""
    launch(node)
    wait_until_up(node)


def stop(node: RabbitNode) -> None:
    """Stop the node; return once its AMQP port is closed."""
    ctl(node, "stop")
    while answers("127.0.0.1", node.amqp_port):  # `stop` returns once the node is gone
        time.sleep(0.2)


def os_pid(node: RabbitNode) -> int:
    """The process id of the node's Erlang VM, as the node says."""
    return int(ctl(node, "eval", "os:getpid().").strip().strip('"'))


def kill(pid: int) -> None:
    """SIGKILL the process `pid`, if it still runs."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def remove(node: RabbitNode) -> None:
    """Stop the node however it is (killed if `stop` does not do it), and delete its files."""
    command = ["rabbitmqctl", "-n", node.name, "stop"]
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(command, env=node.env, capture_output=True, timeout=120)
    if node.pid_file.exists():
        pid = node.pid_file.read_text().strip()
        if pid.isdigit():
            kill(int(pid))
    shutil.rmtree(node.base, ignore_errors=True)
