"""The names of the fine-tuning objectives: a light module, so `xalign --help` lists them without torch
(the losses themselves are in losses.py)."""

OBJECTIVES = ("both", "jsd", "nce", "doc-doc")
