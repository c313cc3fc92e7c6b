"""IEC104Connection over TLS against c104 2.2.1's Server with TransportSecurity (lib60870
over mbedTLS), mutual authentication: connect, STARTDT and the interrogation's values
through TLS; a station certificate from a CA we do not trust refused on our side (a
TlsError, no data); our certificate refused by c104 (no connection); a TLS setting that
names a missing file is a ConfigurationError before any connect. Certificates are made
at test time (tests/transport/test_tls_contexts.py)."""

# no `from __future__ import annotations`: c104 checks callback annotations

import sys
from pathlib import Path

import c104
import pytest
from test_iec104_client_support import (  # noqa: F401  (fixtures)
    WAIT,
    listening_ports,
    loop,
    make_connection,
    needs_proc,
    record_errors,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "transport"))
from test_tls_contexts import Certs, certificates  # noqa: E402

from incore.objects.iec104.connection import IEC104Connection  # noqa: E402

pytestmark = needs_proc


@pytest.fixture
def certs() -> Certs:
    return certificates()


@pytest.fixture
def tls_station(certs):
    security = c104.TransportSecurity(validate=True, only_known=False)
    security.set_certificate(cert=certs.server, key=certs.server_key)
    security.set_ca_certificate(cert=certs.ca)
    before = listening_ports()
    server = c104.Server(ip="127.0.0.1", port=0, transport_security=security)
    station = server.add_station(common_address=1)
    point = station.add_point(io_address=1001, type=c104.Type.M_ME_NC_1)
    point.value = 12.5
    server.start()
    try:
        (port,) = listening_ports() - before
        yield server, port
    finally:
        server.stop()


def _tls(certs, **more):
    props = dict(
        tls=True,
        caCertificate=certs.ca,
        certificate=certs.client,
        privateKey=certs.client_key,
    )
    props.update(more)
    return props


def test_mutual_tls_with_the_c104_server(loop, certs, tls_station, make_connection):
    _, port = tls_station
    connection = make_connection(port, [dict(ioa=1001, type="M_ME_NC_1")], **_tls(certs))
    point = connection.getPoint(1001)
    assert loop.run_until(lambda: point.data == 12.5, WAIT), connection.errorString
    assert connection.state == IEC104Connection.State.Open


def test_a_station_certificate_we_do_not_trust(loop, certs, tls_station, make_connection):
    _, port = tls_station
    props = _tls(certs, caCertificate=certs.other_ca)
    connection = make_connection(port, connect=False, reconnectInterval=50, **props)
    errors = record_errors(connection)
    assert loop.run_until(lambda: errors, WAIT)
    assert errors[0][0] == IEC104Connection.TlsError
    assert "certificate refused" in errors[0][1]
    assert not connection.connected


def test_our_certificate_refused_by_c104(loop, certs, tls_station, make_connection):
    server, port = tls_station
    props = _tls(certs, certificate=certs.stranger, privateKey=certs.stranger_key)
    connection = make_connection(port, connect=False, reconnectInterval=50, **props)
    errors = record_errors(connection)
    assert loop.run_until(lambda: errors, WAIT)
    assert not connection.connected and server.open_connection_count == 0
    # TLS 1.3: our handshake ends before c104 checks our certificate, so its refusal is the
    # connection closing under the STARTDT (mbedTLS sends no alert we could read first)
    assert errors[0][0] in (IEC104Connection.TlsError, IEC104Connection.ConnectionError)


def test_a_missing_file_is_a_configuration_error(loop, certs, make_connection):
    props = _tls(certs, caCertificate="/nonexistent/ca.pem")
    connection = make_connection(1, connect=False, **props)
    assert loop.run_until(lambda: connection.error == IEC104Connection.ConfigurationError, WAIT)
    assert "/nonexistent/ca.pem" in connection.errorString
