// The few ONNX protobuf messages the USE-lite graph needs, written by hand: ModelProto,
// GraphProto, NodeProto, AttributeProto, TensorProto and ValueInfoProto. Field numbers are
// onnx.proto3's (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto). Writing them here
// keeps a protobuf runtime out of the product's dependencies; only encoding is needed, and
// ONNX Runtime checks every model it loads.

/** onnx.TensorProto.DataType */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export interface Tensor {
  name: string;
  dataType: DataType;
  dims: number[];
  /** Little-endian bytes, as ONNX's raw_data holds them. */
  raw: Uint8Array;
}

export type AttributeValue = number | number[] | string | { float: number };

export interface Node {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A graph input or output: its element type and shape, a string for a symbolic dimension. */
export interface ValueInfo {
  name: string;
  dataType: DataType;
  shape: (number | string)[];
}

export interface Model {
  producer: string;
  opsets: { domain: string; version: number }[];
  graph: {
    name: string;
    nodes: Node[];
    initializers: Tensor[];
    inputs: ValueInfo[];
    outputs: ValueInfo[];
  };
}

/** A growable byte buffer with protobuf's wire encodings. */
class Writer {
  private buffer = new Uint8Array(1 << 16);
  length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  varint(value: number | bigint): void {
    // Negative int64 values are written as their 64-bit two's complement, ten bytes.
    let v = BigInt.asUintN(64, BigInt(value));
    this.reserve(10);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.buffer[this.length++] = byte;
    } while (v > 0n);
  }

  tag(field: number, wireType: 0 | 2 | 5): void {
    this.varint((field << 3) | wireType);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  string(field: number, text: string): void {
    this.bytes(field, new TextEncoder().encode(text));
  }

  message(field: number, write: (writer: Writer) => void): void {
    const inner = new Writer();
    write(inner);
    this.bytes(field, inner.finish());
  }

  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, 5);
    this.reserve(4);
    new DataView(this.buffer.buffer).setFloat32(this.length, value, true);
    this.length += 4;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

function writeTensor(w: Writer, tensor: Tensor): void {
  for (const dim of tensor.dims) w.int(1, dim); // dims
  w.int(2, tensor.dataType); // data_type
  w.string(8, tensor.name); // name
  w.bytes(9, tensor.raw); // raw_data
}

// onnx.AttributeProto.AttributeType
const FLOAT = 1;
const INT = 2;
const STRING = 3;
const INTS = 7;

function writeAttribute(w: Writer, name: string, value: AttributeValue): void {
  w.string(1, name);
  if (typeof value === "number") {
    w.int(3, value); // i
    w.int(20, INT);
  } else if (typeof value === "string") {
    w.string(4, value); // s
    w.int(20, STRING);
  } else if (Array.isArray(value)) {
    for (const item of value) w.int(8, item); // ints
    w.int(20, INTS);
  } else {
    w.float(2, value.float); // f
    w.int(20, FLOAT);
  }
}

function writeNode(w: Writer, node: Node): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name) w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => writeAttribute(a, name, value));
  }
  if (node.domain) w.string(7, node.domain);
}

function writeValueInfo(w: Writer, info: ValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    // TypeProto.tensor_type → elem_type, shape → dim (dim_value | dim_param)
    type.message(1, (tensor) => {
      tensor.int(1, info.dataType);
      tensor.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (d) => (typeof dim === "number" ? d.int(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

/** The model as ONNX protobuf bytes (IR version 8). */
export function encodeModel(model: Model): Uint8Array {
  const w = new Writer();
  w.int(1, 8); // ir_version
  w.string(2, model.producer); // producer_name
  w.message(7, (g) => {
    for (const node of model.graph.nodes) g.message(1, (n) => writeNode(n, node));
    g.string(2, model.graph.name);
    for (const tensor of model.graph.initializers) g.message(5, (t) => writeTensor(t, tensor));
    for (const input of model.graph.inputs) g.message(11, (v) => writeValueInfo(v, input));
    for (const output of model.graph.outputs) g.message(12, (v) => writeValueInfo(v, output));
  });
  for (const opset of model.opsets) {
    w.message(8, (o) => {
      if (opset.domain) o.string(1, opset.domain);
      o.int(2, opset.version);
    });
  }
  return w.finish();
}
