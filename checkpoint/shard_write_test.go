package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Quantizing into shards keeps every weight with its companions, and the
// sharded output reads back to the same tensors as a single file.
func TestWriteShardedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var es []Entry
	for i, name := range []string{"a.weight", "b.weight", "c.weight", "d.weight"} {
		es = append(es, floatEntry(name, BF16, []int{16, 128}, normals(uint64(i+1), 16*128)))
	}
	es = append(es, floatEntry("norm.weight", F32, []int{128}, normals(9, 128)))
	in := writeEntries(t, dir, "in.safetensors", map[string]string{"format": "pt"}, es...)

	single := filepath.Join(dir, "single.safetensors")
	if _, err := QuantizeFile(context.Background(), in, single, QuantizeOptions{Double: true}); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "sharded")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "model.safetensors")
	// A quantized 16×128 weight with its companions is about 1.2 KB: two per shard.
	rep, err := QuantizeFile(context.Background(), in, out, QuantizeOptions{Double: true, ShardSize: 2600})
	if err != nil {
		t.Fatal(err)
	}
	index := out + IndexSuffix
	if n := len(rep.Files); n < 3 || rep.Files[n-1] != index {
		t.Fatalf("files written %v, want several shards and %s", rep.Files, index)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written beside its shards", out)
	}
	var idx struct {
		Metadata struct {
			TotalSize int64 `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	js, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &idx); err != nil {
		t.Fatal(err)
	}
	a, b := mustOpen(t, single), mustOpen(t, index)
	var total int64
	for _, ti := range a.Tensors() {
		total += ti.Size
		ra, _, _ := a.Raw(ti.Name)
		rb, tb, err := b.Raw(ti.Name)
		if err != nil || !bytes.Equal(ra, rb) {
			t.Errorf("%s differs in the sharded output (%v)", ti.Name, err)
			continue
		}
		weight := ti.Name
		for _, s := range companions {
			if w, ok := cutSuffix(ti.Name, s); ok {
				weight = w
			}
		}
		if want := idx.WeightMap[weight]; filepath.Base(tb.File) != want {
			t.Errorf("%s is in %s, its weight in %s", ti.Name, filepath.Base(tb.File), want)
		}
	}
	if len(b.Tensors()) != len(a.Tensors()) || idx.Metadata.TotalSize != total {
		t.Errorf("sharded: %d tensors, total_size %d; single file: %d tensors, %d bytes",
			len(b.Tensors()), idx.Metadata.TotalSize, len(a.Tensors()), total)
	}
	if b.Metadata["format"] != "pt" {
		t.Errorf("shard metadata %v", b.Metadata)
	}
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// A failure in the last shard leaves nothing behind: no shard, no index.
func TestWriteShardedFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("disk on fire")
	es := []Entry{
		floatEntry("a", F32, []int{64}, normals(1, 64)),
		floatEntry("b", F32, []int{64}, normals(2, 64)),
		{Name: "c", DType: F32, Shape: []int{64}, Size: 256, Fill: func(io.Writer) error { return boom }},
	}
	before := snapshot(t, dir)
	_, err := WriteSharded(context.Background(), filepath.Join(dir, "m.safetensors"), nil, es, 256, nil, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

// Shards that would land on the files being read are refused up front.
func TestWriteShardedRefusesItsInput(t *testing.T) {
	dir := t.TempDir()
	index := writeSharded(t, dir) // model-0000{1,2}-of-00002.safetensors
	before := snapshot(t, dir)
	_, err := QuantizeFile(context.Background(), index, filepath.Join(dir, "model.safetensors"), QuantizeOptions{ShardSize: 500})
	wantErr(t, err, "is an input file")
	sameSnapshot(t, before, snapshot(t, dir))

	_, err = WriteSharded(context.Background(), filepath.Join(dir, "x.bin"), nil,
		[]Entry{floatEntry("a", F32, []int{64}, normals(1, 64)), floatEntry("b", F32, []int{64}, normals(2, 64))}, 256, nil, nil)
	wantErr(t, err, "x.bin", "ending in .safetensors")
	if _, err := WriteSharded(context.Background(), filepath.Join(dir, "y.safetensors"), nil, nil, -1, nil, nil); err == nil {
		t.Error("a negative shard size gave no error")
	}
}
