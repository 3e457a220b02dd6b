import sys

readline = sys.stdin.buffer.readline
t = int(readline())
w = sys.stdout.buffer.write
for _ in range(t):
    a, b = map(int, readline().split())
    w(b"%d\n" % (a + b))
