import threading
import time


def late():
    time.sleep(0.05)
    print("from the thread")


threading.Thread(target=late).start()
print("from main")
