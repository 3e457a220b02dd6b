import sys

n = int(input())
try:
    str(10 ** n)
except ValueError as e:
    print("limited:", str(e).split(";")[0])
sys.set_int_max_str_digits(0)
print(len(str(10 ** n)))
