# Wrong: thinks any odd number of N is impossible.
t = int(input())
for _ in range(t):
    s = input().strip()
    print("NO" if s.count("N") % 2 == 1 else "YES")
