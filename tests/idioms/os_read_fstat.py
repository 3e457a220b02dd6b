import io
import os

input = io.BytesIO(os.read(0, os.fstat(0).st_size)).readline
t = int(input())
out = []
for _ in range(t):
    a, b = map(int, input().split())
    out.append(a + b)
os.write(1, "\n".join(map(str, out)).encode() + b"\n")
