"""Two variants measured side by side in one process, for a machine whose speed drifts more
between runs than the change being measured: rounds alternate which variant goes first, and
the figure kept is each round's pair's ratio, so the drift falls on both alike."""

from __future__ import annotations

import statistics


def order(round_: int, variants: tuple[str, str]) -> tuple[str, str]:
    """The variants in the order this round runs them: swapped every other round."""
    return variants if round_ % 2 == 0 else (variants[1], variants[0])


def report(cpu: dict[str, list[float]], variants: tuple[str, str], unit: str) -> None:
    """Each variant's median CPU ms per ``unit`` over its rounds, and the median of the rounds'
    ratios, the first variant over the second."""
    for variant in variants:
        figures = cpu[variant]
        median = statistics.median(figures)
        print(f"{variant:>9}: median {median:.3f} CPU ms per {unit} ({len(figures)} rounds)")
    first, second = variants
    ratios = [a / b for a, b in zip(cpu[first], cpu[second], strict=True)]
    print(f"{first} / {second}, each round's pair: median {statistics.median(ratios):.3f}")
