"""A tiny MediaPipe image-segmentation model written at test time, so that the `--segment-model` route runs the real
MediaPipe ImageSegmenter (needs the optional `mediapipe` package, whose generated TFLite and metadata schemas write it).

The model: input [1, S, S, 3] float32, normalised by its metadata to (v − 127.5)/127.5 (as MediaPipe's own float
segmenters); a 1×1 convolution to 6 class scores, optionally plus a constant score map `prior` [S, S, 6]; output
[1, S, S, 6]. Its category mask is therefore argmax_c(x · weights[:, c] + bias[c] + prior[y, x, c]), computable here.
"""
import numpy as np

MEAN, STD = 127.5, 127.5


def class_scores(img, weights, bias, prior=None):
    """What the model computes for a uint8 RGB image [S, S, 3], in float64: [S, S, 6]."""
    x = (img.astype(np.float64) - MEAN) / STD
    scores = x @ np.asarray(weights, np.float64) + np.asarray(bias, np.float64)
    return scores if prior is None else scores + prior


def write(path, size, weights, bias, prior=None):
    """weights [3, 6], bias [6], prior [S, S, 6] or None → a .tflite file MediaPipe's ImageSegmenter accepts."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md
    from mediapipe.tasks.metadata import schema_py_generated as fb

    buffers = [fb.BufferT()]   # buffer 0: the empty sentinel TFLite requires

    def constant(array):
        b = fb.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(array, np.float32).tobytes(), np.uint8)
        buffers.append(b)
        return len(buffers) - 1

    def tensor(name, shape, buffer=0):
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), fb.TensorType.FLOAT32, buffer
        return t

    def opcode(code):
        c = fb.OperatorCodeT()
        c.builtinCode = c.deprecatedBuiltinCode = code
        c.version = 1
        return c

    def operator(index, inputs, output, options_type, options):
        op = fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = index, inputs, [output]
        op.builtinOptionsType, op.builtinOptions = options_type, options
        return op

    kernel = np.asarray(weights, np.float32).T[:, None, None, :]          # OHWI [6, 1, 1, 3]
    tensors = [tensor("image", [1, size, size, 3]), tensor("kernel", kernel.shape, constant(kernel)),
               tensor("bias", [6], constant(bias)), tensor("scores", [1, size, size, 6])]
    conv = fb.Conv2DOptionsT(padding=fb.Padding.VALID, strideW=1, strideH=1)
    operators = [operator(0, [0, 1, 2], 3, fb.BuiltinOptions.Conv2DOptions, conv)]
    codes = [opcode(fb.BuiltinOperator.CONV_2D)]
    if prior is not None:
        tensors += [tensor("prior", [1, size, size, 6], constant(prior)), tensor("scores_with_prior", [1, size, size, 6])]
        operators.append(operator(1, [3, 4], 5, fb.BuiltinOptions.AddOptions, fb.AddOptionsT()))
        codes.append(opcode(fb.BuiltinOperator.ADD))

    # Metadata: MediaPipe needs the input's normalisation for a float model.
    norm = md.ProcessUnitT()
    norm.optionsType = md.ProcessUnitOptions.NormalizationOptions
    norm.options = md.NormalizationOptionsT(mean=[MEAN], std=[STD])

    def image_content(colour_space):
        c = md.ContentT()
        c.contentPropertiesType = md.ContentProperties.ImageProperties
        c.contentProperties = md.ImagePropertiesT()
        c.contentProperties.colorSpace = colour_space
        return c

    subgraph_md = md.SubGraphMetadataT(
        inputTensorMetadata=[md.TensorMetadataT(name="image", content=image_content(md.ColorSpaceType.RGB),
                                                processUnits=[norm])],
        outputTensorMetadata=[md.TensorMetadataT(name="segmentation",
                                                 content=image_content(md.ColorSpaceType.GRAYSCALE))])
    meta = md.ModelMetadataT(name="avatard test segmenter", subgraphMetadata=[subgraph_md], minParserVersion="1.0.0")
    mb = flatbuffers.Builder(256)
    mb.Finish(meta.Pack(mb), file_identifier=b"M001")
    meta_buffer = fb.BufferT()
    meta_buffer.data = np.frombuffer(bytes(mb.Output()), np.uint8)
    buffers.append(meta_buffer)
    meta_ref = fb.MetadataT()
    meta_ref.name, meta_ref.buffer = "TFLITE_METADATA", len(buffers) - 1

    graph = fb.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [len(tensors) - 1], operators
    model = fb.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, codes, [graph], buffers
    model.description, model.metadata = "avatard test segmenter", [meta_ref]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with open(path, "wb") as f:
        f.write(bytes(builder.Output()))
