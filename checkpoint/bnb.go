package checkpoint

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/cpu"
)

// Suffixes of the tensors bitsandbytes stores next to a 4-bit weight W.
const (
	SuffixAbsmax         = ".absmax"
	SuffixQuantMap       = ".quant_map"
	SuffixNestedAbsmax   = ".nested_absmax"
	SuffixNestedQuantMap = ".nested_quant_map"
	SuffixQuantState     = ".quant_state.bitsandbytes__nf4"
)

// companion suffixes, longest first so ".nested_absmax" is not taken for
// ".absmax".
var companions = []string{SuffixQuantState, SuffixNestedQuantMap, SuffixNestedAbsmax, SuffixQuantMap, SuffixAbsmax,
	".quant_state.bitsandbytes__fp4"}

// quantState is the JSON bitsandbytes packs into the quant_state tensor.
type quantState struct {
	rows, cols, blockSize int
	double                bool
	dtype                 DType // the weight's dtype before quantization
	offset                float32
}

// json renders the state exactly as Python's json.dumps writes
// QuantState.as_dict: default separators, bitsandbytes' key order.
func (q *quantState) json() []byte {
	s := fmt.Sprintf(`{"quant_type": "nf4", "blocksize": %d, "dtype": %q, "shape": [%d, %d]`,
		q.blockSize, q.dtype.torchName(), q.rows, q.cols)
	if q.double {
		s += fmt.Sprintf(`, "nested_blocksize": %d, "nested_dtype": "float32", "nested_offset": %s`,
			cpu.NestedBlockSize, pyFloat(float64(q.offset)))
	}
	return []byte(s + "}")
}

func stateOf(t *nf4.Tensor, orig DType) quantState {
	w := t.Weights()
	return quantState{rows: t.Rows(), cols: t.Cols(), blockSize: t.BlockSize(),
		double: t.DoubleQuant(), dtype: orig, offset: w.Scales.Offset}
}

// part is one of the tensors of an NF4 weight in the bitsandbytes layout.
type part struct {
	suffix string
	dtype  DType
	shape  []int
	bytes  func(t *nf4.Tensor) []byte
}

func (q *quantState) parts() []part {
	n := q.rows * q.cols
	blocks := n / q.blockSize
	ps := []part{{"", U8, []int{(n + 1) / 2, 1}, packedHighFirst}}
	if q.double {
		ps = append(ps, part{SuffixAbsmax, U8, []int{blocks}, func(t *nf4.Tensor) []byte {
			return append([]byte(nil), t.Weights().Scales.Q...)
		}})
	} else {
		ps = append(ps, part{SuffixAbsmax, F32, []int{blocks}, func(t *nf4.Tensor) []byte {
			return EncodeFloats(nil, t.Absmax(), F32)
		}})
	}
	ps = append(ps, part{SuffixQuantMap, F32, []int{16}, func(*nf4.Tensor) []byte {
		return EncodeFloats(nil, nf4.Codebook[:], F32)
	}})
	if q.double {
		nested := (blocks + cpu.NestedBlockSize - 1) / cpu.NestedBlockSize
		ps = append(ps,
			part{SuffixNestedAbsmax, F32, []int{nested}, func(t *nf4.Tensor) []byte {
				return EncodeFloats(nil, t.Weights().Scales.Nested, F32)
			}},
			part{SuffixNestedQuantMap, F32, []int{256}, func(t *nf4.Tensor) []byte {
				return EncodeFloats(nil, t.Weights().Scales.Map[:], F32)
			}})
	}
	js := q.json()
	return append(ps, part{SuffixQuantState, U8, []int{len(js)}, func(*nf4.Tensor) []byte { return js }})
}

// packedHighFirst converts our codes (element 2i low) to bitsandbytes'
// order (element 2i high).
func packedHighFirst(t *nf4.Tensor) []byte {
	return swapNibbles(t.Codes())
}

func swapNibbles(src []byte) []byte {
	out := make([]byte, len(src))
	for i, b := range src {
		out[i] = b>>4 | b<<4
	}
	return out
}

// NF4Entries returns the tensors that store t under name (e.g.
// "model.layers.0.mlp.up_proj.weight") in the bitsandbytes layout. orig
// is the weight's dtype before quantization, recorded in the quant state:
// F32, F16 or BF16.
func NF4Entries(name string, t *nf4.Tensor, orig DType) ([]Entry, error) {
	if err := checkNF4Entries(name, t, orig); err != nil {
		return nil, err
	}
	st := stateOf(t, orig)
	var es []Entry
	for _, p := range st.parts() {
		b := p.bytes(t)
		es = append(es, Entry{Name: name + p.suffix, DType: p.dtype, Shape: p.shape, Data: b, Size: int64(len(b))})
	}
	return es, nil
}

