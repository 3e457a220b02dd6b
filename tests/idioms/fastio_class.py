import os
import sys
from io import BytesIO, IOBase

CHUNK = 1 << 13


class FastIO(IOBase):
    """Reads the whole input with os.read, writes through one os.write at flush."""
    newlines = 0

    def __init__(self, file):
        self._fd = file.fileno()
        self.buffer = BytesIO()
        self.writable = "x" in file.mode or "r" not in file.mode
        self.write = self.buffer.write if self.writable else None

    def read(self):
        while True:
            chunk = os.read(self._fd, max(os.fstat(self._fd).st_size, CHUNK))
            if not chunk:
                break
            pos = self.buffer.tell()
            self.buffer.seek(0, 2)
            self.buffer.write(chunk)
            self.buffer.seek(pos)
        self.newlines = 0
        return self.buffer.read()

    def readline(self):
        while self.newlines == 0:
            chunk = os.read(self._fd, max(os.fstat(self._fd).st_size, CHUNK))
            self.newlines = chunk.count(b"\n") + (not chunk)
            pos = self.buffer.tell()
            self.buffer.seek(0, 2)
            self.buffer.write(chunk)
            self.buffer.seek(pos)
        self.newlines -= 1
        return self.buffer.readline()

    def flush(self):
        if self.writable:
            os.write(self._fd, self.buffer.getvalue())
            self.buffer.truncate(0)
            self.buffer.seek(0)


class TextIO(IOBase):
    def __init__(self, file):
        self.buffer = FastIO(file)
        self.flush = self.buffer.flush
        self.writable = self.buffer.writable
        self.write = lambda s: self.buffer.write(s.encode("ascii"))
        self.read = lambda: self.buffer.read().decode("ascii")
        self.readline = lambda: self.buffer.readline().decode("ascii")


sys.stdin, sys.stdout = TextIO(sys.stdin), TextIO(sys.stdout)
input = lambda: sys.stdin.readline().rstrip("\r\n")


def main():
    t = int(input())
    for _ in range(t):
        a, b = map(int, input().split())
        print(a + b)


if __name__ == "__main__":
    main()
