"""Hardware target descriptions: per-chip limits, precision, energy and timing.

A *target* is a small TOML file (see ``docs/targets.md``) describing one
Loihi-style chip: how many cores it has and what fits on one core, the bit
widths of its fixed-point neuron model, and per-operation energy (pJ) and time
(ns) figures for first-order cost estimates. Every value in the built-in files
carries its published source in a TOML comment.

>>> from neurosim.hardware import load_target
>>> t = load_target("loihi1")
>>> t.cores.neurons_per_core, t.energy.synaptic_op_pj
(1024, 23.6)

Where the built-in files are found
----------------------------------
``load_target("loihi1")`` looks for ``loihi1.toml`` in, in this order:

1. every folder listed in the environment variable ``NEUROSIM_TARGETS_PATH``
   (``os.pathsep``-separated), so an installed neurosim can be pointed at a
   folder of target files;
2. the repository's ``hardware/`` folder, ``Path(__file__).parents[2] /
   "hardware"`` (a source checkout or an editable install).

Nothing is copied into the package. Any other file can be loaded by path:
``load_target("my_chip.toml")``.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

__all__ = [
    "TARGETS_PATH_ENV",
    "CoreLimits",
    "Energy",
    "Features",
    "HardwareTarget",
    "Precision",
    "Timing",
    "list_targets",
    "load_target",
    "target_from_dict",
    "target_search_path",
]

#: Environment variable with extra folders (``os.pathsep``-separated) that hold
#: ``<name>.toml`` target files; searched before the repository's ``hardware/``.
TARGETS_PATH_ENV = "NEUROSIM_TARGETS_PATH"

#: The only target-file format version this module reads.
FORMAT_VERSION = 1

_REPO_HARDWARE_DIR = Path(__file__).resolve().parents[2] / "hardware"


def _spec(kind: type, *, lo: float | None = None, hi: float | None = None,
          optional: bool = False, doc: str) -> Any:
    """Dataclass field carrying its TOML type, allowed range and meaning."""
    meta = {"kind": kind, "lo": lo, "hi": hi, "optional": optional, "doc": doc}
    if optional:
        return field(default=None, metadata=meta)
    return field(metadata=meta)


@dataclass(frozen=True)
class CoreLimits:
    """Per-chip and per-core capacity (TOML table ``[cores]``)."""

    cores_per_chip: int = _spec(int, lo=1, doc="neuromorphic cores per chip")
    neurons_per_core: int = _spec(int, lo=1, doc="neurons (compartments) per core")
    synaptic_memory_bytes_per_core: int = _spec(
        int, lo=1, doc="synaptic memory per core, in bytes")
    input_axons_per_core: int | None = _spec(
        int, lo=1, optional=True,
        doc="input axons (fan-in routing slots) per core; None if unpublished")
    output_axons_per_core: int | None = _spec(
        int, lo=1, optional=True,
        doc="output axons (core-to-core fan-out edges) per core; None if unpublished")
    total_memory_bytes_per_core: int | None = _spec(
        int, lo=1, optional=True,
        doc="memory shared by neuron state, synapses and routing, in bytes; "
            "None if the memories are separate")


@dataclass(frozen=True)
class Precision:
    """Fixed-point widths of weights and neuron state (TOML table ``[precision]``)."""

    weight_bits: int = _spec(int, lo=1, hi=32, doc="weight magnitude mantissa bits, sign excluded")
    weight_exp_min: int = _spec(int, lo=-32, hi=32, doc="smallest shared weight exponent")
    weight_exp_max: int = _spec(int, lo=-32, hi=32, doc="largest shared weight exponent")
    u_bits: int = _spec(int, lo=2, hi=64, doc="synaptic current u register, bits incl. sign")
    v_bits: int = _spec(int, lo=2, hi=64, doc="membrane voltage v register, bits incl. sign")
    threshold_mantissa_bits: int = _spec(int, lo=1, hi=63, doc="unsigned threshold mantissa bits")
    threshold_shift_bits: int = _spec(int, lo=0, hi=63, doc="left shift applied to the threshold mantissa, bits")
    bias_mantissa_bits: int = _spec(int, lo=2, hi=64, doc="signed bias mantissa bits incl. sign")
    bias_exp_bits: int = _spec(int, lo=0, hi=8, doc="unsigned bias exponent bits")
    decay_bits: int = _spec(int, lo=1, hi=32, doc="unsigned decay constant bits (du, dv)")
    decay_unity: int = _spec(int, lo=2, doc="decay value meaning 'full decay' (2**decay_bits)")


@dataclass(frozen=True)
class Features:
    """Delays and spike format (TOML table ``[features]``)."""

    max_delay_steps: int = _spec(int, lo=0, doc="largest synaptic delay, in time steps")
    graded_spikes: bool = _spec(bool, doc="spikes carry an integer payload")
    spike_payload_bits: int = _spec(
        int, lo=0, hi=32, doc="payload bits of a graded spike; 0 for binary spikes")


@dataclass(frozen=True)
class Energy:
    """Energy per operation in picojoules (TOML table ``[energy]``)."""

    estimated: bool = _spec(bool, doc="true if the figures are placeholders, not published values")
    synaptic_op_pj: float = _spec(float, lo=0.0, doc="one synaptic spike operation, pJ")
    synaptic_update_stdp_pj: float = _spec(float, lo=0.0, doc="one synaptic update with pairwise STDP, pJ")
    neuron_update_active_pj: float = _spec(float, lo=0.0, doc="one active neuron update, pJ")
    neuron_update_inactive_pj: float = _spec(float, lo=0.0, doc="one inactive neuron update, pJ")
    spike_within_tile_pj: float = _spec(float, lo=0.0, doc="one spike delivered within a tile, pJ")
    hop_east_west_pj: float = _spec(float, lo=0.0, doc="one spike, one east-west tile hop, pJ")
    hop_north_south_pj: float = _spec(float, lo=0.0, doc="one spike, one north-south tile hop, pJ")
    static_power_mw_per_chip: float = _spec(float, lo=0.0, doc="static power per chip, mW")


@dataclass(frozen=True)
class Timing:
    """Time per operation in nanoseconds (TOML table ``[timing]``)."""

    estimated: bool = _spec(bool, doc="true if the figures are placeholders, not published values")
    synaptic_op_ns: float = _spec(float, lo=0.0, doc="one synaptic spike operation, ns")
    synaptic_update_stdp_ns: float = _spec(float, lo=0.0, doc="one synaptic update with pairwise STDP, ns")
    neuron_update_active_ns: float = _spec(float, lo=0.0, doc="one active neuron update, ns")
    neuron_update_inactive_ns: float = _spec(float, lo=0.0, doc="one inactive neuron update, ns")
    spike_within_tile_ns: float = _spec(float, lo=0.0, doc="one spike delivered within a tile, ns")
    hop_east_west_ns: float = _spec(float, lo=0.0, doc="one spike, one east-west tile hop, ns")
    hop_north_south_ns: float = _spec(float, lo=0.0, doc="one spike, one north-south tile hop, ns")
    barrier_sync_min_ns: float = _spec(float, lo=0.0, doc="mesh-wide barrier, smallest mesh, ns")
    barrier_sync_max_ns: float = _spec(float, lo=0.0, doc="mesh-wide barrier, largest mesh, ns")


_SECTIONS: dict[str, type] = {
    "cores": CoreLimits,
    "precision": Precision,
    "features": Features,
    "energy": Energy,
    "timing": Timing,
}
_TOP_LEVEL = ("format_version", "name", "description")
_PROVENANCE_KEYS = ("unverified", "secondary")


def _field_names() -> list[str]:
    """Every dotted field name, e.g. ``"cores.neurons_per_core"``."""
    return [f"{s}.{f.name}" for s, cls in _SECTIONS.items() for f in fields(cls)]


@dataclass(frozen=True)
class HardwareTarget:
    """One hardware target, as read from a TOML file by :func:`load_target`.

    ``unverified`` and ``secondary`` list dotted field names (``"section.key"``)
    whose values are not confirmed by a primary source, or are known only from
    secondary reports; ``energy.estimated`` / ``timing.estimated`` flag whole
    tables of placeholders. ``source`` is the file it was read from.
    """

    name: str
    description: str
    cores: CoreLimits
    precision: Precision
    features: Features
    energy: Energy
    timing: Timing
    unverified: tuple[str, ...] = ()
    secondary: tuple[str, ...] = ()
    source: Path | None = field(default=None, compare=False)

    def is_unverified(self, key: str) -> bool:
        """True if the dotted field ``key`` is flagged unverified or its table is estimated."""
        section = key.split(".", 1)[0]
        if section in ("energy", "timing") and getattr(self, section).estimated:
            return True
        return key in self.unverified


# --------------------------------------------------------------------------- lookup


def target_search_path() -> list[Path]:
    """Folders searched for built-in target names, in order (see module docstring)."""
    dirs = [Path(p) for p in os.environ.get(TARGETS_PATH_ENV, "").split(os.pathsep) if p]
    dirs.append(_REPO_HARDWARE_DIR)
    return dirs


def list_targets() -> list[str]:
    """Names of the targets found on :func:`target_search_path`, sorted."""
    names = set()
    for d in target_search_path():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml") if p.is_file())
    return sorted(names)


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, os.PathLike) or text.endswith(".toml")
        or os.sep in text or (os.altsep is not None and os.altsep in text)
    )
    if looks_like_path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"hardware target file {path} does not exist; "
                             f"check the path, or pass a built-in name ({', '.join(list_targets())})")
        return path
    for d in target_search_path():
        candidate = d / f"{text}.toml"
        if candidate.is_file():
            return candidate
    known = list_targets()
    close = difflib.get_close_matches(text, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    searched = ", ".join(str(d) for d in target_search_path())
    raise ValueError(
        f"unknown hardware target {text!r}.{hint} Built-in targets: "
        f"{', '.join(known) or '(none found)'} (searched {searched}; add folders "
        f"with the {TARGETS_PATH_ENV} environment variable), or pass a path to a .toml file."
    )


def load_target(name_or_path: str | os.PathLike[str]) -> HardwareTarget:
    """Load a hardware target by built-in name (``"loihi1"``) or by path to a TOML file.

    Raises ``ValueError`` naming the file, the offending key and the fix when
    the file is missing, is not valid TOML, lacks required keys, has unknown
    keys, or has values of the wrong type or out of range.
    """
    path = _resolve(name_or_path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"hardware target {path} is not valid TOML: {exc}") from exc
    return target_from_dict(data, source=path)


# ----------------------------------------------------------------------- validation


def _suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"


def _type_name(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _check_value(dotted: str, value: Any, meta: Mapping[str, Any]) -> tuple[Any, str | None]:
    """Return (converted value, error message or None) for one field."""
    kind, lo, hi, doc = meta["kind"], meta["lo"], meta["hi"], meta["doc"]
    if kind is bool:
        if not isinstance(value, bool):
            return None, (f"{dotted}: expected true or false ({doc}), got {_type_name(value)}; "
                          f"write {dotted.split('.')[-1]} = true or = false, without quotes")
        return value, None
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            return None, f"{dotted}: expected a non-empty string ({doc}), got {_type_name(value)}"
        return value, None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, (f"{dotted}: expected an integer ({doc}), got {_type_name(value)}; "
                          f"write a whole number without quotes or decimal point")
    else:  # float: TOML integers are accepted as well
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, (f"{dotted}: expected a number ({doc}), got {_type_name(value)}; "
                          f"write a number without quotes")
        value = float(value)
        if not math.isfinite(value):
            return None, f"{dotted}: expected a finite number ({doc}), got {value!r}"
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            rng = f"between {lo} and {hi}"
        elif lo is not None:
            rng = {0: "non-negative (>= 0)", 1: "positive (>= 1)"}.get(lo, f">= {lo}")
        else:
            rng = f"<= {hi}"
        return None, f"{dotted} = {value!r} is impossible: it must be {rng} ({doc}); fix the value"
    return value, None


def _cross_checks(sec: dict[str, dict[str, Any]]) -> list[str]:
    """Consistency checks between fields that are individually valid."""
    errors = []
    p, f, t, c = sec.get("precision", {}), sec.get("features", {}), sec.get("timing", {}), sec.get("cores", {})

    def have(d: dict[str, Any], *keys: str) -> bool:
        return all(d.get(k) is not None for k in keys)

    if have(p, "weight_exp_min", "weight_exp_max") and p["weight_exp_min"] > p["weight_exp_max"]:
        errors.append(f"precision.weight_exp_min ({p['weight_exp_min']}) > precision.weight_exp_max "
                      f"({p['weight_exp_max']}): the exponent range is empty; swap or fix the two values")
    if have(p, "decay_bits", "decay_unity") and p["decay_unity"] != 2 ** p["decay_bits"]:
        errors.append(f"precision.decay_unity ({p['decay_unity']}) must equal 2**precision.decay_bits "
                      f"(= {2 ** p['decay_bits']}); fix one of the two")
    if (have(p, "threshold_mantissa_bits", "threshold_shift_bits", "v_bits")
            and p["threshold_mantissa_bits"] + p["threshold_shift_bits"] > p["v_bits"]):
        errors.append("precision.threshold_mantissa_bits + precision.threshold_shift_bits "
                      f"({p['threshold_mantissa_bits']} + {p['threshold_shift_bits']}) exceeds "
                      f"precision.v_bits ({p['v_bits']}): the threshold would not fit in v")
    if have(f, "graded_spikes", "spike_payload_bits"):
        if not f["graded_spikes"] and f["spike_payload_bits"] != 0:
            errors.append(f"features.spike_payload_bits = {f['spike_payload_bits']} but "
                          "features.graded_spikes = false: binary spikes carry no payload; set it to 0")
        if f["graded_spikes"] and f["spike_payload_bits"] == 0:
            errors.append("features.spike_payload_bits = 0 but features.graded_spikes = true: "
                          "give the payload width in bits (1-32)")
    if have(t, "barrier_sync_min_ns", "barrier_sync_max_ns") and t["barrier_sync_min_ns"] > t["barrier_sync_max_ns"]:
        errors.append(f"timing.barrier_sync_min_ns ({t['barrier_sync_min_ns']}) > timing.barrier_sync_max_ns "
                      f"({t['barrier_sync_max_ns']}); swap or fix the two values")
    if (have(c, "synaptic_memory_bytes_per_core", "total_memory_bytes_per_core")
            and c["synaptic_memory_bytes_per_core"] > c["total_memory_bytes_per_core"]):
        errors.append(f"cores.synaptic_memory_bytes_per_core ({c['synaptic_memory_bytes_per_core']}) exceeds "
                      f"cores.total_memory_bytes_per_core ({c['total_memory_bytes_per_core']})")
    return errors


def target_from_dict(data: Mapping[str, Any], source: str | os.PathLike[str] = "<dict>") -> HardwareTarget:
    """Validate a parsed target (the TOML document as nested dicts) and build it.

    All problems are collected and reported together in one ``ValueError``
    whose message starts with ``source`` and names every offending key.
    """
    src = os.fspath(source)
    if not isinstance(data, Mapping):
        raise ValueError(f"hardware target {src}: expected a TOML table at the top level, got {type(data).__name__}")
    errors: list[str] = []
    missing: list[str] = []
    all_fields = _field_names()

    top_allowed = [*_TOP_LEVEL, *_SECTIONS, "provenance"]
    for key in data:
        if key not in top_allowed:
            owner = [d for d in all_fields if d.split(".", 1)[1] == key]
            hint = (f"it belongs in the [{owner[0].split('.')[0]}] table" if owner
                    else _suggest(key, top_allowed))
            errors.append(f"unknown top-level key {key!r}: {hint}")

    top: dict[str, Any] = {}
    top_meta = {
        "format_version": {"kind": int, "lo": FORMAT_VERSION, "hi": FORMAT_VERSION, "doc": "target file format version"},
        "name": {"kind": str, "lo": None, "hi": None, "doc": "target name"},
        "description": {"kind": str, "lo": None, "hi": None, "doc": "one-line description"},
    }
    for key in _TOP_LEVEL:
        if key not in data:
            missing.append(key)
            continue
        value, err = _check_value(key, data[key], top_meta[key])
        if err:
            errors.append(err)
        top[key] = value

    values: dict[str, dict[str, Any]] = {}
    for sname, cls in _SECTIONS.items():
        specs = {f.name: f.metadata for f in fields(cls)}
        if sname not in data:
            missing.extend(f"{sname}.{k}" for k, m in specs.items() if not m["optional"])
            continue
        table = data[sname]
        if not isinstance(table, Mapping):
            errors.append(f"{sname}: expected a table ([{sname}] header), got {_type_name(table)}")
            continue
        allowed = list(specs)
        for key in table:
            if key not in specs:
                owner = [d for d in all_fields if d.split(".", 1)[1] == key]
                hint = (f"it belongs in the [{owner[0].split('.')[0]}] table" if owner
                        else _suggest(key, allowed))
                errors.append(f"unknown key {sname}.{key}: {hint}")
        sec: dict[str, Any] = {}
        for key, meta in specs.items():
            if key not in table:
                if not meta["optional"]:
                    missing.append(f"{sname}.{key}")
                continue
            value, err = _check_value(f"{sname}.{key}", table[key], meta)
            if err:
                errors.append(err)
            else:
                sec[key] = value
        values[sname] = sec

    provenance: dict[str, tuple[str, ...]] = {k: () for k in _PROVENANCE_KEYS}
    prov = data.get("provenance", {})
    if not isinstance(prov, Mapping):
        errors.append(f"provenance: expected a table ([provenance] header), got {_type_name(prov)}")
        prov = {}
    for key in prov:
        if key not in _PROVENANCE_KEYS:
            errors.append(f"unknown key provenance.{key}: {_suggest(key, list(_PROVENANCE_KEYS))}")
    for key in _PROVENANCE_KEYS:
        entries = prov.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            errors.append(f"provenance.{key}: expected a list of dotted field names such as "
                          f'["cores.neurons_per_core"], got {_type_name(entries)}')
            continue
        for entry in entries:
            if entry not in all_fields:
                errors.append(f"provenance.{key} names unknown field {entry!r}: {_suggest(entry, all_fields)}")
        provenance[key] = tuple(entries)

    if missing:
        errors.insert(0, f"missing required keys: {', '.join(missing)}; add them "
                         "(docs/targets.md lists every field with its unit)")
    errors.extend(_cross_checks(values))
    if errors:
        raise ValueError(f"invalid hardware target {src}:\n  - " + "\n  - ".join(errors))

    sections = {s: cls(**values[s]) for s, cls in _SECTIONS.items()}
    return HardwareTarget(
        name=top["name"], description=top["description"], **sections,
        unverified=provenance["unverified"], secondary=provenance["secondary"],
        source=None if src == "<dict>" else Path(src),
    )
