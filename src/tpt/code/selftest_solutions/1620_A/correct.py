# Impossible exactly when there is a single N: that pair would be equal through the rest of the circle.
t = int(input())
for _ in range(t):
    s = input().strip()
    print("NO" if s.count("N") == 1 else "YES")
