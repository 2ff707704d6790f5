package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
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
	SuffixQuantStateFP4  = ".quant_state.bitsandbytes__fp4"
)

// stateSuffixes are the quant-state names, one per code table.
var stateSuffixes = map[nf4.QuantType]string{nf4.NF4: SuffixQuantState, nf4.FP4: SuffixQuantStateFP4}

// companion suffixes, longest first so ".nested_absmax" is not taken for
// ".absmax".
var companions = []string{SuffixQuantState, SuffixQuantStateFP4, SuffixNestedQuantMap, SuffixNestedAbsmax, SuffixQuantMap, SuffixAbsmax}

// quantState is the JSON bitsandbytes packs into the quant_state tensor.
type quantState struct {
	shape     []int
	blockSize int
	quant     nf4.QuantType
	double    bool
	dtype     DType // the weight's dtype before quantization
	offset    float32
}

func (q *quantState) equal(o quantState) bool {
	return slices.Equal(q.shape, o.shape) && q.blockSize == o.blockSize && q.quant == o.quant &&
		q.double == o.double && q.dtype == o.dtype && math.Float32bits(q.offset) == math.Float32bits(o.offset)
}

// values returns the number of values the state describes.
func (q *quantState) values() int {
	n := 1
	for _, d := range q.shape {
		n *= d
	}
	return n
}

func (q *quantState) blocks() int { return (q.values() + q.blockSize - 1) / q.blockSize }

// flat returns the [rows, cols] view nf4 keeps: the last dimension and the
// product of the others.
func (q *quantState) flat() (rows, cols int) {
	rows = 1
	for _, d := range q.shape[:len(q.shape)-1] {
		rows *= d
	}
	return rows, q.shape[len(q.shape)-1]
}

// json renders the state exactly as Python's json.dumps writes
// QuantState.as_dict: default separators, bitsandbytes' key order.
func (q *quantState) json() []byte {
	dims := make([]string, len(q.shape))
	for i, d := range q.shape {
		dims[i] = fmt.Sprint(d)
	}
	s := fmt.Sprintf(`{"quant_type": %q, "blocksize": %d, "dtype": %q, "shape": [%s]`,
		q.quant.String(), q.blockSize, q.dtype.torchName(), strings.Join(dims, ", "))
	if q.double {
		s += fmt.Sprintf(`, "nested_blocksize": %d, "nested_dtype": "float32", "nested_offset": %s`,
			cpu.NestedBlockSize, pyFloat(float64(q.offset)))
	}
	return []byte(s + "}")
}

func stateOf(t *nf4.Tensor, orig DType) quantState {
	w := t.Weights()
	return quantState{shape: t.Shape(), blockSize: t.BlockSize(), quant: t.QuantType(),
		double: t.DoubleQuant(), dtype: orig, offset: w.Scales.Offset}
}

// part is one of the tensors of a 4-bit weight in the bitsandbytes layout.
type part struct {
	suffix string
	dtype  DType
	shape  []int
	bytes  func(t *nf4.Tensor) []byte
	field  string // what the quant state calls it, for errors
}

