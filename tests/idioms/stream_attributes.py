import os
import sys

for name in ("stdin", "stdout", "stderr"):
    s = getattr(sys, name)
    print(name, type(s).__name__, s.name, s.mode, s.encoding, s.errors, s.newlines, s.line_buffering,
          s.write_through, s.fileno(), s.isatty(), s.readable(), s.writable(), s.seekable(), s.closed)
    b = s.buffer
    print(" buffer", type(b).__name__, b.name, b.mode, b.fileno(), b.isatty(), b.readable(), b.writable())
    r = b.raw
    print(" raw", type(r).__name__, r.name, r.mode, r.closefd, r.fileno())
    print(" same as __std__:", s is getattr(sys, "__%s__" % name))
print(os.isatty(0), os.isatty(1), sys.stdin.buffer.peek(1)[:1])
