package checkpoint

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The writer refuses, before it makes any file, exactly what the reader
// would reject; what it writes reads back.
func TestWriterRefusesWhatTheReaderRejects(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.safetensors")
	ctx := context.Background()
	type refusal struct {
		e    Entry
		want string
	}
	var refusals []refusal
	if strconv.IntSize == 64 {
		// 2^31, the first dimension past the format's range: no 32-bit
		// int reaches it (and a constant would not compile there).
		huge := int64(math.MaxInt32) + 1
		refusals = append(refusals, refusal{Entry{Name: "huge", DType: U8, Shape: []int{int(huge), 4}, Size: 1}, "dimension out of range"})
	}
	for _, c := range append(refusals, []refusal{
		{Entry{Name: "wraps", DType: F64, Shape: []int{1 << 30, 1 << 30, 1 << 30}, Size: 0}, "too large"},
		{Entry{Name: "neg", DType: U8, Shape: []int{-1}}, "dimension out of range"},
		{Entry{Name: "bad\xffname", DType: U8, Shape: []int{1}, Data: []byte{1}}, `"bad\xffname"`},
		{Entry{Name: "__metadata__", DType: U8, Shape: []int{1}, Data: []byte{1}}, "reserved"},
		{Entry{Name: "x", DType: "F8", Shape: []int{1}, Data: []byte{1}}, "unknown dtype"},
	}...) {
		err := WriteFile(ctx, out, nil, []Entry{c.e}, nil)
		wantErr(t, err, out, c.want)
	}
	wantErr(t, WriteFile(ctx, out, map[string]string{"k": "v\xfe"}, nil, nil), "not valid UTF-8", `\xfe`)
	// Two tensors whose offsets together pass 2^63.
	fill := func(io.Writer) error { return nil }
	es := []Entry{{Name: "a", DType: F64, Shape: []int{1 << 30, 1 << 29}, Size: 1 << 62, Fill: fill}, {Name: "b", DType: F64, Shape: []int{1 << 30, 1 << 29}, Size: 1 << 62, Fill: fill}}
	wantErr(t, WriteFile(ctx, out, nil, es, nil), "2^63")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files made", len(ents))
	}
}

// The header limit is one number for reader and writer: a header of
// exactly MaxHeaderBytes is written and read back, one byte more is
// refused by both.
func TestHeaderLimitIsShared(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds 100 MiB headers")
	}
	// 100 tensors of shape [0] with names of about 1 MiB, the last one
	// sized so that the padded header is exactly the limit.
	es := make([]Entry, 100)
	name := func(i, n int) string { return string(rune('a'+i%26)) + strings.Repeat("x", n) + string(rune('a'+i/26)) }
	const n = 1<<20 - 64
	for i := range es {
		es[i] = Entry{Name: name(i, n), DType: F32, Shape: []int{0}, Data: []byte{}}
	}
	js, _ := json.Marshal(es[0].Name)
	entry := len(js) + len(`:{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`)
	es[99].Name = name(99, n+MaxHeaderBytes-(2+100*entry+99))
	h, _, err := encodeHeader("big", nil, es)
	if err != nil || len(h)-8 != MaxHeaderBytes {
		t.Fatalf("header of %d bytes (%v), want %d", len(h)-8, err, MaxHeaderBytes)
	}
	if _, err := FromBytes("big", h); err != nil {
		t.Fatalf("a header of exactly the limit does not read back: %v", err)
	}
	_, err = FromBytes("over", rawFile(string(h[8:])+strings.Repeat(" ", 8), nil))
	wantErr(t, err, "larger than the", "limit")
	es[99].Name += "y"
	_, _, err = encodeHeader("over", nil, es)
	wantErr(t, err, "over", "limit")
}

// Names that encoding/json would turn into U+FFFD are refused by the
// reader, showing the bytes escaped; a sound surrogate pair is kept.
func TestHeaderStringsMustBeUTF8(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"w\xff\xfe", `w\xff\xfe`},
		{`w\ud800`, `w\\ud800`},
		{`w\udc00x`, `w\\udc00x`},
		{`w\ud800\u0041`, `w\\ud800\\u0041`},
	} {
		_, err := FromBytes("f", rawFile(`{"`+c.name+`":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}))
		wantErr(t, err, "not valid UTF-8", c.want)
	}
	c, err := FromBytes("f", rawFile(`{"w\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}))
	if err != nil || !c.Has("w😀") {
		t.Errorf("a surrogate pair: %v", err)
	}
}

// Options are checked as the reader will check the files they make.
func TestConversionOptionsAreChecked(t *testing.T) {
	dir := t.TempDir()
	in := writeEntries(t, dir, "in.safetensors", nil, floatEntry("a.weight", F32, []int{4, 96}, normals(1, 384)))
	ctx := context.Background()
	out := filepath.Join(dir, "out.safetensors")
	_, err := QuantizeFile(ctx, in, out, QuantizeOptions{BlockSize: 48})
	wantErr(t, err, "block size 48")
	_, err = QuantizeFile(ctx, in, out, QuantizeOptions{ShardSize: -1})
	wantErr(t, err, "shard size -1")
	_, err = DequantizeFile(ctx, in, out, DequantizeOptions{DType: I8})
	wantErr(t, err, `"I8"`)
	_, err = MergeFile(ctx, in, dir, out, MergeOptions{DType: F64})
	wantErr(t, err, `"F64"`)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the folder, want the input alone", len(ents))
	}
}

// A name used twice is refused across shards too, where each shard's
// header alone would not show it.
func TestShardedNamesAreUnique(t *testing.T) {
	dir := t.TempDir()
	es := []Entry{floatEntry("a", F32, []int{256}, normals(1, 256)), floatEntry("b", F32, []int{256}, normals(2, 256)), floatEntry("a", F32, []int{256}, normals(3, 256))}
	_, err := WriteSharded(context.Background(), filepath.Join(dir, "m.safetensors"), nil, es, 1024, nil, nil)
	wantErr(t, err, `"a"`, "twice")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files made", len(ents))
	}
}