// LazyNF4Entries is NF4Entries for a weight that is only made, by
// quantize, when the first of its tensors is written, and released after
// the last: a checkpoint is quantized with one weight in memory at a time.
// With double quantization the quant state records the scales' mean, so
// offset must be the value quantize will produce; a mismatch is an error.
func LazyNF4Entries(name string, rows, cols, blockSize int, double bool, offset float32, orig DType, quantize func() (*nf4.Tensor, error)) []Entry {
	st := quantState{rows: rows, cols: cols, blockSize: blockSize, double: double, dtype: orig, offset: offset}
	parts := st.parts()
	var cur *nf4.Tensor
	left := len(parts)
	var es []Entry
	for _, p := range parts {
		size := int64(p.dtype.Size())
		for _, d := range p.shape {
			size *= int64(d)
		}
		es = append(es, Entry{Name: name + p.suffix, DType: p.dtype, Shape: p.shape, Size: size,
			Fill: func(w io.Writer) error {
				if cur == nil {
					t, err := quantize()
					if err != nil {
						return err
					}
					if got := stateOf(t, orig); got != st {
						return fmt.Errorf("quantized weight %v differs from its plan", t)
					}
					cur = t
				}
				_, err := w.Write(p.bytes(cur))
				if left--; left == 0 {
					cur = nil
				}
				return err
			}})
	}
	return es
}

// parseQuantState reads and checks the JSON bitsandbytes wrote, in any
// key order or spacing.
func parseQuantState(file, name string, js []byte) (quantState, error) {
	var raw struct {
		QuantType       *string  `json:"quant_type"`
		BlockSize       *int     `json:"blocksize"`
		DType           *string  `json:"dtype"`
		Shape           []int    `json:"shape"`
		NestedBlockSize *int     `json:"nested_blocksize"`
		NestedDType     *string  `json:"nested_dtype"`
		NestedOffset    *float64 `json:"nested_offset"`
	}
	bad := func(format string, args ...any) (quantState, error) {
		return quantState{}, tensorErr(file, name, "quant state: "+format, args...)
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		return bad("malformed JSON: %v", err)
	}
	switch {
	case raw.QuantType == nil || raw.BlockSize == nil || raw.DType == nil || raw.Shape == nil:
		return bad("needs quant_type, blocksize, dtype and shape")
	case *raw.QuantType != "nf4":
		return bad("quant type %q not supported: want \"nf4\"", *raw.QuantType)
	case !cpu.ValidBlockSize(*raw.BlockSize):
		return bad("block size %d not supported: want a power of two from %d to %d", *raw.BlockSize, cpu.MinBlockSize, cpu.MaxBlockSize)
	case len(raw.Shape) != 2:
		return bad("shape %v: want a 2-D weight [out, in]", raw.Shape)
	}
	q := quantState{rows: raw.Shape[0], cols: raw.Shape[1], blockSize: *raw.BlockSize}
	if err := cpu.CheckShape(q.rows, q.cols, q.blockSize); err != nil {
		return bad("%v", err)
	}
	dt, ok := dtypeFromTorch(*raw.DType)
	if !ok {
		return bad("dtype %q not supported: want float32, float16 or bfloat16", *raw.DType)
	}
	q.dtype = dt
	nested := raw.NestedBlockSize != nil || raw.NestedDType != nil || raw.NestedOffset != nil
	if nested {
		switch {
		case raw.NestedBlockSize == nil || raw.NestedDType == nil || raw.NestedOffset == nil:
			return bad("double quantization needs nested_blocksize, nested_dtype and nested_offset")
		case *raw.NestedBlockSize != cpu.NestedBlockSize:
			return bad("nested block size %d not supported: want %d", *raw.NestedBlockSize, cpu.NestedBlockSize)
		case *raw.NestedDType != "float32":
			return bad("nested dtype %q not supported: want \"float32\"", *raw.NestedDType)
		case math.IsNaN(*raw.NestedOffset) || math.IsInf(*raw.NestedOffset, 0) || math.Abs(*raw.NestedOffset) > math.MaxFloat32:
			return bad("nested offset %v is not a finite float32", *raw.NestedOffset)
		}
		q.double = true
		q.offset = float32(*raw.NestedOffset)
	}
	return q, nil
}

// NF4Weights returns the names of the NF4 weights in the checkpoint (the
// tensors that have a bitsandbytes quant state), in file order.
func (c *Checkpoint) NF4Weights() []string {
	var names []string
	for _, t := range c.Tensors() {
		if base, ok := strings.CutSuffix(t.Name, SuffixQuantState); ok && c.Has(base) {
			names = append(names, base)
		}
	}
	return names
}

