import sys
print("debug: starting", file=sys.stderr)
sys.stdout.write(str(sum(map(int, input().split()))))
