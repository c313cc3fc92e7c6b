"""A shared evaluation counter for the diamond benchmarks."""

evaluations = [0]


def count(value: float) -> float:
    evaluations[0] += 1
    return value
