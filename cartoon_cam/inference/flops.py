"""FLOP counts (2 × multiply-accumulates) of style networks at a given input size."""

from __future__ import annotations

import math
from functools import cache

from .style import StyleFile


def torch_flops(style: StyleFile, h: int, w: int) -> float | None:
    """FLOPs of the style's torch network for one ``h`` x ``w`` frame (None if not a torch arch)."""
    if style.tensors is None:
        return None
    return _torch_arch_flops(style.manifest.arch, tuple(sorted(style.manifest.arch_config.items())), h, w)


@cache
def _torch_arch_flops(arch: str, cfg: tuple, h: int, w: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .registry import create_model

    # On the meta device nothing is computed: shapes only, so counting 720p takes milliseconds.
    with torch.device("meta"):
        net = create_model(arch, **dict(cfg))
        x = torch.zeros(1, 3, h, w)
    with FlopCounterMode(display=False) as fc, torch.inference_mode():
        net(x)
    return float(fc.get_total_flops())


def onnx_flops(model_bytes: bytes, h: int, w: int) -> float | None:
    """FLOPs of Conv / ConvTranspose / MatMul / Gemm nodes after shape inference at ``h`` x ``w``.

    Element-wise work is not counted (as with the usual GFLOP figures of these models).
    Returns None when shapes cannot be inferred, or without the ``onnx`` package (its shape
    inference does the work; ``pip install 'cartoon-cam[onnx]'``).
    """
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None

    model = onnx.load_from_string(model_bytes)
    inp = model.graph.input[0]
    dims = inp.type.tensor_type.shape.dim
    if len(dims) != 4:
        return None
    nhwc = dims[3].dim_value == 3 or dims[1].dim_value not in (0, 3)
    concrete = (1, h, w, 3) if nhwc else (1, 3, h, w)
    for d, v in zip(dims, concrete):
        d.ClearField("dim_param")
        d.dim_value = v
    try:
        model = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:
        return None
    shapes: dict[str, list[int]] = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        s = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = s
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0.0
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            wshape = inits.get(node.input[1]) or shapes.get(node.input[1])
            if not wshape:
                return None
            if node.op_type == "Conv":
                out = shapes.get(node.output[0])
                if not out or 0 in out:
                    return None
                total += 2.0 * math.prod(out) * math.prod(wshape[1:])
            else:
                x = shapes.get(node.input[0])
                if not x or 0 in x:
                    return None
                total += 2.0 * math.prod(x) * wshape[1] * math.prod(wshape[2:])  # w: (Cin, Cout/g, kh, kw)
        elif node.op_type in ("MatMul", "Gemm"):
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            if not a or not out or 0 in a or 0 in out:
                return None
            total += 2.0 * math.prod(out) * a[-1]
    return total


def openvino_flops(model_bytes: bytes, h: int, w: int, layout: str = "NCHW") -> float | None:
    """FLOPs of the convolution and MatMul nodes of an ONNX graph, counted on OpenVINO's model after
    reshaping it to one ``h`` x ``w`` frame (static shapes propagate through Resize/Shape
    subgraphs where ONNX shape inference gives up). None when OpenVINO can't reshape it; ImportError
    when OpenVINO isn't installed."""
    import openvino as ov

    model = ov.Core().read_model(model_bytes)
    try:
        model.reshape([1, 3, h, w] if layout == "NCHW" else [1, h, w, 3])
    except Exception:
        return None
    total = 0.0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind not in ("Convolution", "GroupConvolution", "ConvolutionBackpropData",
                        "GroupConvolutionBackpropData", "MatMul"):
            continue
        out, x, wt = (list(op.get_output_shape(0)), list(op.get_input_shape(0)), list(op.get_input_shape(1)))
        if kind == "Convolution":  # w: (Cout, Cin, kh, kw)
            total += 2.0 * math.prod(out) * math.prod(wt[1:])
        elif kind == "GroupConvolution":  # w: (G, Cout/G, Cin/G, kh, kw)
            total += 2.0 * math.prod(out) * math.prod(wt[2:])
        elif kind == "ConvolutionBackpropData":  # w: (Cin, Cout, kh, kw)
            total += 2.0 * math.prod(x) * wt[1] * math.prod(wt[2:])
        elif kind == "GroupConvolutionBackpropData":  # w: (G, Cin/G, Cout/G, kh, kw)
            total += 2.0 * math.prod(x) * wt[2] * math.prod(wt[3:])
        else:
            total += 2.0 * math.prod(out) * x[-1]
    return total


def style_flops(style: StyleFile, h: int, w: int) -> float | None:
    """FLOPs for one frame of the network at ``h`` x ``w`` (weightless styles: None). ONNX graphs
    are counted by ONNX shape inference, else (dynamic Resize subgraphs, no ``onnx`` package) by
    OpenVINO when it is installed."""
    if style.tensors is not None:
        try:
            return torch_flops(style, h, w)
        except ImportError:
            return None
    if style.onnx_bytes is not None:
        try:
            n = onnx_flops(style.onnx_bytes, h, w)
        except ImportError:
            n = None
        if n is None:
            try:
                n = openvino_flops(style.onnx_bytes, h, w, style.manifest.layout)
            except ImportError:
                return None
        return n
    return None
