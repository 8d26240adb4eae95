"""The sandbox escape battery: cells that print `ESCAPED` only if the escape worked (spelt
`ESC + "APED"` in the source, so that a traceback quoting the line does not count).

Placeholders: `{marker}` a path that must not come to exist, `{victim}` a file that must not be
deleted, `{port}` a loopback listener that must see no connection, `{secret}` the name of a host
environment variable holding a fake credential.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    category: str
    name: str
    code: str


def _attacks(category: str, items: dict[str, str]) -> list[Attack]:
    return [Attack(category, name, code) for name, code in items.items()]


IMPORTS = _attacks(
    "imports",
    {
        "os.environ": "import os\nprint(ESC, os.environ)",
        "os.getenv": "import os\nprint(ESC, os.getenv('{secret}'))",
        "os.system": "import os\nos.system('touch {marker}')\nprint(ESC)",
        "os.popen": "import os\nprint(ESC, os.popen('id').read())",
        "os.fork": "import os\nos.fork()\nprint(ESC)",
        "os.execv": "import os\nos.execv('/bin/sh', ['sh'])\nprint(ESC)",
        "os.kill": "import os\nos.kill(1, 0)\nprint(ESC)",
        "os.listdir": "import os\nprint(ESC, os.listdir('/'))",
        "os.remove": "import os\nos.remove('{victim}')\nprint(ESC)",
        "os.mkdir": "import os\nos.mkdir('{marker}')\nprint(ESC)",
        "os.chdir + open": "import os\nos.chdir('/etc')\nprint(ESC, open('passwd').read())",
        "sys.modules": "import sys\nprint(ESC, sys.modules['os'])",
        "sys.path": "import sys\nprint(ESC, sys.path)",
        "subprocess": "import subprocess\nprint(ESC, subprocess.run(['id']))",
        "socket": "import socket\nsocket.create_connection(('127.0.0.1', {port}))\nprint(ESC)",
        "ctypes": "import ctypes\nprint(ESC, ctypes.CDLL(None))",
        "importlib": "import importlib\nprint(ESC, importlib.import_module('os').environ)",
        "builtins module": "import builtins\nprint(ESC, builtins.open('/etc/passwd').read())",
        "io.open": "import io\nprint(ESC, io.open('/etc/passwd').read())",
        "pathlib read": "import pathlib\nprint(ESC, pathlib.Path('/etc/passwd').read_text())",
        "pathlib write": "import pathlib\npathlib.Path('{marker}').write_text('x')\nprint(ESC)",
        "shutil": "import shutil\nshutil.rmtree('/tmp')\nprint(ESC)",
        "pickle": "import pickle\nprint(ESC, pickle.loads)",
        "marshal": "import marshal\nprint(ESC, marshal.loads)",
        "threading": "import threading\nthreading.Thread(target=print).start()\nprint(ESC)",
        "multiprocessing": "import multiprocessing\nprint(ESC, multiprocessing.Process)",
        "signal": "import signal\nsignal.alarm(1)\nprint(ESC)",
        "urllib": "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}')\n"
        "print(ESC)",
        "http.client": "import http.client\nc = http.client.HTTPConnection('127.0.0.1', {port})\n"
        "c.request('GET', '/')\nprint(ESC)",
        "asyncio subprocess": "import asyncio\nawait asyncio.create_subprocess_exec('touch', "
        "'{marker}')\nprint(ESC)",
        "asyncio connection": "import asyncio\nawait asyncio.open_connection('127.0.0.1', {port})\n"
        "print(ESC)",
        "resource": "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\nprint(ESC)",
        "gc objects": "import gc\nprint(ESC, len(gc.get_objects()))",
        "inspect": "import inspect\nprint(ESC, inspect.currentframe().f_globals)",
    },
)

BUILTINS = _attacks(
    "builtins",
    {
        "open read": "print(ESC, open('/etc/passwd').read())",
        "open write": "open('{marker}', 'w').write('x')\nprint(ESC)",
        "open /proc environ": "print(ESC, open('/proc/self/environ').read())",
        "__import__": "__import__('os')\nprint(ESC)",
        "eval import": "print(ESC, eval(\"__import__('os').environ\"))",
        "eval open": "print(ESC, eval(\"open('/etc/passwd').read()\"))",
        "exec import": 'exec(\'import os\\nprint("ESC" + "APED", os.environ)\')',
        "exec nested": "exec(\"exec('import subprocess')\")\nprint(ESC)",
        "compile": "compile('1', 'f', 'eval')\nprint(ESC)",
        "globals": "print(ESC, globals())",
        "vars": "print(ESC, vars())",
        "locals": "print(ESC, locals()['__builtins__'])",
        "dir": "print(ESC, dir())",
        "__builtins__": "print(ESC, __builtins__)",
        "getattr builtins": "print(ESC, getattr(__builtins__, 'open'))",
        "breakpoint": "breakpoint()\nprint(ESC)",
        "input": "input()\nprint(ESC)",
        "help": "help(print)\nprint(ESC)",
        "memoryview": "print(ESC, memoryview(b'x').obj)",
        "type() new class with __del__": "T = type('T', (), {'__del__': lambda s: print(ESC)})"
        "\nt = T()\ndel t\nprint('x')",
    },
)

INTROSPECTION = _attacks(
    "introspection",
    {
        "__class__.__mro__": "print(ESC, ().__class__.__mro__)",
        "__subclasses__": "print(ESC, object.__subclasses__())",
        "mro subclasses": "print(ESC, ().__class__.__mro__[-1].__subclasses__())",
        "type subclasses": "print(ESC, type.__subclasses__(type))",
        "__bases__": "print(ESC, int.__bases__[0].__subclasses__())",
        "__globals__": "def f():\n    pass\nprint(ESC, f.__globals__)",
        "__code__": "def f():\n    pass\nprint(ESC, f.__code__.co_consts)",
        "__closure__": "def f():\n    x = 1\n    return lambda: x\nprint(ESC, f().__closure__)",
        "__dict__ of a function": "def f():\n    pass\nprint(ESC, f.__dict__)",
        "frames": "import sys\nprint(ESC, sys._getframe().f_back.f_globals)",
        "generator frame": "g = (x for x in [1])\nprint(ESC, g.gi_frame.f_back)",
        "generator code": "g = (x for x in [1])\nprint(ESC, g.gi_code)",
        "coroutine frame": "async def c():\n    pass\nco = c()\nprint(ESC, co.cr_frame)",
        "traceback frame": "try:\n    1 / 0\nexcept Exception as e:\n"
        "    print(ESC, e.__traceback__.tb_frame.f_globals)",
        "exception __context__ chain": "try:\n    context.read('/etc/passwd')\n"
        "except Exception as e:\n    print(ESC, e.__traceback__.tb_frame)",
        "format string attribute walk": "print(ESC, '{0.__class__.__mro__}'.format(()))",
        "str.format globals": "def f():\n    pass\nprint(ESC, '{0.__globals__}'.format(f))",
        "host function __globals__": "print(ESC, llm_query.__globals__)",
        "host function __self__": "print(ESC, llm_query.__self__)",
        "host function __closure__": "print(ESC, llm_query.__closure__)",
        "host function __wrapped__": "print(ESC, llm_query.__wrapped__)",
        "context private attribute": "print(ESC, context._corpus)",
        "context __dict__": "print(ESC, context.__dict__)",
        "context __class__ init": "print(ESC, context.__class__.__init__.__globals__)",
        "context method __self__": "print(ESC, context.read.__self__._corpus)",
        "context method __func__": "print(ESC, context.read.__func__.__globals__)",
        "context undeclared method": "context.add_text('x.txt', 'y')\nprint(ESC)",
        "context close": "context.close()\nprint(ESC)",
        "context corpus": "print(ESC, context.corpus)",
        "record class": "print(ESC, context.files[0].__class__.__init__.__globals__)",
        "chunk handle": "print(ESC, context.chunks()[0].handle)",
        # Sandbox-local at most: the test checks that the host's handle is unchanged.
        "setattr on context": "context.max_read_bytes = 10 ** 12\ncontext._corpus = None",
    },
)

PATHS = _attacks(
    "context paths",
    {
        "absolute path": "print(ESC, context.read('/etc/passwd'))",
        "dot-dot": "print(ESC, context.read('../../../../etc/passwd'))",
        "dot-dot inside a source": "print(ESC, context.read('text/../../../etc/passwd'))",
        "home": "print(ESC, context.read('~/.bashrc'))",
        "URI": "print(ESC, context.read('file:///etc/passwd'))",
        "gs URI": "print(ESC, context.read('gs://other-bucket/secret.txt'))",
        "grep outside": "print(ESC, context.grep('root', paths=['/etc/passwd']))",
        "lines outside": "print(ESC, context.lines('../etc/passwd'))",
        "view outside": "print(ESC, context.view(paths=['/etc/passwd']).files)",
        "chunks outside": "print(ESC, context.chunks(paths=['/etc/shadow']))",
        "spawn over a path outside": "print(ESC, await spawn_subagent('x', "
        "context=['/etc/passwd']))",
    },
)

ESCAPES = [*IMPORTS, *BUILTINS, *INTROSPECTION, *PATHS]


def render(code: str, **values: str) -> str:
    """`code` with its placeholders filled (plain replacement: cells hold literal braces)."""
    for key, value in values.items():
        code = code.replace("{" + key + "}", value)
    return "ESC = 'ESC' + 'APED'\n" + code
