"""IEC 104 codec (incore/protocols/iec104): APCI frames and ASDUs against the worked
examples of ../shared/protocols/iec104.md, c104's own reading of what we encode
(`c104.explain_bytes_dict`, lib60870's decoder), and the errors bad bytes raise."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import c104
import pytest

from incore.protocols.errors import FramingError, ProtocolError
from incore.protocols.iec104 import (
    CODECS,
    ApciDecoder,
    ApciError,
    Asdu,
    AsduError,
    Bitstring,
    BitstringCommand,
    Cause,
    ClockSync,
    CounterInterrogation,
    Cp24Time,
    Cp56Time,
    DelayAcquisition,
    DoubleCommand,
    DoublePoint,
    EndOfInitialization,
    FloatValue,
    IFrame,
    IntegratedTotal,
    Interrogation,
    NormalizedValue,
    PackedSinglePoints,
    Quality,
    ReadCommand,
    ResetProcess,
    ScaledValue,
    SetpointFloat,
    SetpointNormalized,
    SetpointScaled,
    SFrame,
    SingleCommand,
    SinglePoint,
    StepCommand,
    StepPosition,
    TestCommand,
    TypeId,
    UFrame,
    UFunction,
    UnknownTypeError,
    decode_asdu,
    decode_frame,
    encode_asdu,
    group_cause,
    i_frame,
    negative_mirror,
    pack_objects,
    qoi_group,
    s_frame,
    u_frame,
)

H = bytes.fromhex
T56 = Cp56Time.from_datetime(datetime(2024, 3, 15, 14, 30, 45, 123000))
T24 = Cp24Time(45123, 30)

# --- APCI ------------------------------------------------------------------------------


def test_u_frames_are_the_six_bytes_of_the_digest():
    assert u_frame(UFunction.STARTDT_ACT) == H("680407000000")
    assert u_frame(UFunction.STARTDT_CON) == H("68040B000000")
    assert u_frame(UFunction.STOPDT_ACT) == H("680413000000")
    assert u_frame(UFunction.STOPDT_CON) == H("680423000000")
    assert u_frame(UFunction.TESTFR_ACT) == H("680443000000")
    assert u_frame(UFunction.TESTFR_CON) == H("680483000000")
    for function in UFunction:
        assert decode_frame(u_frame(function)) == UFrame(function)


def test_s_frame_and_i_frame_control_fields():
    assert s_frame(3) == H("680401000600")
    assert decode_frame(H("680401000600")) == SFrame(3)
    assert i_frame(300, 0, b"\x01" * 6)[2:4] == H("5802")
    frame = H("68120A0006000D0103000100E903000000BC4100")
    assert decode_frame(frame) == IFrame(5, 3, frame[6:])
    assert i_frame(5, 3, frame[6:]) == frame
    assert decode_frame(i_frame(32767, 32767, b"x")) == IFrame(32767, 32767, b"x")


@pytest.mark.parametrize(
    "stream, complaint",
    [
        (H("670407000000"), "start byte"),
        (H("680307000000"), "length 3"),
        (H("68FE") + bytes(254), "length 254"),
        (H("6804FF000000"), "0xFF"),  # no single U function
        (H("680447000000"), "0x47"),  # two U functions at once
        (H("680400000000"), "without an ASDU"),
        (H("6805010006000A"), "S-frame with length 5"),
    ],
)
def test_bad_frames_raise_apci_errors_and_the_decoder_stays_failed(stream, complaint):
    decoder = ApciDecoder()
    with pytest.raises(ApciError, match=complaint) as err:
        decoder.feed(stream)
    assert isinstance(err.value, FramingError)
    with pytest.raises(ApciError):
        decoder.feed(u_frame(UFunction.TESTFR_ACT))


def test_the_decoder_splits_any_chunking():
    stream = u_frame(UFunction.STARTDT_ACT) + H("68120A0006000D0103000100E903000000BC4100")
    stream += s_frame(7)
    whole = ApciDecoder().feed(stream)
    assert [type(f) for f in whole] == [UFrame, IFrame, SFrame]
    decoder = ApciDecoder()
    assert [f for b in stream for f in decoder.feed(bytes([b]))] == whole
    assert decoder.idle


# --- ASDUs: the digest's worked examples -------------------------------------------------


def test_measured_float_example():
    asdu = Asdu(TypeId.M_ME_NC_1, Cause.SPONTANEOUS, 1, (FloatValue(1001, 23.5),))
    assert encode_asdu(asdu) == H("0D0103000100E903000000BC4100")
    assert decode_asdu(H("0D0103000100E903000000BC4100")) == asdu


def test_interrogation_and_its_answer():
    gi = Asdu(TypeId.C_IC_NA_1, Cause.ACTIVATION, 1, (Interrogation(0, 20),))
    assert i_frame(0, 0, encode_asdu(gi)) == H("680E0000000064010600010000000014")
    con = H("64010700010000000014")
    assert decode_asdu(con) == gi._replace(cause=Cause.ACTIVATION_CON)
    answer = H("0102140001006400000165000080")
    objs = (SinglePoint(100, True), SinglePoint(101, False, Quality.IV))
    assert decode_asdu(answer) == Asdu(1, 20, 1, objs)
    assert encode_asdu(Asdu(1, 20, 1, objs)) == answer
    assert qoi_group(20) == 0 and qoi_group(21) == 1 and qoi_group(36) == 16
    assert qoi_group(37) is None and qoi_group(19) is None
    assert group_cause(0) == 20 and group_cause(16) == 36


def test_select_and_execute_single_command():
    select = Asdu(TypeId.C_SC_NA_1, Cause.ACTIVATION, 1, (SingleCommand(5000, True, True),))
    assert encode_asdu(select) == H("2D010600010088130081")
    execute = select._replace(objects=(SingleCommand(5000, True),))
    assert encode_asdu(execute) == H("2D010600010088130001")
    assert decode_asdu(H("2D010600010088130081")) == select


def test_clock_sync_and_end_of_initialisation():
    assert T56 == Cp56Time(45123, 30, 14, 15, 3, 24, 5)
    sync = Asdu(TypeId.C_CS_NA_1, Cause.ACTIVATION, 1, (ClockSync(0, T56),))
    frame = H("68140000000067010600010000000043B01E0EAF0318")
    assert i_frame(0, 0, encode_asdu(sync)) == frame
    decoded = decode_asdu(frame[6:])
    assert decoded == sync
    moment = decoded.objects[0].time.to_datetime()
    assert moment == datetime(2024, 3, 15, 14, 30, 45, 123000, tzinfo=timezone.utc)
    eoi = Asdu(TypeId.M_EI_NA_1, Cause.INITIALIZED, 1, (EndOfInitialization(0, 0),))
    assert i_frame(0, 0, encode_asdu(eoi)) == H("680E0000000046010400010000000000")


# --- every type: our bytes as lib60870 reads them ---------------------------------------

EVERY_TYPE = {
    1: SinglePoint(10, True, Quality.NT),
    2: SinglePoint(10, False, 0, T24),
    3: DoublePoint(11, 2, Quality.BL),
    4: DoublePoint(11, 1, 0, T24),
    5: StepPosition(12, -5, True, Quality.OV),
    6: StepPosition(12, 63, False, 0, T24),
    7: Bitstring(13, 0xDEADBEEF),
    8: Bitstring(13, 1, 0, T24),
    9: NormalizedValue(14, -0.5, Quality.SB),
    10: NormalizedValue(14, 0.25, 0, T24),
    11: ScaledValue(15, -1234),
    12: ScaledValue(15, 32767, 0, T24),
    13: FloatValue(16, 23.5),
    14: FloatValue(16, -1.0, 0, T24),
    15: IntegratedTotal(17, -7, 3, 0x20),
    16: IntegratedTotal(17, 2**31 - 1, 31, 0xE0, T24),
    20: PackedSinglePoints(18, 0xA5A5, 0x0F0F, Quality.IV),
    21: NormalizedValue(19, 0.5),
    30: SinglePoint(10, True, Quality.IV, T56),
    31: DoublePoint(11, 3, 0, T56),
    32: StepPosition(12, -64, False, 0, T56),
    33: Bitstring(13, 7, 0, T56),
    34: NormalizedValue(14, -1.0, 0, T56),
    35: ScaledValue(15, -32768, 0, T56),
    36: FloatValue(16, 0.125, Quality.OV | Quality.NT, T56._replace(invalid=True, summer=True)),
    37: IntegratedTotal(17, 99, 0, 0x40, T56),
    45: SingleCommand(20, True, True, 1),
    46: DoubleCommand(21, 1, False, 3),
    47: StepCommand(22, 2, True),
    48: SetpointNormalized(23, 0.75, True, 5),
    49: SetpointScaled(24, -3, False, 127),
    50: SetpointFloat(25, 12.5),
    51: BitstringCommand(26, 0x80000001),
    58: SingleCommand(20, False, False, 0, T56),
    59: DoubleCommand(21, 2, True, 0, T56),
    60: StepCommand(22, 1, False, 2, T56),
    61: SetpointNormalized(23, -0.125, False, 0, T56),
    62: SetpointScaled(24, 100, True, 0, T56),
    63: SetpointFloat(25, -2.5, False, 0, T56),
    64: BitstringCommand(26, 5, T56),
    70: EndOfInitialization(0, 2, True),
    100: Interrogation(0, 36),
    101: CounterInterrogation(0, 5, 2),
    102: ReadCommand(1001),
    103: ClockSync(0, T56),
    105: ResetProcess(0, 1),
    106: DelayAcquisition(0, 1500),
    107: TestCommand(0, 0xBEEF, T56),
}


def test_every_type_has_a_case():
    assert set(EVERY_TYPE) == set(CODECS)


@pytest.mark.parametrize("type_id", sorted(EVERY_TYPE))
def test_every_type_round_trips_and_lib60870_reads_its_header(type_id):
    obj = EVERY_TYPE[type_id]
    asdu = Asdu(type_id, Cause.ACTIVATION, 0x1234, (obj,), originator=7, test=True)
    data = encode_asdu(asdu)
    assert len(data) == 6 + 3 + CODECS[type_id].size
    assert decode_asdu(data) == asdu
    told = c104.explain_bytes_dict(apdu=i_frame(1, 2, data))
    assert int(told["type"]) == type_id
    assert (int(told["cot"]), told["test"], told["negative"]) == (6, True, False)
    assert (told["commonAddress"], told["originatorAddress"]) == (0x1234, 7)
    assert told["firstInformationObjectAddress"] == obj.ioa
    assert bytes.fromhex(told["elements"]) == data[6:]


def test_values_on_the_wire():
    def element(type_id, obj):
        return encode_asdu(Asdu(type_id, 3, 1, (obj,)))[9:]

    assert element(5, StepPosition(1, -5, True, Quality.OV)) == H("FB01")
    assert element(9, NormalizedValue(1, -0.5)) == H("00C000")
    assert element(9, NormalizedValue(1, 1.0)) == H("FF7F00")  # +1.0 clamps to 32767
    assert element(15, IntegratedTotal(1, -7, 3, 0x20)) == H("F9FFFFFF23")
    assert element(46, DoubleCommand(1, 1, False, 3)) == H("0D")
    assert element(48, SetpointNormalized(1, 0.75, True, 5)) == H("006085")
    assert element(101, CounterInterrogation(0, 5, 2)) == H("85")
    assert element(70, EndOfInitialization(0, 2, True)) == H("82")
    assert element(2, SinglePoint(1, True, 0, T24)) == H("01 43B0 1E".replace(" ", ""))
    assert element(107, TestCommand(0, 0xBEEF, T56))[:2] == H("EFBE")


def test_sequence_form_and_packing():
    objs = tuple(FloatValue(100 + i, float(i)) for i in range(3))
    asdu = Asdu(13, 20, 1, objs, sequence=True)
    data = encode_asdu(asdu)
    assert data[:9] == H("0D83140001006400 00".replace(" ", ""))
    assert len(data) == 9 + 3 * 5 and decode_asdu(data) == asdu
    with pytest.raises(AsduError, match="consecutive"):
        encode_asdu(asdu._replace(objects=(objs[0], objs[2])))
    many = [FloatValue(i, 1.0) for i in range(1, 101)] + [FloatValue(500, 2.0)]
    packed = pack_objects(13, 20, 1, many)
    assert [o for a in packed for o in a.objects] == many
    assert all(len(encode_asdu(a)) <= 249 for a in packed)
    assert packed[0].sequence and len(packed[0].objects) == (249 - 9) // 5
    commands = pack_objects(45, 6, 1, [SingleCommand(1, True), SingleCommand(2, True)])
    assert not commands[0].sequence  # control types never use SQ=1


def test_cp56_round_trips_datetimes_and_refuses_impossible_dates():
    moment = datetime(2031, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)
    assert Cp56Time.from_datetime(moment).to_datetime() == moment
    assert Cp56Time.from_datetime(moment).weekday == moment.isoweekday()
    with pytest.raises(AsduError, match="no date"):
        Cp56Time(0, 0, 0, 0, 13, 24).to_datetime()
    with pytest.raises(AsduError):
        encode_asdu(Asdu(103, 6, 1, (ClockSync(0, T56._replace(minute=60)),)))


@pytest.mark.parametrize(
    "data, complaint",
    [
        (H("0D01030001"), "shorter"),
        (H("0D0003000100E903000000BC4100"), "no information object"),
        (H("0D0103000100E903000000BC41"), "needs 14 bytes"),
        (H("0D8303000100FFFFFF" + "00" * 15), "largest address"),
    ],
)
def test_malformed_asdus_raise_asdu_errors(data, complaint):
    with pytest.raises(AsduError, match=complaint) as err:
        decode_asdu(data)
    assert isinstance(err.value, ProtocolError)


def test_unknown_type_is_its_own_error_and_can_be_mirrored_negative():
    data = H("8801060001000000007F")  # type 136 does not exist
    with pytest.raises(UnknownTypeError) as err:
        decode_asdu(data)
    assert err.value.type_id == 136
    answer = negative_mirror(data, Cause.UNKNOWN_TYPE)
    assert answer == H("88016C0001000000007F")
    told = c104.explain_bytes_dict(
        apdu=i_frame(0, 0, negative_mirror(H("2D018600010088130081"), 47))
    )
    assert told["negative"] and told["test"] and int(told["cot"]) == 47


@pytest.mark.parametrize(
    "asdu",
    [
        Asdu(13, 64, 1, (FloatValue(1, 1.0),)),  # cause beyond 6 bits
        Asdu(13, 3, 70000, (FloatValue(1, 1.0),)),  # common address beyond 2 bytes
        Asdu(13, 3, 1, (FloatValue(1 << 24, 1.0),)),  # IOA beyond 3 bytes
        Asdu(13, 3, 1, (FloatValue(1, 1e39),)),  # beyond a single float
        Asdu(9, 3, 1, (NormalizedValue(1, 1.5),)),
        Asdu(5, 3, 1, (StepPosition(1, 64),)),
        Asdu(3, 3, 1, (DoublePoint(1, 4),)),
        Asdu(45, 6, 1, (SingleCommand(1, True, False, 32),)),
        Asdu(30, 3, 1, (SinglePoint(1, True),)),  # a TB type without its time tag
        Asdu(13, 3, 1, ()),
        Asdu(13, 3, 1, tuple(FloatValue(i, 0.0) for i in range(128))),
        Asdu(13, 3, 1, tuple(FloatValue(i, 0.0) for i in range(31))),  # 254 bytes
    ],
)
def test_what_cannot_be_encoded_raises_asdu_error(asdu):
    with pytest.raises(AsduError):
        encode_asdu(asdu)


def test_float_values_keep_single_precision_and_nan():
    value = decode_asdu(encode_asdu(Asdu(13, 3, 1, (FloatValue(1, math.nan),)))).objects[0]
    assert math.isnan(value.value)
