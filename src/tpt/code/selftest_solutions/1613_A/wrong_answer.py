# Wrong: compares only the number of digits.
t = int(input())
for _ in range(t):
    x1, p1 = map(int, input().split())
    x2, p2 = map(int, input().split())
    l1, l2 = len(str(x1)) + p1, len(str(x2)) + p2
    print("<" if l1 < l2 else ">" if l1 > l2 else "=")
