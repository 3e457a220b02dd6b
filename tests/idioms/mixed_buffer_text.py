import sys

print("text 1")
sys.stdout.buffer.write(b"bytes 1\n")
print("text 2")
sys.stdout.flush()
sys.stdout.buffer.write(b"bytes 2\n")
print("text 3", end="")
