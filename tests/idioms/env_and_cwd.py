import os
import sys

print(sorted(os.environ), os.getcwd() == os.path.dirname(os.path.abspath(sys.argv[0])))
print(sys.flags.optimize, sys.flags.isolated, sys.flags.no_site, sys.flags.utf8_mode, sys.getdefaultencoding())
print(sys.getfilesystemencoding(), sys.stdout.encoding, sys.stdin.encoding)
print(sys.executable.startswith("/"), sys.version_info[:2] >= (3, 8))
