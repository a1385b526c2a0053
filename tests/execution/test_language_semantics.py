"""The language wall keeps Python semantics: each snippet prints the same on plain CPython and CodeRunner."""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
from typing import Any

import pytest

from codeagent.execution.language.runner import CodeRunner
from codeagent.execution.policy import DEFAULT_AUTHORIZED_IMPORTS, ExecutionPolicy
from codeagent.execution.types import ErrorKind

SNIPPETS: dict[str, str] = {
    "closures_defaults": """
def make(n, step=2):
    def add(x, *, k=1):
        return x + n * step + k
    return add
print(make(3)(1), make(3, step=1)(1, k=0))
""",
    "classes_dunders_super": """
class Base:
    def __init__(self, x):
        self.x = x
    def __repr__(self):
        return f"{self.__class__.__name__}(x={self.x!r})"
    def __eq__(self, other):
        return type(other) is type(self) and other.x == self.x
    def __hash__(self):
        return hash(self.x)
class Child(Base):
    def __init__(self, x, y):
        super().__init__(x)
        self.y = y
    def __len__(self):
        return self.x + self.y
    def __add__(self, other):
        return Child(self.x + other.x, self.y + other.y)
c = Child(1, 2) + Child(3, 4)
print(c, len(c), c == Child(4, 6), {Base(1), Base(1)}, isinstance(c, Base), type(c).__name__)
""",
    "private_attrs_and_mangling": """
class Stack:
    def __init__(self):
        self._items = []
        self.__secret = 42
    def push(self, item):
        self._items.append(item)
        return self
    def secret(self):
        return self.__secret
s = Stack().push(1).push(2)
print(s._items, s.secret(), s._Stack__secret)
""",
    "properties_classmethods": """
class Temp:
    scale = "C"
    def __init__(self, c):
        self._c = c
    @property
    def f(self):
        return self._c * 9 / 5 + 32
    @f.setter
    def f(self, value):
        self._c = (value - 32) * 5 / 9
    @classmethod
    def zero(cls):
        return cls(0)
    @staticmethod
    def describe():
        return "temperature"
t = Temp.zero()
t.f = 212
print(t.f, round(t._c), Temp.describe(), Temp.scale)
""",
    "decorators": """
import functools
def twice(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs) * 2
    return wrapper
@twice
def area(w, h=2):
    "Area."
    return w * h
@functools.lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
print(area(3), area.__name__, area.__doc__, fib(40))
""",
    "comprehensions_generators": """
def gen(n):
    for i in range(n):
        yield i * i
def relay():
    received = yield "ready"
    yield f"got {received}"
    yield from gen(2)
r = relay()
print(next(r), r.send("x"), list(r))
print([x for x in gen(5) if x % 2], {k: v for k, v in zip("ab", range(2))}, {x % 3 for x in range(9)})
print(sum(x for x in range(10)), [[i * j for j in range(3)] for i in range(3)])
print([f(2) for f in [lambda x, k=k: x * k for k in range(3)]])
""",
    "walrus_global_nonlocal": """
data = [1, 5, 9, 2]
if (n := len(data)) > 3:
    print("long", n)
print([y for x in data if (y := x * 2) > 4], y)
counter = 0
def bump():
    global counter
    counter += 1
def outer():
    total = 0
    def inner(v):
        nonlocal total
        total += v
    for v in range(4):
        inner(v)
    return total
bump(); bump()
print(counter, outer())
""",
    "match_statement": """
from dataclasses import dataclass
@dataclass
class Point:
    x: int
    y: int
def where(p):
    match p:
        case Point(x=0, y=0):
            return "origin"
        case Point(0, y):
            return f"y-axis {y}"
        case Point(x, y) if x == y:
            return "diagonal"
        case {"kind": "circle", "r": r, **rest}:
            return f"circle {r} {rest}"
        case [first, *others]:
            return f"seq {first} {others}"
        case str() | bytes():
            return "text"
        case int(n) if n > 10:
            return "big"
        case _:
            return "other"
for v in [Point(0, 0), Point(0, 3), Point(2, 2), {"kind": "circle", "r": 1, "c": 2}, [1, 2, 3], "s", 11, 3.5]:
    print(where(v))
""",
    "exceptions": """
class AppError(Exception):
    def __init__(self, msg, code):
        super().__init__(msg)
        self.code = code
def risky(x):
    if x < 0:
        raise AppError("negative", 400)
    return 1 / x
for v in (2, 0, -1):
    try:
        print(risky(v))
    except ZeroDivisionError as e:
        print("zero:", e)
    except AppError as e:
        print("app:", e, e.code)
    else:
        print("no error")
    finally:
        print("done", v)
try:
    raise ExceptionGroup("many", [ValueError("a"), TypeError("b")])
except* ValueError as eg:
    print("values", [str(e) for e in eg.exceptions])
except* TypeError as eg:
    print("types", len(eg.exceptions))
try:
    try:
        {}["missing"]
    except KeyError as e:
        raise RuntimeError("wrapped") from e
except RuntimeError as e:
    print(type(e).__name__, e)
""",
    "loops_else_with": """
for i in range(3):
    if i == 10:
        break
else:
    print("for-else")
i = 0
while i < 5:
    i += 1
    if i == 2:
        continue
    if i == 4:
        break
else:
    print("never")
print("i", i)
n = 0
while n < 3:
    n += 1
else:
    print("while-else", n)
class Managed:
    def __init__(self):
        self.log = []
    def __enter__(self):
        self.log.append("enter")
        return self
    def __exit__(self, exc_type, exc, tb):
        self.log.append(f"exit {exc_type.__name__ if exc_type else None}")
        return exc_type is ValueError
with Managed() as m:
    raise ValueError("swallowed")
print(m.log)
""",
    "fstrings_formatting": """
name, value = "pi", 3.14159
width = 8
print(f"{name!r:>{width}} = {value:.3f} {value:>10.2e} {1_000_000:,}")
print("{} {x:>4}".format("a", x=7), "{0[k]} {0[k]}".format({"k": "v"}), "%s-%05.1f" % ("z", 2.5))
fmt = "{v.real:+.1f}|{v.imag}".format
print(fmt(v=1.5), str.format("{}!", "hey"), "{a}/{b}".format_map({"a": 1, "b": 2}))
""",
    "async_top_level": """
async def square(x):
    return x * x
async def total(n):
    acc = 0
    for i in range(n):
        acc += await square(i)
    return acc
result = await total(4)
print(result)
""",
    "async_generators": """
async def agen(n):
    for i in range(n):
        yield i
async def collect():
    return [x async for x in agen(3)]
print(await collect())
""",
    "dataclasses_enum_namedtuple": """
from dataclasses import dataclass, field, asdict, replace
from enum import Enum, IntEnum, auto
from collections import namedtuple, Counter, defaultdict, deque
@dataclass(frozen=True, order=True)
class Item:
    name: str
    qty: int = 0
    tags: list = field(default_factory=list, compare=False)
    def __post_init__(self):
        object.__setattr__(self, "name", self.name.upper())
class Color(Enum):
    RED = auto()
    GREEN = auto()
class Level(IntEnum):
    LOW = 1
    HIGH = 2
class Mode(str, Enum):
    FAST = "fast"
Pair = namedtuple("Pair", "a b")
items = sorted([Item("b", 2), Item("a", 5)])
print(items, asdict(items[0]), replace(items[0], qty=9))
print(Color.RED, Color["GREEN"].value, list(Level), Level.HIGH > Level.LOW, Mode.FAST == "fast", Mode("fast"))
p = Pair(1, 2)
print(p._asdict(), p._replace(a=5), Pair._fields, Counter("hello").most_common(2))
d = defaultdict(list); d["x"].append(1); print(dict(d), deque([1, 2, 3], maxlen=2))
Animal = Enum("Animal", "CAT DOG")
print(list(Animal), Animal.DOG.value)
""",
    "typing_annotations": """
from typing import Optional, Union, Generic, TypeVar, Protocol, NamedTuple, TypedDict, Type
T = TypeVar("T")
class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item
    def get(self) -> T:
        return self.item
class P(NamedTuple):
    x: int
    y: int = 0
class Movie(TypedDict):
    title: str
def f(a: Optional[int] = None, b: Union[int, str] = 1, c: Type[int] = int,
      d: type[int] | None = None) -> list[int]:
    return [a or 0, 1]
print(Box(3).get(), P(1), Movie(title="x"), f(), isinstance(int, type), type(3) is int, type(int) is type)
""",
    "stdlib_modules": """
import math, json, re, itertools, statistics, datetime, random
import heapq, bisect, textwrap, string, operator, copy
random.seed(1)
print(math.isclose(math.sqrt(2) ** 2, 2), json.dumps({"a": [1, 2]}, sort_keys=True))
print(re.sub(r"\\d", "#", "a1b22"))
print(list(itertools.accumulate([1, 2, 3])), statistics.median([3, 1, 2]))
print(datetime.date(2024, 2, 29).isoformat())
print(random.randint(1, 100), heapq.nsmallest(2, [5, 1, 4]), bisect.bisect([1, 3, 5], 4))
print(textwrap.shorten("hello world again", 12), string.ascii_lowercase[:3])
print(string.Template("$a!").substitute(a=1))
rows = [{"x": 2, "n": "b"}, {"x": 1, "n": "a"}]
print(sorted(rows, key=operator.itemgetter("x")), sorted(rows, key=lambda r: -r["x"]))
class O:
    def __init__(self, v):
        self.v = v
print([o.v for o in sorted([O(3), O(1)], key=operator.attrgetter("v"))], operator.methodcaller("upper")("a"))
print(copy.deepcopy({"a": [1, {"b": 2}]}), datetime.datetime(2020, 1, 1).strftime("%Y/%m/%d"))
""",
    "dynamic_attributes": """
class Cfg:
    pass
c = Cfg()
setattr(c, "alpha", 1)
c.beta = 2
print(getattr(c, "alpha"), getattr(c, "gamma", "default"), hasattr(c, "beta"), hasattr(c, "zeta"))
delattr(c, "alpha")
print(hasattr(c, "alpha"), sorted(k for k in dir(c) if not k.startswith("__")), type(c).__name__)
""",
    "builtin_subclasses": """
class Registry(dict):
    def __missing__(self, key):
        return f"<{key}>"
class Tags(list):
    def add(self, tag):
        if tag not in self:
            self.append(tag)
        return self
class Name(str):
    def shout(self):
        return self.upper() + "!"
r = Registry(a=1)
print(r["a"], r["b"], Tags().add("x").add("x"), Name("bob").shout(), Name("x") + "y")
""",
    "recursion_and_iteration_protocols": """
def hanoi(n, a="A", b="B", c="C"):
    return [] if n == 0 else hanoi(n - 1, a, c, b) + [(a, c)] + hanoi(n - 1, b, a, c)
class Countdown:
    def __init__(self, start):
        self.n = start
    def __iter__(self):
        return self
    def __next__(self):
        if self.n <= 0:
            raise StopIteration
        self.n -= 1
        return self.n + 1
class Grid:
    def __getitem__(self, key):
        r, c = key
        return r * 10 + c
    def __contains__(self, v):
        return v == 42
    def __call__(self, x):
        return x + 1
g = Grid()
print(len(hanoi(6)), list(Countdown(3)), g[2, 3], 42 in g, g(1), list(map(g, [1, 2])))
""",
    "name_main_and_misc": """
if __name__ == "__main__":
    print("main")
x = [3, 1, 2]
x.sort(reverse=True)
a, *rest = x
print(a, rest, divmod(17, 5), round(2.675, 2), min([], default=None), any([]), all([]))
print(isinstance(True, int), issubclass(bool, int), callable(print), hash("a") == hash("a"), abs(-3))
del x[0]
print(x, repr(None), ascii("é"), bin(5), chr(65), ord("A"), format(255, "x"), pow(2, 10, 1000))
""",
}


