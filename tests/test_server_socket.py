"""The web process's listening socket: what its accepted connections inherit."""
import socket

from presence_app.server import listen

from .support import free_port


def test_accepted_connections_send_without_waiting_for_acks():
    # Nagle's wait for an ACK, against a client's delayed ACK, held the tail of large answers 40 ms.
    listener = listen("127.0.0.1", free_port())
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        for sock in (client, accepted, listener):
            sock.close()
