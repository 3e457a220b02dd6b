import sys

a, b = map(int, input().split())
print(a + b)
print("giving up", file=sys.stderr)
sys.exit(1)