def _plain_run(code: str) -> str:
    """Plain CPython: exec (or await, for top-level await) with the real builtins."""
    import asyncio

    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__main__"}
    out = io.StringIO()
    compiled = compile(code, "<plain>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    with contextlib.redirect_stdout(out):
        result = eval(compiled, namespace)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return out.getvalue()


@pytest.fixture(scope="module")
def policy() -> ExecutionPolicy:
    return ExecutionPolicy(authorized_imports=(*DEFAULT_AUTHORIZED_IMPORTS,))


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_same_output_as_cpython(name: str, policy: ExecutionPolicy) -> None:
    code = SNIPPETS[name]
    expected = _plain_run(code)
    result = CodeRunner(policy).run(code)
    assert result.error is None, result.error
    assert result.logs == expected


def test_last_expression_is_the_value_and_prints_nothing() -> None:
    runner = CodeRunner()
    result = runner.run("x = 6\nx * 7")
    assert (result.value, result.logs, result.is_final_answer) == (42, "", False)
    assert runner.run("print('hi')").value is None
    assert runner.run("y = 1").value is None


def test_state_persists_across_runs() -> None:
    runner = CodeRunner()
    runner.run(
        "import math\nclass Acc:\n    def __init__(self):\n        self._n = 0\n    def add(self, v):\n"
        "        self._n += v\n        return self._n\nacc = Acc()\ndef sq(x):\n    return x * x"
    )
    assert runner.run("acc.add(sq(3))").value == 9
    assert runner.run("acc.add(math.floor(2.5))").value == 11
    runner.set_variables({"data": [1, 2, 3]})
    assert runner.run("sum(data) + acc._n").value == 17


def test_reset_forgets_variables_and_keeps_tools() -> None:
    runner = CodeRunner()
    runner.set_tools({"double": lambda x: 2 * x})
    runner.run("import math\nx = math.floor(2.5)")
    runner.reset()
    result = runner.run("x")
    assert result.error is not None and result.error.type == "NameError"
    assert runner.run("import math\ndouble(math.floor(2.5))").value == 4
    assert runner.run("__name__").value == "__main__"


def test_functions_from_an_earlier_step_report_their_own_lines() -> None:
    runner = CodeRunner()
    runner.run("def f(x):\n    return 1 / x")
    result = runner.run("y = 2\nf(0)")
    assert result.error is not None and result.error.kind is ErrorKind.RUNTIME
    assert result.error.type == "ZeroDivisionError"
    assert (result.error.lineno, result.error.line) == (2, "f(0)")
    assert "return 1 / x" in result.error.message  # compact traceback of action frames


def test_vars_and_dir_on_own_objects() -> None:
    result = CodeRunner().run(
        "class A:\n    def __init__(self):\n        self.a = 1\n        self._b = 2\n"
        "print(vars(A()), 'a' in dir(A()))"
    )
    assert result.logs == "{'a': 1, '_b': 2} True\n"


def test_numpy_works_when_authorized() -> None:
    pytest.importorskip("numpy")
    runner = CodeRunner(ExecutionPolicy(authorized_imports=("numpy.*", "math")))
    result = runner.run(
        "import numpy as np\na = np.arange(6).reshape(2, 3)\n"
        "print(a.sum(), a.T.shape, np.linalg.norm([3, 4]))"
    )
    assert result.error is None and result.logs == "15 (3, 2) 5.0\n"


def test_pandas_works_when_authorized() -> None:
    pytest.importorskip("pandas")
    runner = CodeRunner(ExecutionPolicy(authorized_imports=("numpy.*", "pandas.*")))
    result = runner.run(
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})\n"
        "print(df['a'].sum(), df.agg('sum').to_dict(), len(df.to_csv()), df.shape)\ndf.info()"
    )
    assert result.error is None, result.error
    assert result.logs.startswith("3 {'a': 3, 'b': 7} 17 (2, 2)\n")
    assert "RangeIndex" in result.logs  # df.info() goes to the captured output
