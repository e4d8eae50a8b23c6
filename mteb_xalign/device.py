"""Device and precision choice, shared by every adapter."""

from __future__ import annotations


def resolve_device(device: str | int | None = None) -> str:
    """`None`/"auto" picks cuda, then mps, then cpu; an int (as `mteb run --device 0` passes) means cuda:N."""
    import torch  # deferred: torch is slow to import

    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        return f"cuda:{int(device)}"
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return str(device)


def resolve_dtype(device: str, precision: str | None = None):
    """float32 on CPU; on a GPU bf16 where supported, else fp16, unless `precision` says otherwise."""
    import torch  # deferred: torch is slow to import

    names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16,
             "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if precision not in (None, "", "auto"):
        if precision not in names:
            raise ValueError(f"unknown precision {precision!r}; use one of {sorted(names)} or 'auto'")
        return names[precision]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32
