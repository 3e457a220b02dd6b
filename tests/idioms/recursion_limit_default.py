import sys


def f(k):
    return 0 if k == 0 else 1 + f(k - 1)


n = int(input())
print(sys.getrecursionlimit())
print(f(n))
