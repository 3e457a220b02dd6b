import sys
import threading

sys.setrecursionlimit(1 << 20)
threading.stack_size(1 << 26)


def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)


def main():
    n = int(input())
    print(depth(n))


t = threading.Thread(target=main)
t.start()
t.join()
