"""Loading model scripts: Python files that define ``build(**params) -> Network``."""
from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from .network import Network


def load_script(path: str | Path, required: tuple[str, ...] = ("build",)) -> ModuleType:
    """Import a script from its file path (it need not be on ``sys.path``).

    ``required`` names what it must define: ``build`` for model scripts,
    ``PARAMS``, ``load_data`` and ``build_model`` for training scripts.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model script not found: {path}")
    name = f"neurosim_model_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    missing = [name for name in required if not hasattr(module, name)]
    if missing:
        what = ("build(**params) returning a neurosim Network" if required == ("build",)
                else "PARAMS, load_data(p) and build_model(p)")
        raise ValueError(f"{path} must define {what}; missing: {', '.join(missing)}")
    return module


def parse_overrides(pairs: list[str]) -> dict:
    """``["n=1000", "g=4.5"]`` -> ``{"n": 1000, "g": 4.5}`` (values parsed as Python literals)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"override '{pair}' must look like name=value")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def build_network(module: ModuleType, overrides: dict) -> Network:
    """Call the script's ``build`` with ``overrides``, checking their names."""
    params = inspect.signature(module.build).parameters
    unknown = [k for k in overrides if k not in params]
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {module.__name__}.build; "
                         f"it takes {', '.join(params)}")
    net = module.build(**overrides)
    if not isinstance(net, Network):
        raise TypeError(f"build() must return a neurosim Network, got {type(net).__name__}")
    return net
