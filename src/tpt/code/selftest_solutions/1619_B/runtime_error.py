t = int(input())
for _ in range(t):
    n = int(input().split())  # int() of a list
    print(n)
