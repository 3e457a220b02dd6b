import sys
import threading


def main():
    print(sum(map(int, input().split())))
    sys.exit()  # ends this thread only


threading.Thread(target=main).start()
