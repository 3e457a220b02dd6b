from sys import stdin, stdout

next(stdin)
for line in stdin:
    stdout.write(f"{sum(map(int, line.split()))}\n")
