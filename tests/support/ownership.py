"""Which MongoDB collections each service's code writes, read from the source (AST).

The declaration is ``parley_store.collections.OWNERS`` (collection → owning service).
This checker finds every write a service *can* make, not only those a test happens to
run: it walks the service's own modules, and every class or function of the shared
libraries that the service's code names (transitively), for write calls on collection
handles, and resolves each handle to a collection name.

A handle is ``<db>[<name>]``, ``<db>.get_collection(<name>)`` or a GridFS bucket
(``AsyncGridFSBucket(<db>, bucket_name=<name>)``: ``<name>.files`` and
``<name>.chunks``), bound to ``self.<attr>`` or a local name, or passed as an argument
to a function of the same module that writes through that parameter. A name is a
string constant, a module constant (followed through imports) or an f-string of
those; a name built from a constructor parameter is resolved where the class is
constructed (``GridFsFileStore(db, UPLOADS)``).

It cannot silently pass: a Mongo-only write method (``insert_one``, ``bulk_write``,
``find_one_and_update``, ...) called on something it cannot resolve is reported as an
*unresolved* write, which the ownership test fails on like a foreign write. Index
management (``create_index(es)``, ``drop_index``) is schema, not data, and is not a
write here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Data writes of pymongo collections and GridFS buckets.
MONGO_ONLY_WRITES = frozenset(
    {
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "bulk_write",
        "upload_from_stream",
        "upload_from_stream_with_id",
        "open_upload_stream",
        "open_upload_stream_with_id",
        "delete_by_name",
        "rename_by_name",
    }
)
GENERIC_WRITES = frozenset({"delete", "rename", "drop"})  # only on a resolved handle
WRITES = MONGO_ONLY_WRITES | GENERIC_WRITES
DB_NAMES = frozenset({"db", "database", "_db", "_database"})
GRIDFS_BUCKETS = frozenset({"AsyncGridFSBucket", "GridFSBucket"})


@dataclass(frozen=True)
class Param:
    """A collection name that is (built from) a constructor parameter."""

    name: str
    template: str  # "{}" replaced by the parameter's value


Name = str | Param


@dataclass(frozen=True)
class Write:
    collection: str  # resolved name, or "?" when unresolved
    where: str  # path:line
    method: str
    detail: str = ""


@dataclass
class Unit:
    """A top-level class or function of one module."""

    module: str
    name: str
    node: ast.AST
    writes: list[tuple[Name, str, str]] = field(default_factory=list)  # (name, where, method)
    unresolved: list[Write] = field(default_factory=list)
    params: list[str] = field(default_factory=list)  # __init__'s, for a class
    defaults: dict[str, ast.expr] = field(default_factory=dict)


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local → (module, name)
    units: dict[str, Unit] = field(default_factory=dict)


def module_name(path: Path) -> str:
    """``.../src/parley_x/a/b.py`` → ``parley_x.a.b``."""
    parts = path.parts
    src = len(parts) - 1 - parts[::-1].index("src")
    dotted = list(parts[src + 1 :])
    dotted[-1] = dotted[-1].removesuffix(".py")
    if dotted[-1] == "__init__":
        dotted.pop()
    return ".".join(dotted)


class Codebase:
    def __init__(self, roots: Iterable[Path]) -> None:
        self.modules: dict[str, Module] = {}
        for root in roots:
            for path in sorted(root.rglob("*.py")):
                self._load(path)
        # (module, function) → parameter → write methods called on it
        self.param_writes: dict[tuple[str, str], dict[str, list[str]]] = {}
        for module in self.modules.values():
            self._index(module)
        for module in self.modules.values():
            for unit in module.units.values():
                _Scanner(self, module, unit).run()

    @classmethod
    def of_repo(cls, root: Path = ROOT) -> Codebase:
        return cls(
            sorted((root / "libs").glob("*/src")) + sorted((root / "services").glob("*/src"))
        )

    def add_source(self, module: str, source: str) -> None:
        """A module from text (the checker's own tests plant violations with it)."""
        path = Path(module.replace(".", "/") + ".py")
        self.modules[module] = Module(module, path, ast.parse(source))
        self._index(self.modules[module])
        for unit in self.modules[module].units.values():
            _Scanner(self, self.modules[module], unit).run()

    def functions(self, module: Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
        return {
            f.name: f
            for f in ast.walk(module.tree)
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    def _load(self, path: Path) -> None:
        name = module_name(path)
        self.modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))

    def _index(self, module: Module) -> None:
        package = (
            module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
        )
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    module.constants[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.value is not None:
                    module.constants[node.target.id] = node.value
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")
                    up = up[: len(up) - (node.level - 1)] if node.level > 1 else up
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (base, alias.name)
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                unit = Unit(module.name, node.name, node)
                if isinstance(node, ast.ClassDef):
                    init = next(
                        (
                            n
                            for n in node.body
                            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                            and n.name == "__init__"
                        ),
                        None,
                    )
                    if init is not None:
                        args = init.args
                        positional = [a.arg for a in [*args.posonlyargs, *args.args]][1:]
                        unit.params = positional + [a.arg for a in args.kwonlyargs]
                        for arg, default in zip(
                            positional[len(positional) - len(args.defaults) :],
                            args.defaults,
                            strict=True,
                        ):
                            unit.defaults[arg] = default
                        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                            if kw_default is not None:
                                unit.defaults[arg.arg] = kw_default
                module.units[node.name] = unit
        for fn in self.functions(module).values():
            args = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
            for call in ast.walk(fn):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in MONGO_ONLY_WRITES
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id in args
                ):
                    writes = self.param_writes.setdefault((module.name, fn.name), {})
                    writes.setdefault(call.func.value.id, []).append(call.func.attr)
        # A parameter handed on to a function of the module that writes through it.
        changed = True
        while changed:
            changed = False
            for fn in self.functions(module).values():
                args = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
                for call in ast.walk(fn):
                    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
                        continue
                    inner = self.param_writes.get((module.name, call.func.id))
                    target = self.functions(module).get(call.func.id)
                    if not inner or target is None:
                        continue
                    names = [a.arg for a in [*target.args.posonlyargs, *target.args.args]]
                    for param, arg in zip(names, call.args, strict=False):
                        if isinstance(arg, ast.Name) and arg.id in args and param in inner:
                            writes = self.param_writes.setdefault((module.name, fn.name), {})
                            if arg.id not in writes:
                                writes[arg.id] = list(inner[param])
                                changed = True

    # --- resolution ---------------------------------------------------------------

    def lookup(self, module: str, name: str, depth: int = 0) -> tuple[Module, str] | None:
        """Where ``name`` as seen in ``module`` is defined (following imports)."""
        mod = self.modules.get(module)
        if mod is None or depth > 20:
            return None
        if name in mod.units or name in mod.constants:
            return mod, name
        if name in mod.imports:
            source, original = mod.imports[name]
            if f"{source}.{original}" in self.modules:  # a submodule, not a name
                return None
            return self.lookup(source, original, depth + 1)
        return None

    def constant(
        self, module: str, expr: ast.expr, params: frozenset[str] = frozenset()
    ) -> Name | None:
        """A collection-name expression as a string, a Param template, or None."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name):
            if expr.id in params:
                return Param(expr.id, "{}")
            found = self.lookup(module, expr.id)
            if found is not None and found[1] in found[0].constants:
                return self.constant(found[0].name, found[0].constants[found[1]])
            return None
        if isinstance(expr, ast.JoinedStr):
            text, param = "", None
            for part in expr.values:
                if isinstance(part, ast.Constant):
                    text += str(part.value)
                elif isinstance(part, ast.FormattedValue):
                    value = self.constant(module, part.value, params)
                    if isinstance(value, str):
                        text += value
                    elif isinstance(value, Param) and param is None:
                        param = value.name
                        text += value.template
                    else:
                        return None
            return Param(param, text) if param else text
        return None


def _where(module: Module, node: ast.AST) -> str:
    return f"{module.path}:{getattr(node, 'lineno', 0)}"


class _Scanner:
    """Finds a unit's handles and its writes through them."""

    def __init__(self, code: Codebase, module: Module, unit: Unit) -> None:
        self.code = code
        self.module = module
        self.unit = unit
        self.attrs: dict[str, list[Name]] = {}  # self.<attr> → collection names
        self.instances: dict[str, Unit] = {}  # self.<attr> → the class it was built from

    def run(self) -> None:
        params = frozenset(self.unit.params)
        # Pass 1: what self.<attr> holds (assigned anywhere in the class or its bases).
        for node in [*self._bases(self.unit.node), self.unit.node]:
            self._attributes(node, params)
        # Pass 2: the writes.
        for fn in self._functions(self.unit.node):
            self._scan_function(fn, params)

    def _bases(self, node: ast.AST, depth: int = 0) -> list[ast.AST]:
        """The classes ``node`` derives from (found in the codebase), farthest first."""
        if not isinstance(node, ast.ClassDef) or depth > 10:
            return []
        found: list[ast.AST] = []
        for base in node.bases:
            if isinstance(base, ast.Name):
                where = self.code.lookup(self.module.name, base.id)
                if where is not None and where[1] in where[0].units:
                    parent = where[0].units[where[1]].node
                    found.extend([*self._bases(parent, depth + 1), parent])
        return found

    def attributes_only(self) -> _Scanner:
        for node in [*self._bases(self.unit.node), self.unit.node]:
            self._attributes(node, frozenset(self.unit.params))
        return self

    def _property_handle(self, unit: Unit, prop: str) -> list[Name]:
        """What ``<instance of unit>.<prop>`` is a handle on: a property answering one
        of its own handles (``return self._col``)."""
        for node in ast.walk(unit.node):
            if isinstance(node, ast.FunctionDef) and node.name == prop:
                other = _Scanner(self.code, self.code.modules[unit.module], unit).attributes_only()
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and ret.value is not None:
                        return other.handle(ret.value, frozenset())
        return []

    def _attributes(self, cls: ast.AST, params: frozenset[str]) -> None:
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    names = self.handle(node.value, params)
                    if names:
                        self.attrs.setdefault(target.attr, []).extend(names)
                    elif isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
                        found = self.code.lookup(self.module.name, node.value.func.id)
                        if found is not None and found[1] in found[0].units:
                            self.instances[target.attr] = found[0].units[found[1]]

    @staticmethod
    def _functions(node: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
        for child in ast.walk(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield child

    def handle(self, expr: ast.expr, params: frozenset[str]) -> list[Name]:
        """The collection(s) ``expr`` is a handle on, [] if it is not one."""
        if isinstance(expr, ast.Subscript) and _is_db(expr.value):
            name = self.code.constant(self.module.name, expr.slice, params)
            return [name] if name is not None else ["?"]
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "get_collection"
            and expr.args
        ):
            name = self.code.constant(self.module.name, expr.args[0], params)
            return [name] if name is not None else ["?"]
        if isinstance(expr, ast.Call) and _called(expr) in GRIDFS_BUCKETS:
            bucket_expr = next((k.value for k in expr.keywords if k.arg == "bucket_name"), None)
            bucket = (
                "fs"
                if bucket_expr is None
                else self.code.constant(self.module.name, bucket_expr, params)
            )
            if isinstance(bucket, str):
                return [f"{bucket}.files", f"{bucket}.chunks"]
            if isinstance(bucket, Param):
                return [
                    Param(bucket.name, bucket.template + ".files"),
                    Param(bucket.name, bucket.template + ".chunks"),
                ]
            return ["?"]
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id == "self"
        ):
            return list(self.attrs.get(expr.attr, []))
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Attribute)
            and isinstance(expr.value.value, ast.Name)
            and expr.value.value.id == "self"
            and expr.value.attr in self.instances
        ):
            return self._property_handle(self.instances[expr.value.attr], expr.attr)
        return []

    def _scan_function(
        self, fn: ast.FunctionDef | ast.AsyncFunctionDef, params: frozenset[str]
    ) -> None:
        init_params = params if fn.name == "__init__" else frozenset()
        local: dict[str, list[Name]] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    names = self.handle(node.value, init_params)
                    if names:
                        local[target.id] = names
        arg_names = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            # A function of this module (or a method of this class) writing through a
            # parameter: the argument passed here is what it writes.
            callee: tuple[str, str] | None = None
            if isinstance(func, ast.Name):
                found = self.code.lookup(self.module.name, func.id)
                callee = (found[0].name, found[1]) if found else None
            elif (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in ("self", "cls")
            ):
                callee = (self.module.name, func.attr)
            if callee is not None and callee in self.code.param_writes:
                self._bind_call(callee, node, local, arg_names)
            if not isinstance(func, ast.Attribute) or func.attr not in WRITES:
                continue
            receiver = func.value
            names: list[Name]
            if isinstance(receiver, ast.Name):
                names = local.get(receiver.id, [])
                if not names and receiver.id in arg_names:
                    continue  # a parameter: resolved at the call sites (_bind_call)
            else:
                names = self.handle(receiver, init_params)
            if not names:
                if func.attr in MONGO_ONLY_WRITES:
                    self.unit.unresolved.append(
                        Write("?", _where(self.module, node), func.attr, ast.unparse(receiver))
                    )
                continue
            for name in names:
                self._record(name, node, func.attr)

    def _bind_call(
        self,
        callee: tuple[str, str],
        call: ast.Call,
        local: dict[str, list[Name]],
        own_params: set[str],
    ) -> None:
        fn = self.code.functions(self.code.modules[callee[0]]).get(callee[1])
        if fn is None:
            return
        writes = self.code.param_writes[callee]
        positional = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
        if positional and positional[0] in ("self", "cls"):
            positional = positional[1:]
        bound: dict[str, ast.expr] = dict(zip(positional, call.args, strict=False))
        bound.update({k.arg: k.value for k in call.keywords if k.arg})
        for param, arg in bound.items():
            methods = writes.get(param)
            if not methods:
                continue
            if isinstance(arg, ast.Name) and arg.id in own_params and arg.id not in local:
                continue  # handed on: bound where the enclosing function is called
            names = (
                local.get(arg.id, [])
                if isinstance(arg, ast.Name)
                else self.handle(arg, frozenset())
            )
            if not names:
                self.unit.unresolved.append(
                    Write("?", _where(self.module, call), methods[0], ast.unparse(arg))
                )
            for name in names:
                self._record(name, call, methods[0])

    def _record(self, name: Name, node: ast.AST, method: str) -> None:
        if name == "?":
            self.unit.unresolved.append(Write("?", _where(self.module, node), method))
        else:
            self.unit.writes.append((name, _where(self.module, node), method))


