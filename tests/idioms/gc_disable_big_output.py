import gc
import sys

gc.disable()
n = int(input())
w = sys.stdout.write
for i in range(n):
    w(f"{i * i}\n")
