import sys

deepest = 0


def down(k):
    global deepest
    deepest = k
    down(k + 1)


for limit in (None, 50, 3000):
    if limit:
        sys.setrecursionlimit(limit)
    try:
        down(1)
    except RecursionError:
        pass
    print(sys.getrecursionlimit(), deepest)