def _is_db(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Name):
        return expr.id in DB_NAMES
    if isinstance(expr, ast.Attribute):
        return expr.attr in DB_NAMES
    return False


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


# --- attribution to services ---------------------------------------------------------


def service_writes(code: Codebase, package: str) -> list[Write]:
    """Every write the service ``package`` (e.g. ``parley_gateway``) can make: in its
    own modules, and in the library units its code names, transitively; a
    parameterised unit's collection is bound where the service constructs it."""
    found: list[Write] = []
    seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    queue: list[tuple[Unit, dict[str, Name | None]]] = [
        (unit, {})
        for module in code.modules.values()
        if module.name == package or module.name.startswith(package + ".")
        for unit in module.units.values()
    ]
    while queue:
        unit, binding = queue.pop()
        key = (unit.module, unit.name, tuple(sorted((k, str(v)) for k, v in binding.items())))
        if key in seen:
            continue
        seen.add(key)
        found.extend(unit.unresolved)
        for name, where, method in unit.writes:
            found.append(Write(_bind(name, binding), where, method))
        queue.extend(_referenced(code, unit, package))
    return found


def _bind(name: Name, binding: dict[str, Name | None]) -> str:
    if isinstance(name, str):
        return name
    value = binding.get(name.name)
    return name.template.replace("{}", value) if isinstance(value, str) else "?"


