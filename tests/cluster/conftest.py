"""A three-node RabbitMQ cluster of the tests' own, started once for the module.

Nodes `cluster-a-<base>@localhost`, `-b-` and `-c-` (E2E_PORT_BASE, 18000 by default), AMQP on
E2E_PORT_BASE + 700, + 720 and + 740 (each with its distribution and `rabbitmqctl` ports next to
it, see `tests/rabbitmq_node.py`), data and logs under temporary directories deleted at the end,
failed or not. The shared node on 5672 is never touched.
"""

import os
from collections.abc import Iterator

import pytest

from tests import rabbitmq_node
from tests.rabbitmq_node import RabbitNode, ctl, owned_dir, private_node

PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "18000"))  # as tests/e2e
# Each queue's leader on the node with the fewest leaders, not always on the declaring client's.
BALANCED = "queue_leader_locator = balanced\n"


def cluster_nodes() -> list[RabbitNode]:
    """The three nodes' files and environments (not started)."""
    return [
        private_node(
            f"cluster-{letter}-{PORT_BASE}@localhost",
            PORT_BASE + 700 + 20 * number,
            owned_dir(f"cluster-{letter}-{PORT_BASE}-", "rabbitmq"),
            config=BALANCED,
        )
        for number, letter in enumerate("abc")
    ]


def form_cluster(nodes: list[RabbitNode]) -> None:
    """Start the nodes (at once), then join the second and third to the first."""
    for node in nodes:
        rabbitmq_node.launch(node)
    for node in nodes:
        rabbitmq_node.wait_until_up(node)
    first, *others = nodes
    for node in others:
        ctl(node, "stop_app")
        ctl(node, "join_cluster", first.name)
        ctl(node, "start_app")


def running_nodes(node: RabbitNode) -> str:
    """The cluster's status as `node` sees it."""
    return ctl(node, "cluster_status")


@pytest.fixture(scope="module")
def rabbit_cluster() -> Iterator[list[RabbitNode]]:
    """Three clustered nodes, running; stopped and deleted afterwards."""
    nodes = cluster_nodes()
    try:
        form_cluster(nodes)
        yield nodes
    finally:
        for node in nodes:
            rabbitmq_node.remove(node)
