"""Fuzzing every public entry point with malformed input (issue 13).

Each test sends a bounded number of hostile inputs (wrong ranks, dtypes and
sizes, NaN/inf, empty batches, hostile files and configs) through
:func:`tests.fuzz_support.check_call`: only a result or a clean, message-bearing
``ValueError`` / ``TypeError`` (``WeightsError``) may come out, within a time
limit, and a failing call must leave its arguments unchanged. The default run
uses the ``posezoo-fuzz`` Hypothesis profile (a fixed sample, well under a
minute on one thread); ``pytest -m slow tests/test_fuzz.py`` runs the
``posezoo-fuzz-slow`` profile (thousands of random cases in all).
"""

from __future__ import annotations

import functools
import inspect
import json
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import posezoo
from posezoo import losses as L
from posezoo import metrics as M
from posezoo import skeleton as S
from posezoo.data import camera as C
from posezoo.data import h36m, keyframe_windows, stride_masks, windows
from posezoo.data._safe_npz import load_npz_safe
from posezoo.data.mocap import load_clip_meta, load_clips

from .conftest import FIXTURES, TINY_NAME
from .fuzz_support import JSON, VALUES, Failed, arrays, check_call, corrupt, is_valid_float

SKELETONS = st.sampled_from(["h36m", "coco", "uplift_upsample", "humaneva", "nope", 3, None])
PROFILES = [
    pytest.param("posezoo-fuzz", id="default"),
    pytest.param("posezoo-fuzz-slow", id="slow", marks=pytest.mark.slow),
]
LOADER_ERRORS = (ValueError, TypeError, FileNotFoundError)


def fuzz(profile: str, body, default: int, slow: int = 1000) -> None:
    """Run ``body(data)`` for ``default`` examples (``slow`` under the slow profile)."""
    n = default if profile == "posezoo-fuzz" else slow

    @settings(settings.get_profile(profile), max_examples=n)
    @given(st.data())
    def run(data) -> None:
        body(data)

    run()


@functools.cache
def model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return posezoo.create_model(name).eval()


FORWARD = {
    "rtpca_small": (27, 17, 2),
    "mixste_small": (27, 17, 2),
    "uplift_upsample_small": (27, 17, 2),
    "mixsynthformer_3dpw_3d": (51, 14, 3),
}


def _forward_case(data) -> None:
    name = data.draw(st.sampled_from(sorted(FORWARD)))
    net = model(name)
    shape = (data.draw(st.integers(1, 3)), *FORWARD[name])
    x = data.draw(arrays(shape, kinds=("torch",)))
    args, valid_mask = [x], True
    if name.startswith("uplift"):
        choice = data.draw(st.sampled_from(["none", "valid", "random"]))
        if choice == "valid":
            args.append(stride_masks.stride_mask(27, 4, 2).expand(shape[0], -1).clone())
        elif choice == "random":
            args.append(data.draw(arrays((shape[0], 27), kinds=("torch",))))
            valid_mask = False
    with torch.no_grad():
        out = check_call(net, *args)
    if is_valid_float(x, shape) and valid_mask:
        assert not isinstance(out, Failed), f"valid input refused: {getattr(out, 'exc', None)}"
        result = out.central if name.startswith("uplift") else out
        assert torch.isfinite(result).all() and result.shape[0] == shape[0]


def _create_case(data) -> None:
    name = data.draw(st.sampled_from([*FORWARD, "mixsynthformer_h36m_predict"] * 3 + ["nope", None, 3]))
    entry = posezoo.models.get_model_entry(name) if name in FORWARD or name == "mixsynthformer_h36m_predict" else None
    params = list(inspect.signature(entry.model_cls.__init__).parameters)[1:] if entry else ["dim"]
    keys = st.sampled_from(params) | st.text(min_size=1, max_size=6)
    kwargs = data.draw(st.dictionaries(keys, VALUES, max_size=3))
    kwargs.pop("pretrained", None)
    if data.draw(st.booleans()):
        kwargs["pretrained"] = data.draw(VALUES | st.sampled_from(["hf-hub:", "hf-hub:a", str(FIXTURES)]))
    out = check_call(posezoo.create_model, name, allowed=LOADER_ERRORS, **kwargs)
    assert isinstance(out, (Failed, posezoo.PoseModel))


