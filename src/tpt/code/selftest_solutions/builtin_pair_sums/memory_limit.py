t = int(input())
blocks = []
while True:  # grows until the address-space limit says no
    blocks.append(bytearray(16 << 20))
