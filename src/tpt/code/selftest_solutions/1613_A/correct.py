# Compare x1 * 10^p1 with x2 * 10^p2 without building huge numbers.
t = int(input())
res = []
for _ in range(t):
    x1, p1 = map(int, input().split())
    x2, p2 = map(int, input().split())
    # bring both mantissas to the same exponent; the mantissas have at most 7 digits
    m = min(p1, p2)
    p1 -= m
    p2 -= m
    if p1 > 7:
        res.append(">")
        continue
    if p2 > 7:
        res.append("<")
        continue
    a, b = x1 * 10 ** p1, x2 * 10 ** p2
    res.append("<" if a < b else ">" if a > b else "=")
print("\n".join(res))
