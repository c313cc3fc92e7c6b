"""`make bench`: every benchmark, each measuring incore and its peers in the same run."""

import importlib
import sys

from bench import reactive

#: The protocol benchmarks, each run when its objects are there.
PROTOCOLS = ("s7", "modbus", "modbus_client", "modbus_crowd", "iec104", "mqtt")


def main() -> None:
    reactive.main()
    for name in PROTOCOLS:
        try:
            bench = importlib.import_module(f"bench.{name}")
        except ImportError as exc:
            print(f"\n({name} benchmark not available: {exc})", file=sys.stderr)
            continue
        bench.main([])


if __name__ == "__main__":
    main()
