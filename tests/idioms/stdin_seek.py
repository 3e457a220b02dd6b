import sys

first = sys.stdin.readline()
rest = sys.stdin.read()
sys.stdin.seek(0)
again = sys.stdin.read()
print(repr(first), len(rest), again == first + rest, sys.stdin.tell())
