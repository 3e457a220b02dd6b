t = int(input())
pairs = [tuple(map(int, input().split())) for _ in range(t)]
print(pairs[t][0])  # index out of range
