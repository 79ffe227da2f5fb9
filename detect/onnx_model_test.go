package detect

import (
	"encoding/binary"
	"math"
)

// A minimal protobuf encoder, enough to write ONNX models by hand: the
// tests build their own tiny face-embedding models instead of downloading
// weights. Field numbers are from onnx/onnx.proto.

type pb []byte

func (b pb) tag(field, wire int) pb { return binary.AppendUvarint(b, uint64(field<<3|wire)) }

func (b pb) varint(field int, v int64) pb { return binary.AppendUvarint(b.tag(field, 0), uint64(v)) }

func (b pb) bytes(field int, v []byte) pb {
	b = binary.AppendUvarint(b.tag(field, 2), uint64(len(v)))
	return append(b, v...)
}

func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }

// ONNX enums.
const (
	onnxFloat   = 1 // TensorProto.DataType FLOAT
	onnxAttrInt = 2 // AttributeProto.AttributeType INT
)

// onnxNode is a NodeProto.
type onnxNode struct {
	op      string
	inputs  []string
	outputs []string
	intAttr map[string]int64
}

func (n onnxNode) encode() pb {
	var b pb
	for _, in := range n.inputs {
		b = b.str(1, in)
	}
	for _, out := range n.outputs {
		b = b.str(2, out)
	}
	b = b.str(3, n.op+"_"+n.outputs[0])
	b = b.str(4, n.op)
	for name, v := range n.intAttr {
		var a pb
		a = a.str(1, name)
		a = a.varint(3, v)
		a = a.varint(20, onnxAttrInt)
		b = b.bytes(5, a)
	}
	return b
}

// valueInfo is a ValueInfoProto of a float tensor.
func valueInfo(name string, shape ...int64) pb {
	var dims pb
	for _, d := range shape {
		dims = dims.bytes(1, pb(nil).varint(1, d)) // TensorShapeProto.dim{dim_value}
	}
	var tensor pb
	tensor = tensor.varint(1, onnxFloat) // elem_type
	tensor = tensor.bytes(2, dims)       // shape
	typ := pb(nil).bytes(1, tensor)      // TypeProto.tensor_type
	return pb(nil).str(1, name).bytes(2, typ)
}

// initializer is a float TensorProto with raw data.
func initializer(name string, values []float32, dims ...int64) pb {
	var b pb
	for _, d := range dims {
		b = b.varint(1, d)
	}
	b = b.varint(2, onnxFloat)
	b = b.str(8, name)
	raw := make([]byte, 0, 4*len(values))
	for _, v := range values {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return b.bytes(9, raw)
}

// onnxModel is a ModelProto (IR version 7, opset 11) with one graph.
func onnxModel(nodes []onnxNode, inits []pb, input, output pb) []byte {
	var g pb
	for _, n := range nodes {
		g = g.bytes(1, n.encode())
	}
	g = g.str(2, "vigil-test")
	for _, in := range inits {
		g = g.bytes(5, in)
	}
	g = g.bytes(11, input)
	g = g.bytes(12, output)
	var m pb
	m = m.varint(1, 7)                               // ir_version
	m = m.str(2, "vigil detect tests")               // producer_name
	m = m.bytes(7, g)                                // graph
	m = m.bytes(8, pb(nil).str(1, "").varint(2, 11)) // opset_import
	return m
}

// projectionModel is an "embedding" model: a [1,1,h,w] grey face,
// flattened and multiplied by a fixed h·w×dim matrix (a random
// projection, which keeps distances roughly).
func projectionModel(w, h, dim int) ([]byte, []float32) {
	weights := make([]float32, w*h*dim)
	x := uint32(2463534242)
	for i := range weights { // xorshift: fixed and portable
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		weights[i] = float32(x)/float32(math.MaxUint32)*2 - 1
	}
	model := onnxModel(
		[]onnxNode{
			{op: "Flatten", inputs: []string{"input"}, outputs: []string{"flat"}, intAttr: map[string]int64{"axis": 1}},
			{op: "MatMul", inputs: []string{"flat", "W"}, outputs: []string{"embedding"}},
		},
		[]pb{initializer("W", weights, int64(w*h), int64(dim))},
		valueInfo("input", 1, 1, int64(h), int64(w)),
		valueInfo("embedding", 1, int64(dim)),
	)
	return model, weights
}

// colourModel averages each colour channel of a [1,3,h,w] input: a
// 3-element "embedding".
func colourModel(w, h int) []byte {
	return onnxModel(
		[]onnxNode{
			{op: "GlobalAveragePool", inputs: []string{"input"}, outputs: []string{"pooled"}},
			{op: "Flatten", inputs: []string{"pooled"}, outputs: []string{"embedding"}, intAttr: map[string]int64{"axis": 1}},
		},
		nil,
		valueInfo("input", 1, 3, int64(h), int64(w)),
		valueInfo("embedding", 1, 3),
	)
}
