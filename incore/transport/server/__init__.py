"""The parts of TcpServer (incore/transport/tcp_server.py, which is what to import):
connection.py (a Connection and the handler protocols), hub.py (the selector thread and
every timeout), pool.py (the bounded workers), serving.py (a worker's read loop),
poller.py (one-shot readiness), episodes.py (logging a run of like events once)."""
