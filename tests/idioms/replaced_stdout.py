import io
import sys

sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), write_through=False)
print(sum(map(int, input().split())))