func (q *quantState) parts() []part {
	n, blocks := q.values(), q.blocks()
	ps := []part{{"", U8, []int{(n + 1) / 2, 1}, packedHighFirst, "packed 4-bit codes"}}
	if q.double {
		ps = append(ps, part{SuffixAbsmax, U8, []int{blocks}, func(t *nf4.Tensor) []byte {
			return append([]byte(nil), t.Weights().Scales.Q...)
		}, "8-bit codes of the scales (one per block)"})
	} else {
		ps = append(ps, part{SuffixAbsmax, F32, []int{blocks}, func(t *nf4.Tensor) []byte {
			return EncodeFloats(nil, t.Absmax(), F32)
		}, "absmax (one per block)"})
	}
	table := q.quant.Values()
	ps = append(ps, part{SuffixQuantMap, F32, []int{16}, func(*nf4.Tensor) []byte {
		return EncodeFloats(nil, table[:], F32)
	}, "code table"})
	if q.double {
		nested := (blocks + cpu.NestedBlockSize - 1) / cpu.NestedBlockSize
		ps = append(ps,
			part{SuffixNestedAbsmax, F32, []int{nested}, func(t *nf4.Tensor) []byte {
				return EncodeFloats(nil, t.Weights().Scales.Nested, F32)
			}, "nested absmax (one per 256 blocks)"},
			part{SuffixNestedQuantMap, F32, []int{256}, func(t *nf4.Tensor) []byte {
				return EncodeFloats(nil, t.Weights().Scales.Map[:], F32)
			}, "nested 8-bit map"})
	}
	js := q.json()
	return append(ps, part{stateSuffixes[q.quant], U8, []int{len(js)}, func(*nf4.Tensor) []byte { return js }, "quant state"})
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
// "model.layers.0.mlp.up_proj.weight") in the bitsandbytes layout: the
// packed codes, absmax (or the double-quantized scales), the code table
// and the quant state (".quant_state.bitsandbytes__nf4", or "__fp4" for
// FP4). orig is the weight's dtype before quantization, recorded in the
// quant state: F32, F16 or BF16.
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

// LazyNF4Entries is NF4Entries for an NF4 weight [rows cols] that is only
// made, by quantize, when the first of its tensors is written, and
// released after the last: a checkpoint is quantized with one weight in
// memory at a time. With double quantization the quant state records the
// scales' mean, so offset must be the value quantize will produce; a
// mismatch is an error.
func LazyNF4Entries(name string, rows, cols, blockSize int, double bool, offset float32, orig DType, quantize func() (*nf4.Tensor, error)) []Entry {
	st := quantState{shape: []int{rows, cols}, blockSize: blockSize, quant: nf4.NF4, double: double, dtype: orig, offset: offset}
	return lazyEntries(name, st, quantize)
}

func lazyEntries(name string, st quantState, quantize func() (*nf4.Tensor, error)) []Entry {
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
				if quantize == nil {
					return errors.New("no quantize function to make the weight")
				}
				if cur == nil {
					t, err := quantize()
					if err != nil {
						return err
					}
					if got := stateOf(t, st.dtype); !got.equal(st) {
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
// key order or spacing. want is the code table the tensor's name implies.
func parseQuantState(file, name string, js []byte, want nf4.QuantType) (quantState, error) {
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
	case *raw.QuantType != want.String():
		if _, err := cpu.ParseQuantType(*raw.QuantType); err != nil {
			return bad("quant_type: %v", err)
		}
		return bad("quant_type %q, but the tensor is named for %q", *raw.QuantType, want)
	case !cpu.ValidBlockSize(*raw.BlockSize):
		return bad("blocksize %d not supported: want a power of two from %d to %d", *raw.BlockSize, cpu.MinBlockSize, cpu.MaxBlockSize)
	case len(raw.Shape) == 0:
		return bad("shape []: want at least one dimension")
	}
	q := quantState{shape: raw.Shape, blockSize: *raw.BlockSize, quant: want}
	rows := 1
	for _, d := range q.shape[:len(q.shape)-1] {
		if d <= 0 || rows > math.MaxInt32/d {
			return bad("shape %v: dimensions must be positive, and all but the last hold at most %d values", q.shape, math.MaxInt32)
		}
		rows *= d
	}
	if err := cpu.CheckLayout(rows, q.shape[len(q.shape)-1], q.blockSize); err != nil {
		return bad("shape %v: %v", q.shape, err)
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
			return bad("nested_blocksize %d not supported: want %d", *raw.NestedBlockSize, cpu.NestedBlockSize)
		case *raw.NestedDType != "float32":
			return bad("nested_dtype %q not supported: want \"float32\"", *raw.NestedDType)
		case math.IsNaN(*raw.NestedOffset) || math.IsInf(*raw.NestedOffset, 0) || math.Abs(*raw.NestedOffset) > math.MaxFloat32:
			return bad("nested_offset %v is not a finite float32", *raw.NestedOffset)
		}
		q.double = true
		q.offset = float32(*raw.NestedOffset)
	}
	return q, nil
}

// NF4Weights returns the names of the 4-bit weights in the checkpoint (the
// tensors that have a bitsandbytes quant state, NF4 or FP4), in file order.
func (c *Checkpoint) NF4Weights() []string {
	var names []string
	for _, t := range c.Tensors() {
		if base, _, ok := cutStateSuffix(t.Name); ok && c.Has(base) {
			names = append(names, base)
		}
	}
	return names
}

// cutStateSuffix splits a quant-state tensor's name into its weight's
// name and code table.
func cutStateSuffix(name string) (string, nf4.QuantType, bool) {
	for q, s := range stateSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok {
			return base, q, true
		}
	}
	return "", 0, false
}

// IsNF4 reports whether name is a 4-bit weight (NF4 or FP4) stored in the
// bitsandbytes layout.
func (c *Checkpoint) IsNF4(name string) bool {
	return c.Has(name+SuffixQuantState) || c.Has(name+SuffixQuantStateFP4)
}

// NF4 reads the 4-bit weight (NF4 or FP4) stored under name in the
// bitsandbytes layout, checking every companion tensor against the quant
// state, and returns it with the dtype the weight had before quantization.
// The packed codes may be stored in any dtype (bitsandbytes'
// quant_storage: uint8, or bfloat16/float16/float32 for FSDP); their bytes
// are read as they are, never converted. Any shape is read, blocks
// spanning rows and a partial last block included.
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
	p := nf4.Parts{Shape: st.shape, BlockSize: st.blockSize, QuantType: st.quant, Codes: swapNibbles(packed)}
	file := c.fileOf(name)
	scalesName := name + SuffixAbsmax
	if st.double {
		q, _, _ := c.Raw(scalesName)
		p.Q, p.Offset = q, st.offset
		if p.Nested, _, err = c.Float32s(name + SuffixNestedAbsmax); err != nil {
			return nil, "", err
		}
		if p.Map, _, err = c.Float32s(name + SuffixNestedQuantMap); err != nil {
			return nil, "", err
		}
		if err := c.checkNested(name, p.Nested, p.Map); err != nil {
			return nil, "", err
		}
	} else if p.Absmax, _, err = c.Float32s(scalesName); err != nil {
		return nil, "", err
	}
	t, err := nf4.Assemble(p)
	if err != nil {
		return nil, "", tensorErr(file, scalesName, "%v", err)
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
// tensor is present with the dtype and size the state implies, and that
// the quant_map is the state's code table.
func (c *Checkpoint) nf4State(name string) (quantState, error) {
	file := c.fileOf(name)
	var found []nf4.QuantType
	for _, q := range cpu.QuantTypes() {
		if c.Has(name + stateSuffixes[q]) {
			found = append(found, q)
		}
	}
	switch len(found) {
	case 0:
		return quantState{}, tensorErr(file, name, "no %s: not a 4-bit weight, or its quant state is missing", name+SuffixQuantState)
	case 2:
		return quantState{}, tensorErr(file, name, "has both %s and %s: one weight cannot have two code tables", SuffixQuantState, SuffixQuantStateFP4)
	}
	stateName := name + stateSuffixes[found[0]]
	js, info, err := c.Raw(stateName)
	if err != nil {
		return quantState{}, err
	}
	if info.DType != U8 {
		return quantState{}, tensorErr(info.File, stateName, "dtype %s, want U8 (the UTF-8 bytes of the quant state JSON)", info.DType)
	}
	st, err := parseQuantState(info.File, stateName, js, found[0])
	if err != nil {
		return st, err
	}
	if !c.Has(name) {
		return st, tensorErr(file, name, "has a quant state but no packed weight")
	}
	for _, p := range st.parts() {
		if p.suffix == stateSuffixes[st.quant] {
			continue
		}
		t, ok := c.Info(name + p.suffix)
		if !ok {
			return st, tensorErr(file, name+p.suffix, "missing: the quant state of %s (%s) needs its %s", name, quantDesc(st), p.field)
		}
		want := 1
		for _, d := range p.shape {
			want *= d
		}
		if p.suffix == "" {
			// bitsandbytes' quant_storage: the packed bytes viewed as any
			// dtype, [bytes/itemsize, 1]; only the byte count matters.
			if t.DType.Size() == 0 {
				return st, tensorErr(t.File, t.Name, "dtype %s: the packed codes must be stored in a dtype of known size", t.DType)
			}
			if t.Size != int64(want) {
				return st, tensorErr(t.File, t.Name, "%s %v holds %d bytes of packed codes, want %d ((%d values + 1) / 2) for quant state %s",
					t.DType, t.Shape, t.Size, want, st.values(), quantDesc(st))
			}
			continue
		}
		switch {
		case p.suffix == SuffixAbsmax && !st.double && t.DType != F32 && t.DType.IsFloat():
			// bitsandbytes writes F32; a float absmax of another width is still usable
		case t.DType != p.dtype:
			return st, tensorErr(t.File, t.Name, "dtype %s, want %s for the %s of quant state %s", t.DType, p.dtype, p.field, quantDesc(st))
		}
		if t.Elements() != want {
			return st, tensorErr(t.File, t.Name, "shape %v holds %d values, want %d (the %s) for quant state %s", t.Shape, t.Elements(), want, p.field, quantDesc(st))
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
	table := st.quant.Values()
	for i, v := range qm {
		if !(math.Abs(float64(v-table[i])) <= 1e-6) {
			return st, tensorErr(file, name+SuffixQuantMap, "entry %d is %v, not the %s code table's %v", i, v, strings.ToUpper(st.quant.String()), table[i])
		}
	}
	return st, nil
}

func quantDesc(st quantState) string {
	dq := ""
	if st.double {
		dq = ", double-quantized"
	}
	return fmt.Sprintf("%s %v block %d%s", strings.ToUpper(st.quant.String()), st.shape, st.blockSize, dq)
}
