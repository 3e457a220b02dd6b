import sys
input = sys.stdin.readline

t = int(input())
for _ in range(t):
    a, b = map(int, input().split())
    sys.stdout.write(str(a + b) + "\n")
sys.stdout.flush()
