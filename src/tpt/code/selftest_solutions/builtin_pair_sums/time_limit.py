t = int(input())
total = 0
while True:  # never finishes
    total += 1
