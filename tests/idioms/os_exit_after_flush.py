import os
import sys

print(sum(map(int, input().split())))
sys.stdout.flush()
os._exit(0)  # skips the interpreter's exit: only what was flushed is there
