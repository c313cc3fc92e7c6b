"""Conformance matrix, python-snap7 3.x's client: every public operation of
`snap7.client.Client`, called against our S7Server and against a Snap7 C server holding the
same areas and data, must end the same way (the same value, or the same error and text).

Where the two differ on purpose the difference is listed in `DIFFERS` with why, and the test
holds ours to what it must answer (and fails if the two ever agree, so a stale entry shows).
Where python-snap7's own client is broken the op says so (`..._pysnap7ops`) and tests what is
testable: both servers see the same broken client. The whole traffic to our server goes
through a recording proxy and is dissected by tshark at the end of the module.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest
from test_s7_server_matrix_pysnap7ops import PYSNAP7_OPS
from test_s7_server_matrix_support import (  # noqa: F401  (servers: the fixture)
    Servers,
    pysnap7_client,
    servers,
    write_pcap,
)


def _run(op: Callable, port: int) -> object:
    client = pysnap7_client(port)
    try:
        return op(client)
    finally:
        client.disconnect()


def _error(text: str) -> Callable[[tuple, tuple], bool]:
    return lambda ours, theirs: ours[0] == "error" and text in ours[2]


def _same_shape(ours: tuple, theirs: tuple) -> bool:
    """Both answered an SZL of the same record length (the content is each server's own)."""
    return ours[0] == theirs[0] == "ok" and ours[1][1][:4] == theirs[1][1][:4]


def _ids(answer: str) -> set[str]:
    return {answer[i : i + 4] for i in range(8, len(answer), 4)}


def _cpu_info(ours: tuple, theirs: tuple) -> bool:
    mine, reference = ours[1], theirs[1]
    same = ("ModuleTypeName", "Copyright", "ModuleName")
    return all(mine[k] == reference[k] for k in same) and mine["ASName"] == b"INCORE".hex()


#: op -> (why ours differs from Snap7 C, what ours must answer given (ours, theirs)).
DIFFERS: dict[str, tuple[str, Callable[[tuple, tuple], bool]]] = {
    "delete": (
        "Snap7 C acknowledges any PI service without deleting anything; ours refuses a block "
        "delete as a protected CPU (0xD241), as both refuse upload and download",
        _error("class=0xd2, code=0x41"),
    ),
    "db_read, missing DB": (
        "Snap7 C's refused item announces 4 data bytes it does not send (python-snap7 says "
        "'truncated'); ours announces none, as the item layout wants",
        _error("Object does not exist (0x0a)"),
    ),
    "db_read, out of range": (
        "as for a missing DB: Snap7 C's refused item announces 4 bytes",
        _error("Invalid address (0x05)"),
    ),
    "db_get, missing DB": (
        "db_get asks block info first: Snap7 C's stray record after its refusal",
        _error("(0xd209)"),
    ),
    "get_block_info DB99 (missing)": (
        "Snap7 C's refusal announces 4 data bytes and sends 78 more (python-snap7 then says "
        "'truncated'); ours sends the refusal alone",
        _error("(0xd209)"),
    ),
    "get_block_info OB1 (missing)": (
        "as for DB99: Snap7 C's stray record after its refusal",
        _error("(0xd209)"),
    ),
    "read_force_table": (
        "python-snap7 reads SZL 0x0025 (process image partitions) as a force table; Snap7 C "
        "serves a canned 0x0025 record it misreads as a forced bit, ours has no such list "
        "and python-snap7 answers [] as documented",
        lambda ours, theirs: ours == ("ok", []),
    ),
    "read_diagnostic_buffer": (
        "Snap7 C serves a canned diagnostic buffer (SZL 0x00A0) of a real CPU; ours keeps "
        "none and refuses the ID (0xD401)",
        _error("(0xd401)"),
    ),
    "read_szl 0x0F99 (unknown)": (
        "an ID neither serves: Snap7 C answers 0xD402 (bad index) for every missing list, "
        "ours 0xD401 (unknown ID), as Wireshark and the S7 manuals name them",
        lambda ours, theirs: _error("(0xd401)")(ours, theirs) and "(0xd402)" in theirs[2],
    ),
    "get_cp_info": (
        "python-snap7 asks SZL 0x0131 index 0 (no CPU defines it): Snap7 C refuses, ours "
        "answers the four words python-snap7 reads",
        lambda ours, theirs: ours[0] == "ok" and ours[1]["MaxPduLength"] == 480,
    ),
    "get_protection": (
        "python-snap7 asks SZL 0x0232 index 0: Snap7 C refuses, ours answers the five words",
        lambda ours, theirs: ours[0] == "ok" and ours[1]["sch_schal"] == 1,
    ),
    "get_cpu_info": (
        "each server's own identity (AS name, serial number)",
        _cpu_info,
    ),
    "tm_write, timers 4 and 5": (
        "Snap7 C's server keeps timer/counter N at byte N // 2 of its area, so timers 4 and 5 "
        "share one word; ours keeps each at byte 2N",
        lambda ours, theirs: ours == ("ok", ["0004", "0005", "00" * 8 + "00040005" + "00" * 4]),
    ),
    **{
        name: ("the SZL IDs each serves: ours a subset of Snap7 C's canned ones", check)
        for name, check in (
            ("read_szl 0x0000", lambda o, t: _ids(o[1][1]) <= _ids(t[1][1])),
            ("read_szl_list", lambda o, t: _ids(o[1]) <= _ids(t[1])),
            ("as_read_szl_list", lambda o, t: set(o[1][3][2:]) <= set(t[1][3][2:])),
        )
    },
    **{
        name: ("each server's own identity and state records, of the same layout", _same_shape)
        for name in (
            "read_szl 0x0011",
            "read_szl 0x0111/1",
            "read_szl 0x001C",
            "read_szl 0x011C/1",
            "read_szl 0x0131/1",
            "read_szl 0x0232/4",
            "read_szl 0x0424",
        )
    },
    "as_read_szl": (
        "SZL 0x0011 (Snap7 C has a fourth, boot loader record)",
        lambda ours, theirs: ours[1][:2] == theirs[1][:2] == (0, 0),
    ),
}


@pytest.mark.parametrize("name", list(PYSNAP7_OPS))
def test_pysnap7_op_ends_alike_on_both_servers(servers: Servers, name: str) -> None:
    op = PYSNAP7_OPS[name]
    ours = servers.on_ours(lambda: _run(op, servers.proxy.port))
    theirs = servers.on_ours(lambda: _run(op, servers.reference))
    if name in DIFFERS:
        why, check = DIFFERS[name]
        assert ours != theirs, f"now alike, drop the DIFFERS entry ({why})"
        assert check(ours, theirs), (why, ours, theirs)
    else:
        assert ours == theirs


def test_every_differs_entry_names_an_op() -> None:
    assert set(DIFFERS) <= set(PYSNAP7_OPS)


def _tshark(pcap: str, display_filter: str, *fields: str) -> list[list[str]]:
    tshark = shutil.which("tshark")
    assert tshark, "tshark is required for this test (Debian package 'tshark')"
    args = [tshark, "-r", pcap, "-Y", display_filter, "-T", "fields"]
    for name in fields or ("frame.number",):
        args += ["-e", name]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def test_tshark_finds_nothing_wrong_in_what_our_server_sent(servers: Servers, tmp_path) -> None:
    """After the matrix (run alone, it runs every op first): the whole conversation of
    python-snap7 with our server, dissected; nothing our server sent is malformed or
    flagged, while python-snap7's own odd requests are (so the check can fail)."""
    if len(servers.proxy.conversations) < len(PYSNAP7_OPS):
        for op in PYSNAP7_OPS.values():
            servers.on_ours(lambda op=op: _run(op, servers.proxy.port))
    pcap = str(tmp_path / "matrix.pcap")
    write_pcap(pcap, servers.proxy.conversations)
    answers = _tshark(pcap, "tcp.srcport == 102 && s7comm", "s7comm.header.rosctr")
    assert len(answers) > 2 * len(PYSNAP7_OPS)
    problems = _tshark(
        pcap,
        "tcp.srcport == 102 && (_ws.malformed || _ws.expert.severity >= warning)",
        "frame.number",
        "_ws.expert.message",
    )
    assert problems == []
    flagged = _tshark(pcap, "_ws.malformed || _ws.expert.severity >= warning", "tcp.dstport")
    assert flagged and {row[0] for row in flagged} == {"102"}  # only requests are
