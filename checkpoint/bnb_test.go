package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/cpu"
)

// The JSON strings below are exactly what Python's json.dumps writes for
// bitsandbytes' QuantState.as_dict(packed=True).
const (
	bnbState   = `{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 64]}`
	bnbStateDQ = `{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 1.25}`
)

// bnbCodes gives element i of the 2×64 test weight its code: row 0 counts
// up through the codebook, row 1 down.
func bnbCode(i int) uint8 {
	if i < 64 {
		return uint8(i % 16)
	}
	return uint8(15 - i%16)
}

// bnbPacked packs the codes as bitsandbytes does: element 2j in the HIGH
// nibble of byte j.
func bnbPacked() []byte {
	b := make([]byte, 64)
	for j := range b {
		b[j] = bnbCode(2*j)<<4 | bnbCode(2*j+1)
	}
	return b
}

func f32le(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// bnbFile lays a safetensors file out by hand: the header as a JSON
// string (keys in an order and spacing of its own), then the data.
func bnbFile(dq bool) []byte {
	packed := bnbPacked()
	qmap := f32le(nf4.Codebook[:]...)
	var header string
	var data []byte
	if !dq {
		absmax := f32le(0.5, 2)
		state := []byte(bnbState)
		header = fmt.Sprintf(`{"__metadata__": {"format": "pt"}, "l.weight.quant_state.bitsandbytes__nf4": {"dtype": "U8", "shape": [%d], "data_offsets": [%d, %d]}, `+
			`"l.weight": {"shape": [64, 1], "dtype": "U8", "data_offsets": [0, 64]}, "l.weight.absmax": {"dtype": "F32", "shape": [2], "data_offsets": [64, 72]}, `+
			`"l.weight.quant_map": {"dtype": "F32", "shape": [16], "data_offsets": [72, 136]}}`, len(state), 136, 136+len(state))
		data = slices.Concat(packed, absmax, qmap, state)
	} else {
		dyn := cpu.DynamicMap()
		state := []byte(bnbStateDQ)
		header = fmt.Sprintf(`{"l.weight":{"dtype":"U8","shape":[64,1],"data_offsets":[0,64]},"l.weight.absmax":{"dtype":"U8","shape":[2],"data_offsets":[64,66]},`+
			`"l.weight.nested_absmax":{"dtype":"F32","shape":[1],"data_offsets":[66,70]},"l.weight.nested_quant_map":{"dtype":"F32","shape":[256],"data_offsets":[70,1094]},`+
			`"l.weight.quant_map":{"dtype":"F32","shape":[16],"data_offsets":[1094,1158]},"l.weight.quant_state.bitsandbytes__nf4":{"dtype":"U8","shape":[%d],"data_offsets":[1158,%d]}}`,
			len(state), 1158+len(state))
		data = slices.Concat(packed, []byte{200, 100}, f32le(0.75), f32le(dyn[:]...), qmap, state)
	}
	return rawFile(header, data)
}

// bnbWant computes the expected values from the published format by hand.
func bnbWant(dq bool) []float32 {
	scales := []float32{0.5, 2}
	if dq {
		dyn := cpu.DynamicMap()
		scales = []float32{dyn[200]*0.75 + 1.25, dyn[100]*0.75 + 1.25}
	}
	out := make([]float32, 128)
	for i := range out {
		out[i] = nf4.Codebook[bnbCode(i)] * scales[i/64]
	}
	return out
}

func TestLoadBitsandbytesLayout(t *testing.T) {
	for _, dq := range []bool{false, true} {
		c, err := FromBytes("bnb.safetensors", bnbFile(dq))
		if err != nil {
			t.Fatal(err)
		}
		w, orig, err := c.NF4("l.weight")
		if err != nil {
			t.Fatal(err)
		}
		wantOrig := map[bool]DType{false: BF16, true: F16}[dq]
		if orig != wantOrig || w.DoubleQuant() != dq || w.BlockSize() != 64 || w.Rows() != 2 || w.Cols() != 64 {
			t.Fatalf("dq=%v: read %v, orig %s", dq, w, orig)
		}
		d, err := w.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := d.Data().([]float32), bnbWant(dq); !slices.Equal(got, want) {
			t.Errorf("dq=%v: values\n%v\nwant\n%v", dq, got, want)
		}
		// Element 2j sits in the low nibble in memory.
		if got := w.Codes()[0]; got != bnbCode(1)<<4|bnbCode(0) {
			t.Errorf("dq=%v: first code byte %#02x", dq, got)
		}
	}
}

// TestWriteBitsandbytesLayout: what we write for the same weight is the
// published layout byte for byte, JSON included.
func TestWriteBitsandbytesLayout(t *testing.T) {
	codes := make([]byte, 64)
	for j := range codes {
		codes[j] = bnbCode(2*j) | bnbCode(2*j+1)<<4
	}
	plain, err := nf4.FromParts(2, 64, 64, codes, []float32{0.5, 2})
	if err != nil {
		t.Fatal(err)
	}
	dyn := cpu.DynamicMap()
	double, err := nf4.FromDoubleQuantParts(2, 64, 64, codes, []uint8{200, 100}, []float32{0.75}, 1.25, dyn[:])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		w     *nf4.Tensor
		orig  DType
		state string
		parts map[string][]byte
	}{
		{plain, BF16, bnbState, map[string][]byte{"l.weight.absmax": f32le(0.5, 2)}},
		{double, F16, bnbStateDQ, map[string][]byte{"l.weight.absmax": {200, 100},
			"l.weight.nested_absmax": f32le(0.75), "l.weight.nested_quant_map": f32le(dyn[:]...)}},
	} {
		es := nf4Entries(t, "l.weight", c.w, c.orig)
		byName := map[string]Entry{}
		for _, e := range es {
			byName[e.Name] = e
		}
		c.parts["l.weight"] = bnbPacked()
		c.parts["l.weight.quant_map"] = f32le(nf4.Codebook[:]...)
		c.parts["l.weight.quant_state.bitsandbytes__nf4"] = []byte(c.state)
		if len(es) != len(c.parts) {
			t.Errorf("%d tensors, want %d", len(es), len(c.parts))
		}
		for name, want := range c.parts {
			if got := byName[name].Data; !bytes.Equal(got, want) {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if s := byName["l.weight"].Shape; !slices.Equal(s, []int{64, 1}) {
			t.Errorf("packed shape %v, want [64 1]", s)
		}
	}
}

// TestQuantStateAnyFormatting: bitsandbytes' JSON is accepted in any key
// order and spacing.
func TestQuantStateAnyFormatting(t *testing.T) {
	for _, js := range []string{
		`{"shape":[2,64],"dtype":"float32","blocksize":64,"quant_type":"nf4"}`,
		"{ \"quant_type\" : \"nf4\" ,\n \"blocksize\" : 64, \"dtype\": \"bfloat16\", \"shape\": [ 2 , 64 ] }",
		`{"nested_offset": 0.0001, "nested_dtype": "float32", "nested_blocksize": 256, "quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64]}`,
	} {
		if _, err := parseQuantState("f", "t", []byte(js), nf4.NF4); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
}
