"""The package's shape: no import cycle between its modules (imports inside functions count too), and
no function longer than 60 lines, so that a module can be read, and replaced, on its own."""

import ast
import re
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "hf_transfer"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(name: str, path: Path, mods: dict) -> set[str]:
    """The package modules `name` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            target = f"{base}.{node.module}" if node.module else base
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= {a.name for a in node.names} if isinstance(node, ast.Import) else {node.module}
    return {m for m in found if m in mods and m != name}


def test_no_import_cycle():
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    # a package imports its own submodules; a submodule importing its package's __init__ is the cycle to find
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            assert state.get(n) != "open", "import cycle: " + " -> ".join(stack[stack.index(n):] + [n])
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert {"hf_transfer.config", "hf_transfer.runs.machine"} <= graph["hf_transfer.runs.loop_run"]  # the walk sees imports


def test_no_function_longer_than_60_lines():
    long = [f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60]
    assert not long, long


def _calls(paths):
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def _says_false(call: ast.Call) -> bool:
    return any(k.arg == "trust_remote_code" and isinstance(k.value, ast.Constant) and k.value.value is False
               for k in call.keywords)


def test_every_load_refuses_a_folders_code():
    """A saved hf_transfer-form text model ships modeling_hf_transfer.py, and any Hub repository may ship code:
    every transformers load of the library says trust_remote_code=False, so transformers neither runs that code
    nor asks the user whether to (its [y/N] prompt). Running it is the user's own call, shown with a pinned
    revision in the card and docstrings; no call passes anything but the constant False (nor hides it in **{...})."""
    package = [*PACKAGE.rglob("*.py"), *(ROOT / "recipes").rglob("*.py")]
    loads = [(where, c) for where, c in _calls(package)
             if isinstance(c.func, ast.Attribute) and c.func.attr in ("from_pretrained", "from_config")]
    assert len(loads) >= 6, loads  # the walk sees the adapter's loads
    unsafe = [where for where, c in loads if not _says_false(c)]
    assert not unsafe, f"loads without trust_remote_code=False: {unsafe}"
    passed = [where for where, c in _calls(package)
              if any(k.arg == "trust_remote_code" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                     or k.arg is None and "trust_remote_code" in ast.unparse(k.value) for k in c.keywords)]
    assert not passed, passed


def test_readme_is_a_guide_not_a_lab_notebook():
    """At most 300 lines, and none of a lab notebook's marks: dates, issue numbers, commit hashes (those, with
    reruns and their analysis, belong in benchmarks/RESULTS.md)."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    marks = re.findall(r"\b\d{4}-\d{2}-\d{2}\b|\b[Ii]ssues? \d+|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", text)
    assert not marks, marks


def test_no_two_modules_share_a_name():
    """A module's name says what it is: two files of one name (a strategy's options and the code that runs
    it, say) read as one thing to a newcomer."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    shared = {n: p for n, p in names.items() if len(p) > 1}
    assert not shared, shared


def test_tests_mirror_the_package():
    """A test folder for each subpackage it tests (tests/models/ for hf_transfer/models/...), and no test file name
    twice (pytest imports them by name)."""
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert folders and folders <= packages, folders - packages
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names))


LAYERS = [  # from the ground up: a module imports only from its own group or from groups below it
    ("errors", "fields", "offline", "metrics", "calibration", "transferability", "intervals", "pixels"),  # no package imports
    ("packaged", "run_folder", "exported", "tasks"),  # offline assets; the run folder's layout, files and lock; an
    #                                                 ONNX export run; what a model predicts (one file per task)
    ("models", "data"),  # backbones by library; data sources and loaders
    ("strategies",),  # the methods, one file each
    ("config",),  # the schema (strategies register their options)
    ("reports",),  # what a run's files say: reports, sections, the model card
    ("hub",),  # pushing a finished run
    ("runs",),  # running a config: the pipeline, its kinds, their shared lifecycle
    ("autoconfig", "predictor", "launch"),  # a config from the data; a saved model loaded; arguments to runs
    ("evaluation", "ranking", "onnx_export"),  # a saved model scored on other data; backbones ranked; exported to ONNX
    ("",),  # the package's face (hf_transfer/__init__.py)
    ("cli",),  # the commands
]


def _group(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_no_import_runs_up_a_layer():
    """The package's floors: a new import from a lower layer to a higher one (a report reading the runs, the data
    reading the config, a strategy reading the optimizer) fails here; imports inside functions count too."""
    rank = {group: i for i, groups in enumerate(LAYERS) for group in groups}
    mods = _modules()
    unplaced = sorted({_group(m) for m in mods} - set(rank))
    assert not unplaced, f"give these a layer in LAYERS: {unplaced}"
    upward = [f"{m} -> {n}" for m, p in mods.items() for n in _imports(m, p, mods)
              if _group(n) != _group(m) and rank[_group(n)] >= rank[_group(m)]]
    assert not upward, upward


def test_no_strategy_name_outside_strategies():
    """Strategies are listed in one place (the registry): outside strategies/ and recipes/ no code names one as a
    string; what differs between them is an attribute or a hook of the strategy (`baseline`, `inputs`,
    `card_summary`, `report_section`). Two names are also other things and are left out of the check."""
    from hf_transfer.strategies import REGISTRY

    also = {"head": "a model's part and a pooling mode", "augment": "the data.augment section"}
    names = set(REGISTRY) - set(also)
    found = [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
             for path in PACKAGE.rglob("*.py") if "strategies" not in path.relative_to(PACKAGE).parts
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]
    assert not found, found


def test_no_task_name_outside_tasks():
    """What differs between tasks lives in each task's file (tasks/): outside it no code names a task as a string,
    so no `if task == ...` branch can grow elsewhere; a new task is one file and a registration."""
    from hf_transfer.tasks import TASKS

    found = [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
             for path in PACKAGE.rglob("*.py") if "tasks" not in path.relative_to(PACKAGE).parts
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TASKS]
    assert not found, found
