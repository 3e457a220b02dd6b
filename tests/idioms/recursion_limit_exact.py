import sys

n = int(input())
sys.setrecursionlimit(n + 50)


def f(k):
    return 0 if k == 0 else 1 + f(k - 1)


print(f(n))
