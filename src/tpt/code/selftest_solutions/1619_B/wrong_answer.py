# Wrong: floating-point roots (1e9 ** (1/3) is 999.9999999999998).
t = int(input())
for _ in range(t):
    n = int(input())
    print(int(n ** 0.5) + int(n ** (1 / 3)) - int(n ** (1 / 6)))
