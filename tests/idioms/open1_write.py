out = open(1, "w")
out.write(str(sum(map(int, open(0).read().split()))) + "\n")
