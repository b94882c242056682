"""Uplift and Upsample in five minutes: stride masks, a forward pass, official weights.

python examples/uplift_upsample_quickstart.py
python examples/uplift_upsample_quickstart.py --h5 weights.h5 --config config/h36m_81.json
"""

from __future__ import annotations

import argparse

import torch

import posezoo
from posezoo.data import receptive_field, stride_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="uplift_upsample_small", help="registered variant")
    parser.add_argument("--h5", default=None, help="official Keras .h5 weights (optional)")
    parser.add_argument(
        "--config", default=None, help="official config JSON for --h5 (default: the variant's geometry)"
    )
    args = parser.parse_args()

    if args.h5 and args.config:
        model = posezoo.from_official("uplift_upsample", args.h5, config=args.config)  # H36M-17 order
    else:
        model = posezoo.create_model(args.model, pretrained=args.h5 or False)
    model.eval()
    n, s_out = model.num_frames, model.output_stride
    print(
        f"{type(model).__name__}: N={n} tokens, s_out={s_out} -> window of {receptive_field(n, s_out)} frames, "
        f"input strides {model.input_strides}, joint order {model.joint_order}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
    )

    keypoints = 0.2 * torch.randn(len(model.input_strides), n, 17, 2)  # (B, N, J, 2) normalised screen coords
    masks = torch.stack([stride_mask(n, s, s_out) for s in model.input_strides])  # one s_in per sequence
    for s, m in zip(model.input_strides, masks):
        print(
            f"  s_in={s:>2}: {int(m.sum())} keyframes of {n} tokens: {''.join('K' if k else '.' for k in m.tolist())}"
        )
    with torch.no_grad():
        out = model(keypoints, masks)
    print("full sequence:", tuple(out.full.shape), " central frame:", tuple(out.central.shape))


if __name__ == "__main__":
    main()