// IsNF4 reports whether name is an NF4 weight stored in the bitsandbytes
// layout.
func (c *Checkpoint) IsNF4(name string) bool { return c.Has(name + SuffixQuantState) }

// NF4 reads the NF4 weight stored under name in the bitsandbytes layout,
// checking every companion tensor against the quant state, and returns it
// with the dtype the weight had before quantization.
func (c *Checkpoint) NF4(name string) (_ *nf4.Tensor, _ DType, err error) {
	if c == nil {
		return nil, "", &Error{Tensor: name, Err: errNilCheckpoint}
	}
	defer guardMapped(&err)()
	st, err := c.nf4State(name)
	if err != nil {
		return nil, "", err
	}
	packed, _, _ := c.Raw(name)
	codes := swapNibbles(packed)
	file := c.fileOf(name)
	var t *nf4.Tensor
	if st.double {
		q, _, _ := c.Raw(name + SuffixAbsmax)
		nested, _, err := c.Float32s(name + SuffixNestedAbsmax)
		if err != nil {
			return nil, "", err
		}
		qmap, _, err := c.Float32s(name + SuffixNestedQuantMap)
		if err != nil {
			return nil, "", err
		}
		if err := c.checkNested(name, nested, qmap); err != nil {
			return nil, "", err
		}
		t, err = nf4.FromDoubleQuantParts(st.rows, st.cols, st.blockSize, codes, q, nested, st.offset, qmap)
		if err != nil {
			return nil, "", tensorErr(file, name+SuffixAbsmax, "%v", err)
		}
	} else {
		absmax, _, err := c.Float32s(name + SuffixAbsmax)
		if err != nil {
			return nil, "", err
		}
		t, err = nf4.FromParts(st.rows, st.cols, st.blockSize, codes, absmax)
		if err != nil {
			return nil, "", tensorErr(file, name+SuffixAbsmax, "%v", err)
		}
	}
	return t, st.dtype, nil
}

func (c *Checkpoint) fileOf(name string) string {
	if t, ok := c.Info(name); ok {
		return t.File
	}
	return c.Path
}

// nf4State parses the quant state of name and checks that every companion
// tensor is present with the dtype and shape the state implies, and that
// the quant_map is the NF4 codebook.
func (c *Checkpoint) nf4State(name string) (quantState, error) {
	file := c.fileOf(name)
	js, _, err := c.Raw(name + SuffixQuantState)
	if err != nil {
		if c.Has(name + ".quant_state.bitsandbytes__fp4") {
			return quantState{}, tensorErr(file, name, "quant type fp4 not supported: want nf4")
		}
		return quantState{}, tensorErr(file, name, "no %s: not an NF4 weight, or its quant state is missing", name+SuffixQuantState)
	}
	st, err := parseQuantState(file, name+SuffixQuantState, js)
	if err != nil {
		return st, err
	}
	if !c.Has(name) {
		return st, tensorErr(file, name, "has a quant state but no packed weight")
	}
	for _, p := range st.parts() {
		if p.suffix == SuffixQuantState {
			continue
		}
		t, ok := c.Info(name + p.suffix)
		if !ok {
			return st, tensorErr(file, name+p.suffix, "missing: the quant state of %s (double quant %v) needs it", name, st.double)
		}
		want := 1
		for _, d := range p.shape {
			want *= d
		}
		switch {
		case p.suffix == SuffixAbsmax && !st.double && t.DType != F32 && t.DType.IsFloat():
			// bitsandbytes writes F32; a float absmax of another width is still usable
		case t.DType != p.dtype:
			return st, tensorErr(t.File, t.Name, "dtype %s, want %s for quant state %s", t.DType, p.dtype, quantDesc(st))
		}
		if t.Elements() != want {
			return st, tensorErr(t.File, t.Name, "shape %v holds %d values, want %d for quant state %s", t.Shape, t.Elements(), want, quantDesc(st))
		}
	}
	if !st.double {
		for _, s := range []string{SuffixNestedAbsmax, SuffixNestedQuantMap} {
			if c.Has(name + s) {
				return st, tensorErr(file, name+s, "present, but the quant state has no nested_* fields (not double-quantized)")
			}
		}
	}
	qm, _, err := c.Float32s(name + SuffixQuantMap)
	if err != nil {
		return st, err
	}
	for i, v := range qm {
		if !(math.Abs(float64(v-nf4.Codebook[i])) <= 1e-6) {
			return st, tensorErr(file, name+SuffixQuantMap, "entry %d is %v, not the NF4 codebook's %v", i, v, nf4.Codebook[i])
		}
	}
	return st, nil
}

func quantDesc(st quantState) string {
	dq := ""
	if st.double {
		dq = ", double-quantized"
	}
	return fmt.Sprintf("[%d %d] block %d%s", st.rows, st.cols, st.blockSize, dq)
}
