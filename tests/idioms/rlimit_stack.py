import resource
import sys

soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
sys.setrecursionlimit(10 ** 6)


def f(k):
    return 0 if k == 0 else 1 + f(k - 1)


print(f(int(input())))
