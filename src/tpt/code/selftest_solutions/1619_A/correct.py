t = int(input())
for _ in range(t):
    s = input().strip()
    h = len(s) // 2
    print("YES" if len(s) % 2 == 0 and s[:h] == s[h:] else "NO")
