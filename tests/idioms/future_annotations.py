from __future__ import annotations

import sys


def solve(nums: list[int]) -> int:
    return sum(nums)


x: int = solve(list(map(int, sys.stdin.read().split())))
print(x, __annotations__)