def _referenced(
    code: Codebase, unit: Unit, package: str
) -> Iterator[tuple[Unit, dict[str, Name | None]]]:
    """Library units ``unit`` names (other than in annotations), with the constructor
    arguments of each call (for parameterised classes)."""
    module = code.modules[unit.module]
    annotations = {
        id(n) for node in ast.walk(unit.node) for ann in _annotations(node) for n in ast.walk(ann)
    }
    constructed = {id(n.func) for n in ast.walk(unit.node) if isinstance(n, ast.Call)}
    for node in ast.walk(unit.node):
        if id(node) in annotations or not isinstance(node, ast.Name):
            continue
        found = code.lookup(module.name, node.id)
        if found is None or found[1] not in found[0].units:
            continue
        target = found[0].units[found[1]]
        owner = target.module.split(".")[0]
        if owner != package and owner.startswith("parley_") and _is_service(code, owner):
            continue  # another service: never imported (and not this one's writes)
        if target is unit or (target.params and id(node) in constructed):
            continue  # a constructed class: bound with its arguments below
        yield target, {}
    for call in ast.walk(unit.node):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            continue
        found = code.lookup(module.name, call.func.id)
        if found is None or found[1] not in found[0].units:
            continue
        target = found[0].units[found[1]]
        if not target.params:
            continue
        binding: dict[str, Name | None] = {
            p: code.constant(module.name, a) for p, a in zip(target.params, call.args, strict=False)
        }
        binding.update({k.arg: code.constant(module.name, k.value) for k in call.keywords if k.arg})
        for param, default in target.defaults.items():
            binding.setdefault(param, code.constant(target.module, default))
        yield target, binding


def _annotations(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.arg) and node.annotation is not None:
        yield node.annotation
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
        yield node.returns
    if isinstance(node, ast.AnnAssign):
        yield node.annotation


def _is_service(code: Codebase, package: str) -> bool:
    module = code.modules.get(package)
    return module is not None and "/services/" in str(module.path)


def services_of(code: Codebase) -> dict[str, str]:
    """``parley_gateway`` → ``gateway``, for every service package in the codebase."""
    return {
        name: name.removeprefix("parley_")
        for name, module in code.modules.items()
        if "." not in name and "/services/" in str(module.path)
    }
