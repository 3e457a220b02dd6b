import sys
import __main__

print(__name__, __main__ is sys.modules[__name__], __main__.__dict__ is globals())
print(sorted(k for k in globals() if k.startswith("__")))
print(__doc__, __package__, __spec__, __cached__, type(__builtins__).__name__)
print(len(sys.argv), os.path.basename(sys.argv[0]) if (os := __import__("os")) else "", os.path.basename(__file__))
print(sys.argv[0] == __file__, os.path.dirname(__file__) == sys.path[0])