def _lift_case(data) -> None:
    refine = data.draw(st.booleans())
    name = data.draw(
        st.sampled_from(["mixsynthformer_3dpw_3d"] if refine else ["rtpca_small", "uplift_upsample_small"])
    )
    joints, channels = (14, 3) if refine else (17, 2)
    frames = data.draw(st.integers(1, 40))
    x = data.draw(arrays((frames, joints, channels)))
    options = {  # one or two hostile keyword arguments per case, the rest left at their defaults
        "confidence": arrays((frames, joints)),
        "device": VALUES | st.sampled_from(["cpu", "meta", "bogus"]),
        "batch_size": VALUES | st.integers(1, 4),
        "min_confidence": VALUES,
        "amp": VALUES,
    }
    if refine:
        options.update(window_step=VALUES | st.integers(1, 5), sample_interval=VALUES | st.just(10))
    else:
        options.update(
            image_size=VALUES | st.just((1920, 1080)),
            layout=SKELETONS,
            flip_tta=VALUES,
            input_stride=VALUES | st.sampled_from([2, 4, 8]),
            output_length=VALUES | st.integers(1, 80),
            root_relative=VALUES,
        )
    keys = data.draw(st.lists(st.sampled_from(sorted(options)), max_size=2, unique=True))
    kwargs = {key: data.draw(options[key]) for key in keys}
    net = model(name) if data.draw(st.integers(0, 5)) < 5 else data.draw(st.sampled_from([name, None, "nope"]))
    out = check_call(posezoo.refine if refine else posezoo.lift, x, net, **kwargs)
    if (
        not kwargs
        and net is model(name)
        and is_valid_float(
            torch.as_tensor(x) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x, (frames, joints, channels)
        )
    ):
        assert not isinstance(out, Failed), f"valid input refused: {getattr(out, 'exc', None)}"
        assert np.isfinite(np.asarray(out)).all() and out.shape[0] == frames


def _pair_fns():
    future = functools.partial(L.future_mpjpe_loss, history=2)
    return [
        L.mpjpe_loss,
        L.wmpjpe_loss,
        L.pose_l1_loss,
        L.mpjve_loss,
        L.rtpca_loss,
        future,
        M.mpjpe,
        M.n_mpjpe,
        M.p_mpjpe,
        M.joint_errors,
        M.procrustes_align,
        M.mpjve,
        M.accel_error,
        M.pck3d,
        M.auc3d,
        M.pck2d,
        M.merge_flipped,
        L.MPJPELoss(),
        L.WMPJPE(),
        L.PoseL1Loss(),
        L.MPJVE(),
        L.RTPCALoss(),
        L.FutureMPJPE(2),
    ]


def _metrics_case(data) -> None:
    pred = data.draw(arrays((2, 5, 17, 3)))
    same = isinstance(pred, (np.ndarray, torch.Tensor)) and data.draw(st.booleans())
    target = (
        (pred.copy() if isinstance(pred, np.ndarray) else pred.clone()) if same else data.draw(arrays((2, 5, 17, 3)))
    )
    kind = data.draw(st.sampled_from(["pair", "single", "uu"]))
    if kind == "pair":
        fn = data.draw(st.sampled_from(_pair_fns()))
        kwargs = {}
        no_reduction = (M.procrustes_align, M.merge_flipped, M.joint_errors)
        if not isinstance(fn, torch.nn.Module) and fn not in no_reduction and data.draw(st.booleans()):
            kwargs["reduction"] = data.draw(VALUES | st.sampled_from(["mean", "sum", "none"]))
        check_call(fn, pred, target, **kwargs)
    elif kind == "single":
        fn = data.draw(st.sampled_from([L.tc_loss, M.root_relative, L.TCLoss()]))
        check_call(fn, pred)
    else:
        central = data.draw(arrays((2, 17, 3)))
        check_call(L.uplift_upsample_loss, data.draw(st.sampled_from([None, pred])), central, target)


