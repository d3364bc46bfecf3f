"""Hardware target files (hardware/*.toml) and their loader (neurosim.hardware.targets)."""
from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.hardware import HardwareTarget, list_targets, load_target, target_from_dict
from neurosim.hardware import targets as targets_mod

REPO_HARDWARE = Path(__file__).resolve().parents[1] / "hardware"


# ---------------------------------------------------------------- helpers


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for ASCII text
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def dump_toml(data: dict) -> str:
    """Minimal TOML writer for target documents (scalars, then one level of tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


def raw(name: str) -> dict:
    with (REPO_HARDWARE / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def write(tmp_path: Path, data: dict, name: str = "chip.toml") -> Path:
    path = tmp_path / name
    path.write_text(dump_toml(data))
    return path


def names_key(message: str, key: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", message) is not None


# ------------------------------------------------------- built-in targets


def test_list_targets_has_both_builtins():
    assert {"loihi1", "loihi2"} <= set(list_targets())


def test_loihi1_documented_values():
    t = load_target("loihi1")
    assert isinstance(t, HardwareTarget)
    assert t.name == "loihi1"
    assert t.source == REPO_HARDWARE / "loihi1.toml"
    # Davies et al. 2018 pp. 86/89; nengo-loihi block.py
    assert t.cores.cores_per_chip == 128
    assert t.cores.neurons_per_core == 1024
    assert t.cores.input_axons_per_core == 4096
    assert t.cores.output_axons_per_core == 4096
    assert t.cores.synaptic_memory_bytes_per_core * 8 == 16384 * 64
    assert t.cores.total_memory_bytes_per_core is None
    p = t.precision
    assert (p.weight_bits, p.u_bits, p.v_bits) == (8, 24, 24)
    assert (p.threshold_mantissa_bits, p.threshold_shift_bits) == (17, 6)
    assert (p.bias_mantissa_bits, p.bias_exp_bits) == (13, 3)
    assert (p.decay_bits, p.decay_unity) == (12, 4096)
    assert t.features.max_delay_steps == 62
    assert t.features.graded_spikes is False and t.features.spike_payload_bits == 0
    # Davies et al. 2018 Table 2
    e, tm = t.energy, t.timing
    assert not e.estimated and not tm.estimated
    assert e.synaptic_op_pj == pytest.approx(23.6)
    assert e.synaptic_update_stdp_pj == pytest.approx(120.0)
    assert (e.neuron_update_active_pj, e.neuron_update_inactive_pj) == pytest.approx((81.0, 52.0))
    assert e.spike_within_tile_pj == pytest.approx(1.7)
    assert (e.hop_east_west_pj, e.hop_north_south_pj) == pytest.approx((3.0, 4.0))
    assert e.static_power_mw_per_chip == pytest.approx(104.0)
    assert tm.synaptic_op_ns == pytest.approx(3.5)
    assert (tm.neuron_update_active_ns, tm.neuron_update_inactive_ns) == pytest.approx((8.4, 5.3))
    assert tm.spike_within_tile_ns == pytest.approx(2.1)
    assert (tm.hop_east_west_ns, tm.hop_north_south_ns) == pytest.approx((4.1, 6.5))
    assert (tm.barrier_sync_min_ns, tm.barrier_sync_max_ns) == pytest.approx((113.0, 465.0))
    assert t.is_unverified("precision.weight_exp_min")
    assert not t.is_unverified("energy.synaptic_op_pj")


def test_loihi2_documented_values_and_flags():
    t = load_target("loihi2")
    assert t.cores.cores_per_chip == 128
    assert t.cores.neurons_per_core == 8192
    assert t.cores.synaptic_memory_bytes_per_core == 128 * 1024
    assert t.cores.total_memory_bytes_per_core == 192 * 1024
    # no published fan-in/fan-out limits: left unknown rather than invented
    assert t.cores.input_axons_per_core is None and t.cores.output_axons_per_core is None
    assert t.features.graded_spikes is True and t.features.spike_payload_bits == 32
    assert t.features.max_delay_steps == 62
    # no public per-op table: inherited Loihi 1 figures, flagged as estimates
    assert t.energy.estimated and t.timing.estimated
    assert t.energy.synaptic_op_pj == pytest.approx(load_target("loihi1").energy.synaptic_op_pj)
    assert t.is_unverified("energy.synaptic_op_pj") and t.is_unverified("timing.synaptic_op_ns")
    assert "precision.weight_bits" in t.unverified
    assert "cores.neurons_per_core" in t.secondary


@pytest.mark.parametrize("name", ["loihi1", "loihi2"])
def test_every_builtin_value_has_a_source_comment(name):
    """Each `key = value` line is preceded by, or carries, a comment (its source)."""
    lines = (REPO_HARDWARE / f"{name}.toml").read_text().splitlines()
    in_list = False
    for i, line in enumerate(lines):
        s = line.strip()
        if in_list:
            in_list = not s.startswith("]")
            continue
        if not s or s.startswith("#") or s.startswith("["):
            continue
        key = s.split("=", 1)[0].strip()
        if key in ("format_version", "name", "description"):
            continue
        in_list = s.endswith("[")
        has_inline = "#" in s
        j = i - 1
        while j >= 0 and "=" in lines[j] and not lines[j].strip().startswith("#"):
            j -= 1  # a block of keys sharing one comment
        assert has_inline or (j >= 0 and lines[j].strip().startswith("#")), f"{name}.toml: {key} has no source comment"


def test_load_by_path_and_by_pathlike():
    path = REPO_HARDWARE / "loihi1.toml"
    assert load_target(path) == load_target(str(path)) == load_target("loihi1")


def test_env_var_search_path(tmp_path, monkeypatch):
    data = raw("loihi1")
    data["name"] = "mychip"
    write(tmp_path, data, "mychip.toml")
    monkeypatch.setenv(targets_mod.TARGETS_PATH_ENV, str(tmp_path))
    assert "mychip" in list_targets()
    assert load_target("mychip").name == "mychip"


def test_unknown_builtin_name_suggests():
    with pytest.raises(ValueError, match=r"unknown hardware target 'loihi3'.*Did you mean 'loihi[12]'"):
        load_target("loihi3")


def test_missing_file():
    with pytest.raises(ValueError, match=r"does not exist"):
        load_target("/nonexistent/chip.toml")


# --------------------------------------------------------------- user files


def test_user_toml_loads(tmp_path):
    data = raw("loihi1")
    data["name"] = "my_chip"
    data["cores"]["neurons_per_core"] = 512
    data["cores"]["total_memory_bytes_per_core"] = 262144
    data["energy"]["synaptic_op_pj"] = 10  # integers are accepted for pJ/ns fields
    del data["provenance"]  # optional
    path = write(tmp_path, data)
    t = load_target(path)
    assert t.name == "my_chip" and t.source == path
    assert t.cores.neurons_per_core == 512
    assert t.energy.synaptic_op_pj == 10.0 and isinstance(t.energy.synaptic_op_pj, float)
    assert t.unverified == () and t.secondary == ()


def test_invalid_toml_syntax(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ValueError, match=r"broken\.toml is not valid TOML"):
        load_target(path)


def test_missing_keys_are_all_listed(tmp_path):
    data = raw("loihi1")
    del data["cores"]["neurons_per_core"]
    del data["energy"]["synaptic_op_pj"]
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=r"(?s)chip\.toml.*missing required keys: "
                                         r"cores\.neurons_per_core, energy\.synaptic_op_pj"):
        load_target(path)


def test_missing_table(tmp_path):
    data = raw("loihi1")
    del data["timing"]
    with pytest.raises(ValueError, match=r"missing required keys: timing\.estimated, timing\.synaptic_op_ns"):
        load_target(write(tmp_path, data))


@pytest.mark.parametrize(
    "section, key, value, pattern",
    [
        ("cores", "neurons_per_core", 0, r"cores\.neurons_per_core = 0 is impossible: it must be positive"),
        ("cores", "cores_per_chip", -4, r"cores\.cores_per_chip = -4 is impossible"),
        ("energy", "synaptic_op_pj", -1.0, r"energy\.synaptic_op_pj = -1\.0 is impossible: it must be non-negative"),
        ("precision", "weight_bits", 33, r"precision\.weight_bits = 33 is impossible: it must be between 1 and 32"),
        ("precision", "weight_bits", 0, r"precision\.weight_bits = 0 is impossible"),
        ("features", "max_delay_steps", -1, r"features\.max_delay_steps = -1 is impossible"),
        ("timing", "synaptic_op_ns", float("nan"), r"timing\.synaptic_op_ns: expected a finite number"),
    ],
)
def test_impossible_values(tmp_path, section, key, value, pattern):
    data = raw("loihi1")
    data[section][key] = value
    with pytest.raises(ValueError, match=r"chip\.toml(.|\n)*" + pattern):
        load_target(write(tmp_path, data))


@pytest.mark.parametrize(
    "edit, pattern",
    [
        ({"precision": {"weight_exp_min": 3, "weight_exp_max": -3}},
         r"precision\.weight_exp_min \(3\) > precision\.weight_exp_max \(-3\)"),
        ({"timing": {"barrier_sync_min_ns": 500.0}},
         r"timing\.barrier_sync_min_ns \(500\.0\) > timing\.barrier_sync_max_ns"),
        ({"precision": {"decay_unity": 4095}}, r"precision\.decay_unity \(4095\) must equal 2\*\*precision\.decay_bits"),
        ({"features": {"spike_payload_bits": 8}}, r"features\.spike_payload_bits = 8 but features\.graded_spikes = false"),
        ({"features": {"graded_spikes": True}}, r"features\.spike_payload_bits = 0 but features\.graded_spikes = true"),
        ({"cores": {"total_memory_bytes_per_core": 1024}},
         r"cores\.synaptic_memory_bytes_per_core \(131072\) exceeds cores\.total_memory_bytes_per_core"),
    ],
)
def test_inconsistent_values(tmp_path, edit, pattern):
    data = raw("loihi1")
    for section, kv in edit.items():
        data[section].update(kv)
    with pytest.raises(ValueError, match=pattern):
        load_target(write(tmp_path, data))


def test_unknown_key_suggests_close_match(tmp_path):
    data = raw("loihi1")
    data["cores"]["neurons_per_cor"] = data["cores"].pop("neurons_per_core")
    with pytest.raises(ValueError, match=r"unknown key cores\.neurons_per_cor: did you mean 'neurons_per_core'\?"):
        load_target(write(tmp_path, data))


def test_key_in_wrong_table_is_pointed_out(tmp_path):
    data = raw("loihi1")
    data["cores"]["synaptic_op_pj"] = 1.0
    with pytest.raises(ValueError, match=r"unknown key cores\.synaptic_op_pj: it belongs in the \[energy\] table"):
        load_target(write(tmp_path, data))


def test_unknown_table_and_provenance_entry(tmp_path):
    data = raw("loihi1")
    data["energi"] = {"x": 1}
    data["provenance"]["unverified"] = ["cores.neurons_per_cores"]
    with pytest.raises(ValueError) as info:
        load_target(write(tmp_path, data))
    msg = str(info.value)
    assert "unknown top-level key 'energi': did you mean 'energy'?" in msg
    assert "provenance.unverified names unknown field 'cores.neurons_per_cores': did you mean 'cores.neurons_per_core'?" in msg


@pytest.mark.parametrize(
    "section, key, value, pattern",
    [
        ("cores", "neurons_per_core", "1024", r"cores\.neurons_per_core: expected an integer .*got str '1024'"),
        ("cores", "neurons_per_core", 1024.0, r"cores\.neurons_per_core: expected an integer"),
        ("cores", "neurons_per_core", True, r"cores\.neurons_per_core: expected an integer .*got bool True"),
        ("energy", "synaptic_op_pj", "23.6 pJ", r"energy\.synaptic_op_pj: expected a number"),
        ("energy", "estimated", "no", r"energy\.estimated: expected true or false"),
        ("features", "graded_spikes", 0, r"features\.graded_spikes: expected true or false"),
    ],
)
def test_bad_types(tmp_path, section, key, value, pattern):
    data = raw("loihi1")
    data[section][key] = value
    with pytest.raises(ValueError, match=pattern):
        load_target(write(tmp_path, data))


def test_all_errors_reported_together():
    data = raw("loihi1")
    data["cores"]["neurons_per_core"] = 0
    data["precision"]["weight_bits"] = "8"
    del data["timing"]["synaptic_op_ns"]
    with pytest.raises(ValueError) as info:
        target_from_dict(data, source="x.toml")
    msg = str(info.value)
    assert msg.startswith("invalid hardware target x.toml:")
    for key in ("cores.neurons_per_core", "precision.weight_bits", "timing.synaptic_op_ns"):
        assert key in msg


def test_target_is_frozen():
    t = load_target("loihi1")
    with pytest.raises(AttributeError):
        t.cores.neurons_per_core = 2  # type: ignore[misc]


# ------------------------------------------------------- property test

_TOP_SPECS = {
    "format_version": {"kind": int, "lo": 1, "hi": 1},
    "name": {"kind": str, "lo": None, "hi": None},
    "description": {"kind": str, "lo": None, "hi": None},
}
_REQUIRED = [(None, k, m) for k, m in _TOP_SPECS.items()] + [
    (section, f.name, f.metadata)
    for section, cls in targets_mod._SECTIONS.items()
    for f in fields(cls)
    if not f.metadata["optional"]
]


def _corruptions(meta) -> list:
    """Wrong-type and impossible replacement values for a field with this spec."""
    kind, lo, hi = meta["kind"], meta["lo"], meta["hi"]
    if kind is bool:
        return ["yes", 1, 0.0, [True]]
    if kind is str:
        return [5, "", True, ["loihi"]]
    bad = ["oops", True, [1]]
    if kind is int:
        bad.append(1.5)
    else:
        bad += [float("nan"), float("inf")]
    if lo is not None:
        bad.append(type(lo)(lo - 1) if kind is int else float(lo) - 1.0)
    if hi is not None:
        bad.append(hi + 1 if kind is int else float(hi) + 1.0)
    return bad


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(["loihi1", "loihi2"]),
    target=st.sampled_from(_REQUIRED),
    data=st.data(),
)
def test_any_single_deleted_or_corrupted_field_is_named(tmp_path, base, target, data):
    section, key, meta = target
    doc = copy.deepcopy(raw(base))
    table = doc if section is None else doc[section]
    dotted = key if section is None else f"{section}.{key}"
    action = data.draw(st.sampled_from(["delete", "corrupt"]), label="action")
    if action == "delete":
        del table[key]
    else:
        table[key] = data.draw(st.sampled_from(_corruptions(meta)), label="value")
    path = write(tmp_path, doc, f"{base}_broken.toml")
    with pytest.raises(ValueError) as info:
        load_target(path)
    msg = str(info.value)
    assert f"{base}_broken.toml" in msg
    assert names_key(msg, dotted), f"{dotted!r} not named in:\n{msg}"
