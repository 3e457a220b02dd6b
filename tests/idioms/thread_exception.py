import threading


def work():
    raise ValueError("in the thread")  # printed by threading.excepthook; the process still exits 0


t = threading.Thread(target=work)
t.start()
t.join()
print(sum(map(int, input().split())))