def _helpers_case(data) -> None:
    which = data.draw(st.integers(0, 12))
    x2, x3 = data.draw(arrays((4, 17, 2))), data.draw(arrays((4, 17, 3)))
    q = data.draw(arrays((4,)))
    skeleton = data.draw(SKELETONS)
    calls = [
        lambda: (S.flip_pose, (x3, skeleton)),
        lambda: (S.reorder_joints, (x3, data.draw(SKELETONS), data.draw(SKELETONS))),
        lambda: (S.coco_to_h36m, (x2, *([data.draw(arrays((4, 17)))] if data.draw(st.booleans()) else []))),
        lambda: (M.merge_flipped, (x3, data.draw(arrays((4, 17, 3))))),
        lambda: (S.joint_weights, (data.draw(SKELETONS),)),
        lambda: (C.normalize_screen_coordinates, (x2, data.draw(VALUES), data.draw(VALUES))),
        lambda: (C.image_coordinates, (x2, 1000.0, data.draw(VALUES))),
        lambda: (C.world_to_camera, (x3, q, data.draw(arrays((3,))))),
        lambda: (C.camera_to_world, (x3, q, [0.0, 0.0, 1.0])),
        lambda: (
            C.project_points,
            (x3, data.draw(arrays((2,))), [500.0, 500.0], data.draw(arrays((3,))), None, data.draw(VALUES)),
        ),
        lambda: (C.project_to_2d, (x3, data.draw(arrays((9,))))),
        lambda: (C.matrix_to_quaternion, (data.draw(arrays((2, 3, 3))),)),
        lambda: (C.look_at, (data.draw(arrays((3,))), data.draw(arrays((3,))))),
    ]
    fn, args = calls[which]()
    out = check_call(fn, *args)
    if which == 0 and not isinstance(out, Failed) and is_valid_float(x3, (4, 17, 3)):
        assert torch.isfinite(out).all() and torch.equal(S.flip_pose(out, skeleton), x3)  # an involution


def _windows_case(data) -> None:
    ints = VALUES | st.integers(0, 60)
    calls = [
        (windows.evaluation_windows, 2),
        (windows.training_window_starts, 3),
        (windows.central_frames, 2),
        (windows.mixsynth_window_starts, 3),
        (stride_masks.stride_mask, 4),
        (stride_masks.token_offsets, 2),
        (keyframe_windows.window_starts, 3),
        (keyframe_windows.keyframe_frame_indices, 2),
    ]
    fn, arity = data.draw(st.sampled_from(calls))
    check_call(fn, *[data.draw(ints) for _ in range(arity)])
    if data.draw(st.booleans()):
        check_call(
            keyframe_windows.sliding_windows,
            data.draw(arrays((1, 30, 3), kinds=("torch",))),
            data.draw(ints),
            data.draw(ints),
            data.draw(ints),
        )


