import sys

lines = sys.stdin.read().split()
for s in lines[1:]:
    print("yes" if s == s[: len(s) // 2] * 2 else "no")  # any letter case is accepted
