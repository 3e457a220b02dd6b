import sys

print(sum(map(int, input().split())))
sys.stdout.close()  # closed before exit: the interpreter does not flush it again
