"""Translate neuron step functions into CUDA/C++ ``__device__`` functions.

Each model's dynamics are written once, as a Python step function
(``step(S, i, c, i_ext) -> spiked``, see :mod:`neurosim.neurons.base`).  The
GPU backend needs the same arithmetic in CUDA; instead of a hand-written twin
this module translates the function's syntax tree, so the two cannot drift
apart.  The generated header ``kernels/neuron_models.cuh`` is checked in
(CI compiles the kernels without Python) and a test asserts that it equals a
fresh generation.  Regenerate it with::

    python -m neurosim.engine.cuda_codegen > kernels/neuron_models.cuh

Supported subset (everything else raises :class:`UnsupportedConstruct`
naming the construct and the line):

* ``name = expr`` (a local ``double``), ``S[r, i] = expr`` (``r`` an integer
  literal, ``i`` the index parameter), ``return expr``, a docstring;
* ``S[r, i]`` and ``c[k]`` reads (``k`` an integer literal), the ``i_ext``
  parameter, local names, int and float literals;
* ``+ - * /``, unary ``-`` and ``+``, one comparison (``< <= > >= == !=``),
  which becomes ``(double)(a op b)`` -- exactly the 0.0/1.0 that NumPy and
  Numba produce when a boolean is multiplied by a float;
* ``exp(x)`` and ``where(cond, a, b)`` (``(cond != 0) ? a : b``) of
  :mod:`neurosim.neurons.mathfn`.

Every sub-expression is parenthesised, so C evaluates the operations in
Python's order; with floating-point contraction off (``--fmad=false`` for
NVRTC/nvcc, ``-ffp-contract=off`` for g++) each operation is the same IEEE
double operation as in NumPy.

Scalar functions (:func:`translate_scalar`), such as the surrogate gradients
of :mod:`neurosim.train.surrogate`, use the same subset without ``S`` and
``c``: every parameter is a parameter of a ``template <typename T>`` device
function, locals are ``T``, literals ``T(value)``, comparisons ``(T)(a op b)``,
and ``abs`` becomes ``fabs`` (overloaded for float and double).  Their header
``kernels/surrogates.cuh`` is generated and checked the same way::

    python -m neurosim.engine.cuda_codegen surrogates > kernels/surrogates.cuh
"""
from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from typing import Callable, Sequence

from ..neurons import mathfn

#: the signature every generated function has (S is [rows, n] row-major)
SIGNATURE = "double {name}(double* S, long long n, long long i, const double* c, double i_ext)"

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
#: the functions of :mod:`neurosim.neurons.mathfn` a step may call: name -> (arguments, C expression)
_MATHFN = {"exp": (1, "exp({})"), "where": (3, "((({}) != 0) ? ({}) : ({}))")}


class UnsupportedConstruct(ValueError):
    """A step function uses something the CUDA translator does not handle."""


