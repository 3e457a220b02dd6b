import os

chunks = []
while True:
    b = os.read(0, 4)
    if not b:
        break
    chunks.append(b)
data = b"".join(chunks).split()
t = int(data[0])
print("\n".join(str(int(data[1 + 2 * i]) + int(data[2 + 2 * i])) for i in range(t)))
