from math import isqrt


def icbrt(n):
    r = round(n ** (1 / 3))
    while r * r * r > n:
        r -= 1
    while (r + 1) ** 3 <= n:
        r += 1
    return r


def i6rt(n):
    r = round(n ** (1 / 6))
    while r ** 6 > n:
        r -= 1
    while (r + 1) ** 6 <= n:
        r += 1
    return r


t = int(input())
for _ in range(t):
    n = int(input())
    print(isqrt(n) + icbrt(n) - i6rt(n))
