# Too much memory: materialises 1..n.
t = int(input())
for _ in range(t):
    n = int(input())
    numbers = list(range(1, n + 1))
    print(sum(1 for x in numbers if round(x ** 0.5) ** 2 == x or round(x ** (1 / 3)) ** 3 == x))
