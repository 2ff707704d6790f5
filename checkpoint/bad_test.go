package checkpoint

import (
	"context"
	"encoding/binary"
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
		{"quant type fp4", false, state(`{"quant_type": "fp4", "blocksize": 64, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, `quant type "fp4" not supported`},
		{"block size not a power of two", false, state(`{"quant_type": "nf4", "blocksize": 48, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, "block size 48 not supported"},
		{"block size too large", false, state(`{"quant_type": "nf4", "blocksize": 8192, "dtype": "float32", "shape": [4, 128]}`), SuffixQuantState, "block size 8192 not supported"},
		{"block size inconsistent with absmax", false, state(`{"quant_type": "nf4", "blocksize": 128, "dtype": "float32", "shape": [4, 128]}`), SuffixAbsmax, "want 4 for quant state [4 128] block 128"},
		{"shape inconsistent with packed weight", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [8, 128]}`), "", "want 512"},
		{"3-D shape", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [2, 2, 128]}`), SuffixQuantState, "want a 2-D weight"},
		{"K not a multiple of the block size", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [16, 32]}`), SuffixQuantState, "not a multiple of the block size"},
		{"unsupported dtype", false, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "int8", "shape": [4, 128]}`), SuffixQuantState, `dtype "int8" not supported`},
		{"malformed JSON", false, state(`{"quant_type": "nf4", `), SuffixQuantState, "malformed JSON"},
		{"missing fields", false, state(`{"quant_type": "nf4"}`), SuffixQuantState, "needs quant_type, blocksize, dtype and shape"},
		{"nested block size", true, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128], "nested_blocksize": 128, "nested_dtype": "float32", "nested_offset": 0.5}`), SuffixQuantState, "nested block size 128 not supported"},
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
		}, SuffixQuantMap, "not the NF4 codebook"},
		{"NaN absmax", false, func(m map[string]*Entry) []Entry {
			m[SuffixAbsmax].Data = EncodeFloats(nil, []float32{1, 1, 1, float32(math.NaN()), 1, 1, 1, 1}, F32)
			return nil
		}, SuffixAbsmax, "row 1, block 1"},
		{"negative absmax", false, func(m map[string]*Entry) []Entry {
			m[SuffixAbsmax].Data = EncodeFloats(nil, []float32{1, 1, -1, 1, 1, 1, 1, 1}, F32)
			return nil
		}, SuffixAbsmax, "row 1, block 0"},
		{"non-finite nested offset", true, state(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 1e300}`), SuffixQuantState, "not a finite float32"},
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
			if c.name == "NaN absmax" || c.name == "negative absmax" {
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
