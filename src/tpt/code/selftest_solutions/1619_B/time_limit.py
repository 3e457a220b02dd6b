# Too slow: walks over every number up to n.
t = int(input())
for _ in range(t):
    n = int(input())
    liked = 0
    x = 1
    while x <= n:
        r = round(x ** 0.5)
        c = round(x ** (1 / 3))
        if r * r == x or c * c * c == x:
            liked += 1
        x += 1
    print(liked)
