"""IEC104Point on its own: value mirrors data both ways, each type's information object and
its range checks, quality flags joined to the core's quality in both directions, the
refusable command message, and what a host is asked: one write per command written, under
either name, and a confirmed command ending the point's CommandError."""

from __future__ import annotations

import pytest
from test_iec104_server_support import loop  # noqa: F401  (fixture)

from incore.core import Object
from incore.objects.foundation.data import Quality
from incore.objects.iec104 import Iec104Address, Iec104Message, IEC104Point
from incore.protocols.iec104 import (
    CODECS,
    Asdu,
    Cp56Time,
    DoublePoint,
    FloatValue,
    decode_asdu,
    encode_asdu,
)


def test_value_is_data_under_both_names(loop):
    p = IEC104Point(ioa=1, type="M_ME_NC_1", data=1.5)
    assert p.value == 1.5
    p.value = 2.5
    assert p.data == 2.5
    p.data = 3.5
    assert p.value == 3.5  # value follows data again after an assignment
    seen = []
    p.valueChanged.connect(seen.append)
    p.data = 4.5
    assert seen == [4.5]


@pytest.mark.parametrize("kind", list(IEC104Point.Type))
def test_every_type_makes_an_information_object_that_encodes(loop, kind):
    values = {"bool": True, "float": 1.25, "normalized": 0.5}
    p = IEC104Point(ioa=77, type=kind)
    from incore.objects.iec104.point_types import KIND

    cls, value_kind = KIND[int(kind)]
    value = values.get(value_kind, 2)
    info = p.information(value)
    assert isinstance(info, cls) and info.ioa == 77
    assert CODECS[int(kind)].cls is cls
    asdu = decode_asdu(encode_asdu(Asdu(int(kind), 3, 1, (info,))))
    assert asdu.objects[0].value == pytest.approx(value)


@pytest.mark.parametrize(
    "kind,value",
    [
        ("M_SP_NA_1", 2),
        ("M_DP_NA_1", 4),
        ("M_ST_NA_1", 64),
        ("M_ME_NA_1", 1.5),
        ("M_ME_NB_1", 40000),
        ("M_BO_NA_1", -1),
        ("M_ME_NC_1", "x"),
    ],
)
def test_values_outside_the_type_are_refused(loop, kind, value):
    p = IEC104Point(ioa=1, type=kind)
    with pytest.raises((TypeError, ValueError)):
        p.information(value)


def test_core_quality_goes_into_the_flags(loop):
    p = IEC104Point(ioa=1, type="M_ME_NC_1", data=1.0, qualityFlags=0x10)
    assert p.information().quality == 0x10
    p._set_quality(Quality.Bad, "lost")
    assert p.information().quality == 0x90
    p._set_quality(Quality.Uncertain, "unreachable")
    assert p.information().quality == 0x50


def test_a_received_frame_sets_value_flags_quality_and_times(loop):
    p = IEC104Point(ioa=5, type="M_DP_TB_1")
    tag = Cp56Time(1500, 2, 3, 4, 5, 24)
    p._store_object(DoublePoint(5, 2, 0x80, tag), 2)
    assert (p.data, p.qualityFlags, p.quality) == (2, 0x80, Quality.Bad)
    assert p.recordedAt == 1714791721500 and p.processedAt > 0
    p._store_object(FloatValue(5, 1.0, 0x40), 1)
    assert p.quality == Quality.Uncertain and p.recordedAt == 0
    p._store_object(FloatValue(5, 1.0, 0), 1)
    assert p.quality == Quality.Good


def test_address_and_message(loop):
    p = IEC104Point(ioa=9)
    assert p.peer_address == Iec104Address(0, 9) and str(p.peer_address) == "CA 0 IOA 9"
    m = Iec104Message(ioa=9, value=True)
    assert m.accepted and not m.isSelect
    m.refuse("no")
    assert not m.accepted and m.reason == "no"


class _Host(Object):
    """The smallest controlling-side host (link/host.py's VariableHost): it records what
    the point asks it to write; a client host sends each as one command."""

    commonAddress = 1
    serves_points = False

    def __init__(self) -> None:
        super().__init__()
        self.writes: list = []

    def attach_variable(self, point: IEC104Point) -> None:
        pass

    def detach_variable(self, point: IEC104Point) -> None:
        pass

    def read_variable(self, point: IEC104Point) -> None:
        pass

    def write_variable(self, point: IEC104Point, info: object) -> None:
        self.writes.append(info.value)

    def transmit_point(self, point: IEC104Point, cause: int) -> bool:
        return True


def test_a_command_written_under_either_name_is_written_once(loop):
    host = _Host()
    p = IEC104Point(host, ioa=1, type="C_SC_NA_1")
    p.complete()
    assert p.host is host and p.isLive
    p.value = True  # value takes the write, sets data, then follows data again
    assert host.writes == [True]
    p.data = True  # the same value again is a command again
    assert host.writes == [True, True]
    p.value = False
    assert host.writes == [True, True, False] and p.value is False and p.data is False
    p.data = True
    assert p.value is True and host.writes[-1] is True and len(host.writes) == 4


def test_a_confirmed_command_ends_a_command_error(loop):
    host = _Host()
    p = IEC104Point(host, ioa=1, type="C_SC_NA_1")
    p.complete()
    assert p.host is host and p.isLive
    p._fail("CommandError", "refused")
    assert p.error == IEC104Point.CommandError
    p._confirm_write()
    assert p.error == IEC104Point.NoError and p.errorString == ""


def test_a_bitstring_command_cannot_be_select_before_operate(loop):
    host = _Host()
    direct = IEC104Point(host, ioa=1, type="C_BO_NA_1")
    selected = IEC104Point(host, ioa=2, type="C_BO_TA_1", commandMode="SelectAndExecute")
    assert list(direct._check()) == []
    (problem,) = selected._check()  # the S/E bit is not in its information object
    assert "commandMode" in str(problem) and "no select" in str(problem)
