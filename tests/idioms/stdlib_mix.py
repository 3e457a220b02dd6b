import heapq
import sys
from collections import Counter, defaultdict, deque
from functools import lru_cache, reduce
from math import gcd

sys.setrecursionlimit(5000)


@lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


nums = list(map(int, input().split()))
h = nums[:]
heapq.heapify(h)
d = deque(nums)
d.rotate(1)
g = defaultdict(list)
for x in nums:
    g[x % 3].append(x)
print(fib(1000) % 1000000007, heapq.heappop(h), list(d), dict(g), Counter(nums).most_common(1), reduce(gcd, nums))
