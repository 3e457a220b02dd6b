print(sum(map(int, input().split())))
exit()
print("not reached")