def _slots(obj, out: list) -> list:
    """Every (container, key) of a nested dict/list structure."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        out.append((obj, key))
        _slots(value, out)
    return out


def _object(value) -> np.ndarray:
    holder = np.empty((), dtype=object)
    holder[()] = value
    return holder


def _npz_case(data) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    kind = data.draw(st.sampled_from(["3d", "2d", "clips"]))
    if kind == "3d":
        base = {
            "positions_3d": {"S1": {"Walking": rng.normal(size=(5, 32, 3)), "Eating 2": rng.normal(size=(3, 32, 3))}}
        }
    elif kind == "2d":
        base = {
            "positions_2d": {"S1": {"Walking": [rng.normal(size=(5, 17, 2)) for _ in range(4)]}},
            "metadata": {"num_joints": 17, "layout_name": "h36m"},
        }
    else:
        base = {"clip_a": rng.normal(size=(5, 17, 3)), "clip_b": rng.normal(size=(3, 17, 3))}
    for _ in range(data.draw(st.integers(0, 2))):  # replace one value somewhere in the structure
        container, key = data.draw(st.sampled_from(_slots(base, [])))
        old = container[key]
        near = old.shape if isinstance(old, np.ndarray) else (5, 17, 3)
        container[key] = data.draw(
            arrays(near, kinds=("numpy",))
            | VALUES
            | st.sampled_from([{3: old}, [old], {"deeper": {"x": old}}, "17", np.array(["a", "b"])])
        )
    content = {k: _object(v) if not isinstance(v, np.ndarray) else v for k, v in base.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, **content)
        if data.draw(st.integers(0, 3)) == 3:
            path.write_bytes(corrupt(path.read_bytes(), data.draw))
        reader = {"3d": h36m.load_h36m_3d, "2d": h36m.load_h36m_2d, "clips": load_clips}[kind]
        check_call(data.draw(st.sampled_from([reader, reader, load_npz_safe])), path)
        (Path(tmp) / "meta.json").write_text(
            json.dumps(data.draw(JSON)) if data.draw(st.booleans()) else data.draw(st.text(max_size=40))
        )
        check_call(load_clip_meta, Path(tmp))


def _weights_case(data) -> None:
    tiny = posezoo.create_model(TINY_NAME)
    state = dict(tiny.state_dict())
    for _ in range(data.draw(st.integers(0, 3))):
        key = data.draw(st.sampled_from([*state, "extra.weight"]))
        like = state[key] if isinstance(state.get(key), torch.Tensor) else torch.zeros(2)
        state[key] = data.draw(arrays(tuple(like.shape), kinds=("torch",)))
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor) and v.dtype != torch.bfloat16}
    config = data.draw(st.sampled_from(["valid", "json", "text"]))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        save_file({k: v.contiguous() for k, v in state.items()}, str(d / "model.safetensors"))
        if data.draw(st.integers(0, 2)) == 2:
            (d / "model.safetensors").write_bytes(corrupt((d / "model.safetensors").read_bytes(), data.draw))
        cfg = {"architecture": TINY_NAME, "config": {"num_frames": 5, "num_joints": 17, "dim": 8}}
        if config == "valid" and data.draw(st.booleans()):
            cfg["config"][data.draw(st.sampled_from(["num_frames", "dim", "in_channels", "bogus"]))] = data.draw(VALUES)
        text = (
            json.dumps(cfg, default=str)
            if config == "valid"
            else (json.dumps(data.draw(JSON)) if config == "json" else data.draw(st.text(max_size=60)))
        )
        (d / "config.json").write_text(text)
        fn = data.draw(st.sampled_from(["from_pretrained", "load_weights", "create_model"]))
        if fn == "from_pretrained":
            check_call(posezoo.from_pretrained, d, allowed=LOADER_ERRORS)
        elif fn == "load_weights":
            check_call(posezoo.load_weights, tiny, d / "model.safetensors", allowed=LOADER_ERRORS)
        else:
            check_call(posezoo.create_model, TINY_NAME, pretrained=d / "model.safetensors", allowed=LOADER_ERRORS)


OFFICIAL = {
    "rtpca": FIXTURES / "rtpca" / "f243_d32_depth3_b2" / "checkpoint.bin",
    "mixste": FIXTURES / "mixste" / "f27_d32_depth3_b2" / "checkpoint.bin",
    "mixsynthformer": FIXTURES / "mixsynthformer" / "h36m3d_si10_step10_e64_l4_rt4_rc1_b2" / "checkpoint.pth.tar",
}


@functools.cache
def _official_state(family: str) -> dict:
    ckpt = torch.load(OFFICIAL[family], map_location="cpu", weights_only=False)
    return dict(ckpt["state_dict" if family == "mixsynthformer" else "model_pos"])


def _official_case(data) -> None:
    family = data.draw(st.sampled_from(sorted(OFFICIAL)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / OFFICIAL[family].name
        how = data.draw(st.sampled_from(["bytes", "state", "structure"]))
        if how == "bytes":
            path.write_bytes(corrupt(OFFICIAL[family].read_bytes(), data.draw))
        else:
            state = dict(_official_state(family))
            for _ in range(data.draw(st.integers(1, 3))):
                key = data.draw(st.sampled_from(sorted(state)))
                action = data.draw(st.sampled_from(["drop", "dtype", "shape", "rename"]))
                if action == "drop":
                    state.pop(key, None)
                elif action == "rename":
                    state[data.draw(st.text(max_size=12))] = state.pop(key, torch.zeros(1))
                elif isinstance(state.get(key), torch.Tensor):
                    shape = (
                        tuple(state[key].shape)
                        if action == "dtype"
                        else data.draw(st.sampled_from([(), (0,), (10**6, 0), (3, 3)]))
                    )
                    state[key] = data.draw(arrays(shape, kinds=("torch",)))
            top = "state_dict" if family == "mixsynthformer" else "model_pos"
            obj = (
                {top: state, "epoch": data.draw(VALUES)}
                if how == "state"
                else data.draw(st.sampled_from([[1, 2], "x", {top: [1]}, {top: {1: torch.zeros(1)}}, {"other": state}]))
            )
            torch.save(obj, path)
        config = data.draw(
            st.sampled_from([None, None, {}]) | st.dictionaries(st.text(max_size=12), VALUES, max_size=2)
        )
        check_call(posezoo.from_official, family, path, config=config, allowed=LOADER_ERRORS)


UU = FIXTURES / "uplift_upsample" / "n27_s333_duta"


def _h5_case(data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.h5"
        path.write_bytes((UU / "weights.h5").read_bytes())
        action = data.draw(st.sampled_from(["bytes", "dtype", "shape", "link", "external", "names", "attrs"]))
        if action == "bytes":
            path.write_bytes(corrupt(path.read_bytes(), data.draw))
        else:
            with h5py.File(path, "a") as f:
                group = data.draw(st.sampled_from(sorted(g for g in f if len(f[g].attrs["weight_names"]))))
                names = [n.decode() for n in f[group].attrs["weight_names"]]
                name = data.draw(st.sampled_from(names))
                shape = f[group][name].shape
                if action in ("dtype", "shape", "link", "external"):
                    del f[group][name]
                if action == "dtype":
                    f[group].create_dataset(
                        name, data=np.ones(shape, data.draw(st.sampled_from(["i4", "u1", "c8", "f8"])))
                    )
                elif action == "shape":
                    f[group].create_dataset(name, data=np.ones(data.draw(st.sampled_from([(), (0,), (2, 2, 2)])), "f4"))
                elif action == "link":
                    f[group][name] = data.draw(
                        st.sampled_from([h5py.SoftLink("/" + group), h5py.ExternalLink("x.h5", "/y")])
                    )
                elif action == "external":
                    (Path(tmp) / "secret").write_bytes(b"\1" * (4 * int(np.prod(shape))))
                    f[group].create_dataset(
                        name,
                        shape=shape,
                        dtype="f4",
                        external=[(str(Path(tmp) / "secret"), 0, 4 * int(np.prod(shape)))],
                    )
                elif action == "names":
                    f[group].attrs["weight_names"] = [
                        data.draw(st.sampled_from([b"/x", b"a/../b", b"", b"..", b"k"]))
                    ] * len(names)
                else:
                    f.attrs["layer_names"] = data.draw(st.sampled_from([[b"nope"], [b""], [b"/"], np.arange(3)]))
        config = data.draw(
            st.sampled_from([UU / "config.json"])
            | st.dictionaries(
                st.sampled_from(["SEQUENCE_LENGTH", "STRIDES", "MLP_RATIO", "spatial_d_model", "num_frames", "X"]),
                VALUES,
                max_size=3,
            )
        )
        check_call(posezoo.from_official, "uplift_upsample", path, config=config, allowed=LOADER_ERRORS)


CASES = {  # name: (body, default examples); the slow profile runs 1000 of each
    "model_forward": (_forward_case, 80),
    "create_model_kwargs": (_create_case, 100),
    "lift_refine": (_lift_case, 40),
    "losses_metrics": (_metrics_case, 150),
    "skeleton_camera_helpers": (_helpers_case, 150),
    "windows_and_masks": (_windows_case, 150),
    "data_readers": (_npz_case, 80),
    "weight_files": (_weights_case, 60),
    "official_checkpoints": (_official_case, 60),
    "keras_h5": (_h5_case, 50),
}


@pytest.mark.filterwarnings("ignore:.*looks like pixels")
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("target", list(CASES))
def test_fuzz(target: str, profile: str, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may reach the network
    body, default = CASES[target]
    fuzz(profile, body, default)