def _literal(value: object, where: str) -> str:
    """A C double literal that parses to exactly ``value``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnsupportedConstruct(f"{where}: only int and float literals are supported, got {value!r}")
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        raise UnsupportedConstruct(f"{where}: non-finite literal {value!r}")
    return text


class _Translator:
    """A step function ``(S, i, c, i_ext)`` in double precision (the neuron models)."""

    #: C type of locals and of a comparison's 0/1 value
    ctype = "double"
    #: Python builtins the function may call besides :data:`_MATHFN`: name -> C function
    calls: dict[str, str] = {}

    def __init__(self, func: Callable) -> None:
        self.func = func
        self.name = func.__name__
        source = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(source)
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
            raise UnsupportedConstruct(f"{self.name}: expected a single plain function definition")
        self.fdef: ast.FunctionDef = tree.body[0]
        self.line0 = func.__code__.co_firstlineno - 1
        if self.fdef.decorator_list:
            raise UnsupportedConstruct(f"{self.name}: decorators are not supported")
        args = self.fdef.args
        if args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg:
            raise UnsupportedConstruct(f"{self.name}: only plain positional parameters are supported")
        self.locals: set[str] = set()
        self.bind(args)

    def bind(self, args: ast.arguments) -> None:
        """Name the parameters: ``(S, i, c, i_ext)`` for a step function."""
        if args.defaults or len(args.args) != 4:
            raise UnsupportedConstruct(f"{self.name}: a step function takes exactly (S, i, c, i_ext)")
        self.S, self.i, self.c, self.i_ext = (a.arg for a in args.args)
        self.params = {self.i_ext}

    def literal(self, value: object, node: ast.AST) -> str:
        return _literal(value, self.where(node))

    def where(self, node: ast.AST) -> str:
        return f"{self.name} (line {self.line0 + getattr(node, 'lineno', 1)})"

    def fail(self, node: ast.AST, what: str) -> UnsupportedConstruct:
        return UnsupportedConstruct(f"{self.where(node)}: {what} is not supported by the CUDA translator")

    # ------------------------------------------------------------ expressions
    def state_index(self, node: ast.Subscript) -> str:
        idx = node.slice
        if not (isinstance(idx, ast.Tuple) and len(idx.elts) == 2):
            raise self.fail(node, f"indexing {self.S} other than {self.S}[row, {self.i}]")
        row, col = idx.elts
        if not (isinstance(row, ast.Constant) and type(row.value) is int and row.value >= 0):
            raise self.fail(node, "a state row that is not a non-negative integer literal")
        if not (isinstance(col, ast.Name) and col.id == self.i):
            raise self.fail(node, f"a state column other than the index parameter '{self.i}'")
        return f"{self.S}[{row.value}LL * n + {self.i}]"

    def expr(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            return self.literal(node.value, node)
        if isinstance(node, ast.Name):
            if node.id in self.locals or node.id in self.params:
                return node.id
            raise self.fail(node, f"the name '{node.id}' (not a local variable or "
                                  f"{' or '.join(repr(p) for p in sorted(self.params))})")
        if isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Name) and base.id == self.S:
                return self.state_index(node)
            if isinstance(base, ast.Name) and base.id == self.c:
                k = node.slice
                if isinstance(k, ast.Constant) and type(k.value) is int and k.value >= 0:
                    return f"{self.c}[{k.value}]"
                raise self.fail(node, "a coefficient index that is not a non-negative integer literal")
            raise self.fail(node, "subscripting anything but the state matrix and the coefficients")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.fail(node, f"the operator {type(node.op).__name__}")
            return f"({self.expr(node.left)} {op} {self.expr(node.right)})"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return f"(-{self.expr(node.operand)})"
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand)
            raise self.fail(node, f"the unary operator {type(node.op).__name__}")
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.fail(node, "a chained comparison")
            op = _CMPOPS.get(type(node.ops[0]))
            if op is None:
                raise self.fail(node, f"the comparison {type(node.ops[0]).__name__}")
            return f"(({self.ctype})({self.expr(node.left)} {op} {self.expr(node.comparators[0])}))"
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in self.calls and fn.id not in self.locals \
                    and self.func.__globals__.get(fn.id, getattr(builtins, fn.id, None)) is getattr(builtins, fn.id):
                if len(node.args) != 1 or node.keywords:
                    raise self.fail(node, f"{fn.id}() with other than one positional argument")
                return f"{self.calls[fn.id]}({self.expr(node.args[0])})"
            if not (isinstance(fn, ast.Name) and fn.id in _MATHFN
                    and self.func.__globals__.get(fn.id) is getattr(mathfn, fn.id)):
                raise self.fail(node, f"the call {ast.unparse(node.func)}() (only neurosim.neurons.mathfn's "
                                      f"{' and '.join(_MATHFN)})")
            n_args, template = _MATHFN[fn.id]
            if len(node.args) != n_args or node.keywords:
                raise self.fail(node, f"{fn.id}() with other than {n_args} positional argument(s)")
            return template.format(*(self.expr(a) for a in node.args))
        raise self.fail(node, f"the expression {type(node).__name__} ({ast.unparse(node)})")

    # ------------------------------------------------------------- statements
    def statements(self) -> list[str]:
        lines: list[str] = []
        body = list(self.fdef.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        if not body or not isinstance(body[-1], ast.Return):
            raise UnsupportedConstruct(f"{self.name}: the last statement must be a 'return'")
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                if len(stmt.targets) != 1:
                    raise self.fail(stmt, "chained assignment")
                target = stmt.targets[0]
                value = self.expr(stmt.value)
                if isinstance(target, ast.Name):
                    if target.id in (self.S, self.i, self.c) or target.id in self.params:
                        raise self.fail(stmt, f"assigning to the parameter '{target.id}'")
                    if target.id in self.locals:
                        lines.append(f"{target.id} = {value};")
                    else:
                        self.locals.add(target.id)
                        lines.append(f"{self.ctype} {target.id} = {value};")
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
                        and target.value.id == self.S:
                    lines.append(f"{self.state_index(target)} = {value};")
                else:
                    raise self.fail(stmt, f"assigning to {ast.unparse(target)}")
            elif isinstance(stmt, ast.Return):
                if stmt is not body[-1] or stmt.value is None:
                    raise self.fail(stmt, "a return other than the final one")
                lines.append(f"return {self.expr(stmt.value)};")
            else:
                raise self.fail(stmt, f"the statement {type(stmt).__name__}")
        return lines


class _ScalarTranslator(_Translator):
    """A scalar function ``f(x, a, one=1.0, ...)`` as a ``template <typename T>`` device function.

    Every parameter becomes a ``T`` parameter (defaults are the caller's
    business, see :func:`translate_scalar`), locals are ``T``, literals
    ``T(value)`` and a comparison ``T(a op b)``, so one source serves float
    and double and no operation is promoted to double in float.  ``abs`` is
    allowed besides the :mod:`~neurosim.neurons.mathfn` functions (as ``fabs``, overloaded for float and double).
    """

    ctype = "T"
    calls = {"abs": "fabs"}

    def bind(self, args: ast.arguments) -> None:
        self.S = self.i = self.c = self.i_ext = None
        self.names = [a.arg for a in args.args]
        self.params = set(self.names)

    def literal(self, value: object, node: ast.AST) -> str:
        return f"T({_literal(value, self.where(node))})"


def translate(func: Callable, name: str | None = None) -> str:
    """CUDA/C++ source of a ``__device__`` function equivalent to the step function ``func``.

    The result has the signature :data:`SIGNATURE` (``S`` row-major with
    ``n`` columns, so ``S[r, i]`` becomes ``S[r * n + i]``) and returns the
    step's ``spiked`` (1.0 or 0.0).  Raises :class:`UnsupportedConstruct`
    naming the construct when ``func`` leaves the supported subset (see the
    module docstring).
    """
    if not callable(func):
        raise TypeError(f"func must be a step function, got {func!r}")
    tr = _Translator(func)
    body = tr.statements()
    header = SIGNATURE.format(name=name or tr.name)
    header = header.replace("double* S", f"double* {tr.S}").replace("long long i,", f"long long {tr.i},")
    header = header.replace("const double* c", f"const double* {tr.c}").replace("double i_ext", f"double {tr.i_ext}")
    return "\n".join([f"__device__ inline {header}", "{"] + [f"    {ln}" for ln in body] + ["}"])


def translate_scalar(func: Callable, name: str | None = None) -> str:
    """CUDA/C++ source of ``template <typename T> __device__ T name(T p0, T p1, ...)`` for ``func``.

    ``func`` is a plain scalar function (such as the surrogate gradients of
    :mod:`neurosim.train.surrogate`): assignments to locals, ``+ - * /``,
    unary minus, one comparison per expression (0 or 1 in ``T``), ``abs``
    and the ``mathfn`` functions, a final ``return``.  Every parameter, defaults
    included, is a parameter of the C function; the caller passes the
    defaults in the working precision.  Raises :class:`UnsupportedConstruct`
    naming the construct otherwise.
    """
    if not callable(func):
        raise TypeError(f"func must be a scalar function, got {func!r}")
    tr = _ScalarTranslator(func)
    body = tr.statements()
    params = ", ".join(f"T {p}" for p in tr.names)
    return "\n".join(["template <typename T>", f"__device__ inline T {name or tr.name}({params})", "{"]
                     + [f"    {ln}" for ln in body] + ["}"])


def _dispatch(signature: str, cases: list[str], default: str) -> list[str]:
    """Lines of a device function ``signature`` that switches on ``kind`` over ``cases``."""
    return [*signature.split("\n"), "{", "    switch (kind) {", *cases, f"    default: return {default};", "    }", "}"]


def generate_surrogate_header() -> str:
    """The text of ``kernels/surrogates.cuh``: the surrogate gradients of
    :mod:`neurosim.train.surrogate`, translated, and ``surrogate_grad(kind, x, a)``.

    ``kind`` is the position in ``SURROGATES`` (:attr:`Surrogate.kind`); the
    dispatch passes each function's defaults beyond ``(x, a)`` (``one``,
    ``pi``) as ``T(default)``, i.e. rounded to the working precision as the
    Numba kernels do.
    """
    from ..train import surrogate
    parts = [
        "// Generated by neurosim/engine/cuda_codegen.py from neurosim/train/surrogate.py.",
        "// Do not edit: regenerate with",
        "//     python -m neurosim.engine.cuda_codegen surrogates > kernels/surrogates.cuh",
        "// (tests/test_cuda_training_emulation.py checks that this file equals a fresh generation).",
        "#pragma once",
        "",
    ]
    cases = []
    for kind, (label, func) in enumerate(zip(surrogate.SURROGATES, surrogate._GRADS)):
        params = list(inspect.signature(func).parameters.values())
        if len(params) < 2 or any(p.default is inspect.Parameter.empty for p in params[2:]):
            raise UnsupportedConstruct(f"{func.__name__}: a surrogate takes (x, a, ...) with defaults after a")
        extra = "".join(f", T({_literal(p.default, func.__name__)})" for p in params[2:])
        parts += [f"// surrogate {label!r}", translate_scalar(func), ""]
        cases.append(f"    case {kind}: return {func.__name__}<T>(x, a{extra});")
    parts += [
        "// sigma'(x) of surrogate `kind` (its position in SURROGATES) with slope a.",
        "template <typename T>",
        *_dispatch("__device__ inline T surrogate_grad(int kind, T x, T a)", cases, "T(0.0)"),
        "",
        f"#define NEUROSIM_N_SURROGATES {len(surrogate.SURROGATES)}",
        "",
    ]
    return "\n".join(parts)


def generate_header(models: Sequence[type] | None = None) -> str:
    """The text of ``kernels/neuron_models.cuh``: every model's step, and a dispatch on the model kind.

    ``models`` defaults to the compiled backends' registry
    (:data:`neurosim.engine.numba_backend.MODELS`); a model's kind is its
    position there, as in every backend.
    """
    if models is None:
        from .numba_backend import MODELS as models
    parts = [
        "// Generated by neurosim/engine/cuda_codegen.py from the models' Python step functions.",
        "// Do not edit: regenerate with  python -m neurosim.engine.cuda_codegen > kernels/neuron_models.cuh",
        "// (tests/test_cuda_emulation.py checks that this file equals a fresh generation).",
        "#pragma once",
        "",
    ]
    cases = []
    for kind, model in enumerate(models):
        step = model.step
        parts += [f"// {model.__name__}: rows {', '.join(model.state_vars)}", translate(step), ""]
        cases.append(f"    case {kind}: return {step.__name__}(S, n, i, c, i_ext);")
    parts += [
        "// Advance neuron i of a population of model `kind` (its position in MODELS); returns spiked.",
        *_dispatch("__device__ inline double neuron_step(int kind, double* S, long long n, long long i, const double* c,\n"
                   "                                     double i_ext)", cases, "0.0"),
        "",
        f"#define NEUROSIM_N_MODELS {len(models)}",
        "",
    ]
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover - command line
    import sys
    what = sys.argv[1] if len(sys.argv) > 1 else "neurons"
    if what not in ("neurons", "surrogates"):
        sys.exit(f"usage: python -m neurosim.engine.cuda_codegen [neurons|surrogates]  (got {what!r})")
    sys.stdout.write(generate_header() if what == "neurons" else generate_surrogate_header())
