import atexit
import io
import sys

out = io.StringIO()
atexit.register(lambda: sys.__stdout__.write(out.getvalue()))
sys.stdout = out
print(sum(map(int, input().split())))
