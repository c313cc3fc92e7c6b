"""What the shared link pieces give S7 users: quality under an S7Server, hosts that find a
variable by its S7Address."""
from __future__ import annotations

from incore.objects.foundation import DataObject
from incore.objects.s7 import S7Server, S7ServerArea, S7Variable
from test_s7_client_support import loop  # noqa: F401

GOOD, BAD = DataObject.Good, DataObject.Bad


def test_a_variable_under_a_server_is_good_and_bad_while_its_area_is_gone(loop):
    var = S7Variable(name="DB3.DBW0")
    server = S7Server(networkAddress="127.0.0.1", localPort=0, autoStart=False,
                      objects=[S7ServerArea(area="DB", index=3, data=b"\x01\x02"), var])
    server.complete()
    try:
        assert (var.data, var.quality) == (0x0102, GOOD)
        server.unregisterArea("srvAreaDB", 3)
        assert (var.quality, var.qualityReason) == (BAD, "area DB3 was unregistered")
        assert var.data == 0x0102  # the last value stays, marked Bad
        server.registerArea("srvAreaDB", 3, b"\x00\x07")
        assert (var.data, var.quality, var.qualityReason) == (7, GOOD, "")
    finally:
        server.shutdown()


def test_hosts_find_a_variable_by_its_s7_address(loop):
    var = S7Variable(name="M3.6")
    assert str(var.peer_address) == "M3.6" and var.peer_address.protocol == "S7"
    assert (var.peer_address.area, var.peer_address.offset, var.peer_address.bit,
            var.peer_address.size) == (0x83, 3, 6, 1)
    assert S7Variable(type=S7Variable.MemoryBit, address=3, bit=6).peer_address == var.peer_address
    assert S7Variable.enabled.qualname == "S7Variable.enabled"  # shared, yet named after the type
