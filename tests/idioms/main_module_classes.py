import pickle
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(order=True)
class Item:
    cost: int
    name: str = field(compare=False)


class Edge(NamedTuple):
    u: int
    v: int


items = sorted(Item(int(c), n) for n, c in (tok.split(":") for tok in input().split()))
print([i.name for i in items], Item.__module__, Edge.__module__)
print(pickle.loads(pickle.dumps(Edge(1, 2))), pickle.loads(pickle.dumps(items[0])))
