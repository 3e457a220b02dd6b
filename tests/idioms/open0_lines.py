first, *rest = [*open(0, "rb")]
for line in rest[:int(first)]:
    print(sum(map(int, line.split())))
