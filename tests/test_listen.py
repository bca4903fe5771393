"""``parcelscreen serve --workers N`` gives each worker a listening socket of its own."""

from __future__ import annotations

import pickle
import socket

import pytest

from parcelscreen import _listen

pytestmark = pytest.mark.skipif(not _listen.AVAILABLE, reason="SO_REUSEPORT balances on Linux")


def test_the_supervisor_socket_takes_no_connection_and_pickles_as_a_twin() -> None:
    parent = _listen.supervisor_socket("127.0.0.1", 0)
    address = parent.getsockname()
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.connect(address)  # bound, not listening: nothing is queued behind it
    twins = [pickle.loads(pickle.dumps(parent)) for _ in range(2)]  # what each worker gets
    try:
        assert all(t.getsockname() == address and t.fileno() != parent.fileno() for t in twins)
        for twin in twins:
            twin.listen(64)
            twin.setblocking(False)
        clients = [socket.create_connection(address, timeout=5) for _ in range(40)]
        accepted = []
        for twin in twins:
            count = 0
            while True:
                try:
                    conn, _ = twin.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
            accepted.append(count)
        for c in clients:
            c.close()
        assert sum(accepted) == 40
        assert min(accepted) > 0, f"the kernel gave every connection to one worker: {accepted}"
    finally:
        for s in (parent, *twins):
            s.close()


def test_a_taken_port_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            _listen.supervisor_socket("127.0.0.1", taken.getsockname()[1])


def test_a_port_another_start_shares_is_refused_too() -> None:
    """Another set of workers listens with SO_REUSEPORT: a second start must not join it."""
    first = _listen.supervisor_socket("127.0.0.1", 0)
    worker = pickle.loads(pickle.dumps(first))  # what a worker of the first start listens on
    worker.listen(8)
    try:
        with pytest.raises(OSError, match="in use by another process"):
            _listen.supervisor_socket("127.0.0.1", first.getsockname()[1])
    finally:
        worker.close()
        first.close()
