print("first line")
print(1 // int(input()))
