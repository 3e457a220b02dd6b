t, *rows = open(0).read().splitlines()
print(*(sum(map(int, r.split())) for r in rows[:int(t)]), sep="\n")
