"""`make bench`: every benchmark, each measuring incore and its peers in the same run."""

import sys

from bench import reactive


def main() -> None:
    reactive.main()
    try:
        from bench import s7
    except ImportError as exc:  # the S7 benchmark lands with the S7 objects
        print(f"\n(s7 benchmark not available: {exc})", file=sys.stderr)
        return
    s7.main()


if __name__ == "__main__":
    main()
