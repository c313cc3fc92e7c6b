"""The numbers of IEC 60870-5-101/104 application data: type ids, causes, quality bits.

Enums here are for names and readability; the codecs hand out and accept plain ints
(an `IntEnum`/`IntFlag` member is an int), because building an enum member per value
costs more than the rest of decoding a measured value.
"""

from __future__ import annotations

import enum

__all__ = [
    "Cause",
    "CounterQuality",
    "DoublePointValue",
    "Quality",
    "StepCommandValue",
    "TypeId",
    "QOI_STATION",
    "qoi_group",
    "group_cause",
]


class TypeId(enum.IntEnum):
    """Type identification (first byte of every ASDU)."""

    M_SP_NA_1 = 1
    M_SP_TA_1 = 2
    M_DP_NA_1 = 3
    M_DP_TA_1 = 4
    M_ST_NA_1 = 5
    M_ST_TA_1 = 6
    M_BO_NA_1 = 7
    M_BO_TA_1 = 8
    M_ME_NA_1 = 9
    M_ME_TA_1 = 10
    M_ME_NB_1 = 11
    M_ME_TB_1 = 12
    M_ME_NC_1 = 13
    M_ME_TC_1 = 14
    M_IT_NA_1 = 15
    M_IT_TA_1 = 16
    M_PS_NA_1 = 20
    M_ME_ND_1 = 21
    M_SP_TB_1 = 30
    M_DP_TB_1 = 31
    M_ST_TB_1 = 32
    M_BO_TB_1 = 33
    M_ME_TD_1 = 34
    M_ME_TE_1 = 35
    M_ME_TF_1 = 36
    M_IT_TB_1 = 37
    C_SC_NA_1 = 45
    C_DC_NA_1 = 46
    C_RC_NA_1 = 47
    C_SE_NA_1 = 48
    C_SE_NB_1 = 49
    C_SE_NC_1 = 50
    C_BO_NA_1 = 51
    C_SC_TA_1 = 58
    C_DC_TA_1 = 59
    C_RC_TA_1 = 60
    C_SE_TA_1 = 61
    C_SE_TB_1 = 62
    C_SE_TC_1 = 63
    C_BO_TA_1 = 64
    M_EI_NA_1 = 70
    C_IC_NA_1 = 100
    C_CI_NA_1 = 101
    C_RD_NA_1 = 102
    C_CS_NA_1 = 103
    C_RP_NA_1 = 105
    C_CD_NA_1 = 106
    C_TS_TA_1 = 107

    @property
    def is_command(self) -> bool:
        """A control-direction type (45 and up, except end of initialisation)."""
        return self >= 45 and self != 70


class Cause(enum.IntEnum):
    """Cause of transmission (bits 0-5 of the COT byte)."""

    PERIODIC = 1
    BACKGROUND = 2
    SPONTANEOUS = 3
    INITIALIZED = 4
    REQUEST = 5
    ACTIVATION = 6
    ACTIVATION_CON = 7
    DEACTIVATION = 8
    DEACTIVATION_CON = 9
    ACTIVATION_TERMINATION = 10
    RETURN_REMOTE = 11
    RETURN_LOCAL = 12
    FILE_TRANSFER = 13
    INTERROGATED_BY_STATION = 20
    # 21..36: interrogated by group 1..16 (see `group_cause`)
    REQUESTED_BY_GENERAL_COUNTER = 37
    # 38..41: counter interrogation groups 1..4
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_COMMON_ADDRESS = 46
    UNKNOWN_IOA = 47


class Quality(enum.IntFlag):
    """Quality descriptor bits of SIQ, DIQ and QDS (OV only in QDS)."""

    GOOD = 0
    OV = 0x01  # overflow
    BL = 0x10  # blocked
    SB = 0x20  # substituted
    NT = 0x40  # not topical
    IV = 0x80  # invalid


class CounterQuality(enum.IntFlag):
    """Flag bits of a binary counter reading (BCR byte 5; bits 0-4 are its sequence number)."""

    GOOD = 0
    CY = 0x20  # carry: the counter overflowed in this period
    CA = 0x40  # adjusted since the last reading
    IV = 0x80  # invalid


class DoublePointValue(enum.IntEnum):
    """DPI of a double point (and DCS of a double command, where only OFF and ON are valid)."""

    INTERMEDIATE = 0
    OFF = 1
    ON = 2
    INDETERMINATE = 3


class StepCommandValue(enum.IntEnum):
    """RCS of a regulating step command (0 and 3 are not permitted)."""

    LOWER = 1
    HIGHER = 2


#: QOI of a station (general) interrogation; groups 1..16 are 21..36.
QOI_STATION = 20


def qoi_group(qoi: int) -> int | None:
    """The interrogation group a QOI asks for: 0 for the station, 1..16, or None (other)."""
    if qoi == QOI_STATION:
        return 0
    return qoi - QOI_STATION if 21 <= qoi <= 36 else None


def group_cause(group: int) -> int:
    """The COT of an answer to interrogation `group` (0 = station: 20; 1..16: 21..36)."""
    if not 0 <= group <= 16:
        raise ValueError(f"interrogation group {group} is not 0..16")
    return Cause.INTERROGATED_BY_STATION + group
