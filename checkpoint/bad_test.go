package checkpoint

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
)

// TestBadLayout: every malformed file is refused at Open with an error
// naming the file, the tensor where there is one, and the problem.
func TestBadLayout(t *testing.T) {
	good := rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}`, make([]byte, 12))
	withLen := func(n uint64) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want []string
	}{
		{"empty file", nil, []string{"truncated"}},
		{"shorter than the length prefix", good[:5], []string{"truncated"}},
		{"truncated data", good[:len(good)-1], []string{`tensor "b"`, "run past the end"}},
		{"header length past the end", withLen(uint64(len(good))), []string{"header length", "past the end of the file"}},
		{"huge header length", withLen(math.MaxUint64), []string{"header length", "past the end"}},
		{"malformed JSON", rawFile(`{"a":{"dtype":"F32",`, nil), []string{"malformed header"}},
		{"header not an object", rawFile(`[1, 2]`, nil), []string{"malformed header JSON", "object"}},
		{"trailing data after the header", rawFile(`{} {}`, nil), []string{"malformed header JSON"}},
		{"entry not an object", rawFile(`{"a": 3}`, nil), []string{`tensor "a"`, "malformed header entry"}},
		{"missing fields", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), []string{`tensor "a"`, "data_offsets"}},
		{"unknown dtype", rawFile(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), []string{`tensor "a"`, `unknown dtype "Q4"`}},
		{"negative dimension", rawFile(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, make([]byte, 1)), []string{`tensor "a"`, "out of range"}},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,1]}}`, make([]byte, 1)), []string{`tensor "a"`, "too large"}},
		{"descending offsets", rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), []string{`tensor "a"`, "ascending"}},
		{"three offsets", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, make([]byte, 1)), []string{`tensor "a"`, "2"}},
		{"length does not match dtype×shape", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{`tensor "a"`, "byte length 8 does not match dtype F32 × shape [3] (12 bytes)"}},
		{"offsets outside the data", rawFile(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[100,108]}}`, make([]byte, 8)), []string{`tensor "a"`, "run past the end of the data"}},
		{"overlapping offsets", rawFile(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}`, make([]byte, 8)), []string{`tensor "b"`, `overlap tensor "a"`}},
		{"same offsets twice", rawFile(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{"overlap"}},
		{"hole between tensors", rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}}`, make([]byte, 10)), []string{`tensor "b"`, "hole"}},
		{"bytes after the last tensor", rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, make([]byte, 6)), []string{"2 bytes after the last tensor"}},
		{"duplicate name", rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 4)), []string{`tensor "a"`, "twice"}},
		{"metadata not strings", rawFile(`{"__metadata__":{"n":1}}`, nil), []string{"__metadata__"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			wantErr(t, err, append([]string{path}, c.want...)...)
		})
	}
}

// nf4File writes a file with one plain NF4 weight "l.weight" whose
// companion tensors have been altered by edit.
func nf4File(t *testing.T, dq bool, edit func(map[string]*Entry) []Entry) string {
	t.Helper()
	opts := []nf4.Option{nf4.WithBlockSize(64)}
	if dq {
		opts = append(opts, nf4.WithDoubleQuant())
	}
	w, err := nf4.QuantizeFloat32s(normals(5, 4*128), 4, 128, opts...)
	if err != nil {
		t.Fatal(err)
	}
	es := nf4Entries(t, "l.weight", w, F32)
	m := map[string]*Entry{}
	for i := range es {
		m[strings.TrimPrefix(es[i].Name, "l.weight")] = &es[i]
	}
	var out []Entry
	if edit != nil {
		out = edit(m)
	}
	if out == nil {
		for _, e := range es {
			if e.Name != "" {
				out = append(out, e)
			}
		}
	}
	return writeEntries(t, t.TempDir(), "w.safetensors", nil, out...)
}

// TestBadNF4: inconsistent or unsupported bitsandbytes tensors are refused
// by NF4 and by Items, naming the file, the tensor and the problem.
func TestBadNF4(t *testing.T) {
	state := func(js string) func(map[string]*Entry) []Entry {
		return func(m map[string]*Entry) []Entry {
			e := m[SuffixQuantState]
			e.Data, e.Shape = []byte(js), []int{len(js)}
			return nil
		}
	}
	drop := func(suffix string) func(map[string]*Entry) []Entry {
		return func(m map[string]*Entry) []Entry { m[suffix].Name = ""; return nil }
	}
	for _, c := range []struct {
		name   string
		dq     bool
		edit   func(map[string]*Entry) []Entry
		tensor string
		want   string
	}{
		{"quant type fp4", false, state(`{"quant_type": "fp4", "blocksize": 64, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, `quant_type "fp4", but the tensor is named for "nf4"`},
		{"block size not a power of two", false, state(`{"quant_type": "nf4", "blocksize": 48, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, "blocksize 48 not supported"},
		{"block size too large", false, state(`{"quant_type": "nf4", "blocksize": 8192, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, "blocksize 8192 not supported"},
		{"block size inconsistent with absmax", false, state(`{"quant_type": "nf4", "blocksize": 128, "dtype": "float32", "shape": [4, 128]}`), SuffixAbsmax, "want 4 (the absmax (one per block)) for quant state NF4 [4 128] block 128"},
		{"shape inconsistent with packed weight", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [8, 128]}`), "", "want 512"},
		{"shape with no values", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 0, 128]}`), SuffixQuantState, "dimensions must be positive"},
		{"unknown quant type", false, state(`{"quant_type": "int4", "blocksize": 64, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, `quant_type: quant type "int4" not supported`},
		{"unsupported dtype", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "int8", "shape": [4, 128]}`), SuffixQuantState, `dtype "int8" not supported`},
		{"malformed JSON", false, state(`{"quant_type": "nf4", `), SuffixQuantState, "malformed JSON"},
		{"missing fields", false, state(`{"quant_type": "nf4"}`), SuffixQuantState, "needs quant_type, blocksize, dtype and shape"},
		{"nested block size", true, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128], "nested_blocksize": 128, "nested_dtype": "float32", "nested_offset": 0.5}`), SuffixQuantState, "nested_blocksize 128 not supported"},
		{"partial nested fields", true, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128], "nested_offset": 0.5}`), SuffixQuantState, "needs nested_blocksize"},
		{"double-quantized absmax, plain state", true, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128]}`), SuffixAbsmax, "dtype U8, want F32"},
		{"missing quant_map", false, drop(SuffixQuantMap), SuffixQuantMap, "missing"},
		{"missing absmax", false, drop(SuffixAbsmax), SuffixAbsmax, "missing"},
		{"missing nested_absmax", true, drop(SuffixNestedAbsmax), SuffixNestedAbsmax, "missing"},
		{"missing nested_quant_map", true, drop(SuffixNestedQuantMap), SuffixNestedQuantMap, "missing"},
		{"absmax without its quant_state", false, drop(SuffixQuantState), SuffixAbsmax, "missing quant state"},
		{"quant_map not the NF4 codebook", false, func(m map[string]*Entry) []Entry {
			m[SuffixQuantMap].Data = EncodeFloats(nil, make([]float32, 16), F32)
			return nil
		}, SuffixQuantMap, "not the NF4 code table"},
		{"NaN absmax", false, func(m map[string]*Entry) []Entry {
			m[SuffixAbsmax].Data = EncodeFloats(nil, []float32{1, 1, 1, float32(math.NaN()), 1, 1, 1, 1}, F32)
			return nil
		}, SuffixAbsmax, "row 1, block 1"},
		{"infinite absmax", false, func(m map[string]*Entry) []Entry {
			m[SuffixAbsmax].Data = EncodeFloats(nil, []float32{1, 1, float32(math.Inf(-1)), 1, 1, 1, 1, 1}, F32)
			return nil
		}, SuffixAbsmax, "row 1, block 0"},
		{"non-finite nested offset", true, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 1e300}`), SuffixQuantState, "not a finite float32"},
		// A quant state that lies about the weight it describes.
		{"shape lies about the count", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [2, 2, 64]}`), "", "holds 256 bytes of packed codes, want 128"},
		{"shape too large", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [1000000000, 1000000000, 1000000000]}`), SuffixQuantState, "dimensions must be positive"},
		{"shape not numbers", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": "4x128"}`), SuffixQuantState, "malformed JSON"},
		{"blocksize not a number", false, state(`{"quant_type": "nf4", "blocksize": "64", "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, "malformed JSON"},
		{"quant_type lies about the table", false, func(m map[string]*Entry) []Entry {
			e := m[SuffixQuantState]
			e.Name = "l.weight" + SuffixQuantStateFP4
			return nil
		}, SuffixQuantStateFP4, `quant_type "nf4", but the tensor is named for "fp4"`},
		{"two quant states", false, func(m map[string]*Entry) []Entry {
			var out []Entry
			for _, e := range m {
				out = append(out, *e)
			}
			fp4 := *m[SuffixQuantState]
			fp4.Name = "l.weight" + SuffixQuantStateFP4
			return append(out, fp4)
		}, "", "has both"},
		{"quant state not U8", false, func(m map[string]*Entry) []Entry {
			e := m[SuffixQuantState]
			e.DType, e.Shape, e.Data = F32, []int{4}, make([]byte, 16)
			return nil
		}, SuffixQuantState, "dtype F32, want U8"},
		{"packed codes of the wrong size in BF16", false, func(m map[string]*Entry) []Entry {
			e := m[""]
			e.DType, e.Shape, e.Data = BF16, []int{64, 1}, e.Data[:128]
			return nil
		}, "", "BF16 [64 1] holds 128 bytes of packed codes, want 256"},
		{"absmax count lies (double)", true, func(m map[string]*Entry) []Entry {
			e := m[SuffixAbsmax]
			e.Shape, e.Data = []int{7}, e.Data[:7]
			return nil
		}, SuffixAbsmax, "want 8 (the 8-bit codes of the scales"},
		{"plain absmax under a double state", true, func(m map[string]*Entry) []Entry {
			e := m[SuffixAbsmax]
			e.DType, e.Data = F32, make([]byte, 32)
			return nil
		}, SuffixAbsmax, "dtype F32, want U8"},
		{"nested absmax count lies", true, func(m map[string]*Entry) []Entry {
			e := m[SuffixNestedAbsmax]
			e.Shape, e.Data = []int{2}, append(e.Data, e.Data...)
			return nil
		}, SuffixNestedAbsmax, "want 1 (the nested absmax"},
		{"nested map count lies", true, func(m map[string]*Entry) []Entry {
			e := m[SuffixNestedQuantMap]
			e.Shape, e.Data = []int{255}, e.Data[:4*255]
			return nil
		}, SuffixNestedQuantMap, "want 256 (the nested 8-bit map)"},
		{"NaN nested absmax", true, func(m map[string]*Entry) []Entry {
			m[SuffixNestedAbsmax].Data = EncodeFloats(nil, []float32{float32(math.NaN())}, F32)
			return nil
		}, SuffixNestedAbsmax, "nested scale 0 is NaN"},
		{"Inf in the nested map", true, func(m map[string]*Entry) []Entry {
			d := m[SuffixNestedQuantMap].Data
			copy(d[4*9:], EncodeFloats(nil, []float32{float32(math.Inf(1))}, F32))
			return nil
		}, SuffixNestedQuantMap, "entry 9 is +Inf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := nf4File(t, c.dq, c.edit)
			cp, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			// Items checks the layout; values are checked when read.
			_, itemsErr := cp.Items()
			// (values, not layout)
			if c.name == "NaN absmax" || c.name == "infinite absmax" || c.name == "NaN nested absmax" || c.name == "Inf in the nested map" {
				if itemsErr != nil {
					t.Fatalf("Items: %v", itemsErr)
				}
			} else {
				wantErr(t, itemsErr, path, `"l.weight`+c.tensor+`"`, c.want)
			}
			if c.tensor != SuffixAbsmax || c.name != "absmax without its quant_state" {
				_, _, err = cp.NF4("l.weight")
				wantErr(t, err, path, "l.weight", c.want)
			}
		})
	}
}

// TestBadFloatRead: reading a tensor as the wrong kind names it.
func TestBadFloatRead(t *testing.T) {
	path := writeEntries(t, t.TempDir(), "x.safetensors", nil, Entry{Name: "ids", DType: I32, Shape: []int{2}, Data: make([]byte, 8)})
	c := mustOpen(t, path)
	_, _, err := c.Float32s("ids")
	wantErr(t, err, path, `tensor "ids"`, "not a float type")
	_, _, err = c.Float32s("nope")
	wantErr(t, err, path, `tensor "nope"`, "not in the checkpoint")
	_, _, err = c.NF4("ids")
	wantErr(t, err, path, "ids", "quant state is missing")
}

// TestWriteRefusesBadEntries: the writer checks what it is given.
func TestWriteRefusesBadEntries(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		es   []Entry
		want string
	}{
		{[]Entry{{Name: "a", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}}, "do not match"},
		{[]Entry{{Name: "a", DType: "X", Shape: []int{1}, Data: make([]byte, 1)}}, "unknown dtype"},
		{[]Entry{{Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}, {Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}}, "twice"},
		{[]Entry{{Name: "a", DType: U8, Shape: []int{2}, Size: 2, Fill: func(w io.Writer) error { _, err := w.Write([]byte{1}); return err }}}, "wrote 1 bytes, the header promised 2"},
	} {
		path := filepath.Join(dir, "out.safetensors")
		err := WriteFile(context.Background(), path, nil, c.es, nil)
		wantErr(t, err, path, `tensor "a"`, c.want)
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed write", path)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

// FuzzLyingQuantState: a 4-bit weight whose quant state and companions lie
// (its JSON, quant type, block size, shape, dtype, the count of absmax and
// nested values, the dtype and size of the packed codes) is never a panic
// nor a silently wrong tensor: either an error that names the file and a
// tensor, or a weight whose every part agrees with what was stored.
func FuzzLyingQuantState(f *testing.F) {
	f.Add(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128]}`, false, false, uint8(0), int16(0), int16(0), int16(0))
	f.Add(`{"quant_type": "fp4", "blocksize": 128, "dtype": "bfloat16", "shape": [512], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.25}`, true, true, uint8(1), int16(-4), int16(1), int16(0))
	f.Add(`{"quant_type": "nf4", "blocksize": 32, "dtype": "float16", "shape": [2, 2, 128]}`, false, false, uint8(2), int16(8), int16(0), int16(-128))
	f.Fuzz(func(t *testing.T, js string, double, fp4Name bool, packedDType uint8, absmaxDelta, nestedDelta, packedDelta int16) {
		opts := []nf4.Option{nf4.WithBlockSize(64)}
		if double {
			opts = append(opts, nf4.WithDoubleQuant())
		}
		w, err := nf4.QuantizeFloat32s(normals(5, 4*128), 4, 128, opts...)
		if err != nil {
			t.Fatal(err)
		}
		resize := func(b []byte, delta int, unit int) []byte {
			n := max(0, len(b)+delta*unit)
			out := make([]byte, n)
			copy(out, b)
			return out
		}
		var es []Entry
		for _, e := range nf4Entries(t, "l.weight", w, F32) {
			switch strings.TrimPrefix(e.Name, "l.weight") {
			case SuffixQuantState:
				e.Data = []byte(js)
				if fp4Name {
					e.Name = "l.weight" + SuffixQuantStateFP4
				}
			case "":
				e.DType = []DType{U8, BF16, F32, I8, F16}[int(packedDType)%5]
				e.Data = resize(e.Data, int(packedDelta), 1)
				e.Data = e.Data[:len(e.Data)/e.DType.Size()*e.DType.Size()]
			case SuffixAbsmax:
				unit := 4
				if double {
					unit = 1
				}
				e.Data = resize(e.Data, int(absmaxDelta), unit)
			case SuffixNestedAbsmax:
				e.Data = resize(e.Data, int(nestedDelta), 4)
			}
			e.Shape = []int{len(e.Data) / e.DType.Size()}
			e.Size = int64(len(e.Data))
			es = append(es, e)
		}
		path := filepath.Join(t.TempDir(), "w.safetensors")
		if err := WriteFile(context.Background(), path, nil, es, nil); err != nil {
			return // not a file the writer makes
		}
		c, err := Open(path)
		if err != nil {
			t.Fatalf("the layout itself is sound: %v", err)
		}
		defer c.Close()
		named := func(err error) {
			t.Helper()
			var ce *Error
			if !errors.As(err, &ce) || ce.File != path || !strings.HasPrefix(ce.Tensor, "l.weight") {
				t.Fatalf("error does not name the file and a tensor: %v", err)
			}
		}
		if _, err := c.Items(); err != nil {
			named(err)
		}
		got, _, err := c.NF4("l.weight")
		if err != nil {
			named(err)
			return
		}
		// Accepted: the weight agrees with the tensors stored.
		n := 1
		for _, d := range got.Shape() {
			n *= d
		}
		packed, _, _ := c.Raw("l.weight")
		if len(got.Codes()) != len(packed) || len(packed) != (n+1)/2 || len(got.Absmax()) != (n+got.BlockSize()-1)/got.BlockSize() {
			t.Fatalf("accepted %v from %d packed bytes and %d scales", got, len(packed), len(got.Absmax()))
		}
		out := make([]float32, n)
		if err := got.DequantizeInto(out); err != nil {
			t.Fatal(err)
		}
	})
}
