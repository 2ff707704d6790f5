package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nf4go/nf4"
)

// normals returns n draws from N(0, 1) from a fixed seed.
func normals(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// floatEntry encodes values as a tensor of dtype dt.
func floatEntry(name string, dt DType, shape []int, v []float32) Entry {
	return Entry{Name: name, DType: dt, Shape: shape, Data: EncodeFloats(nil, v, dt)}
}

// writeEntries writes a safetensors file into dir and returns its path.
func writeEntries(t testing.TB, dir, name string, meta map[string]string, es ...Entry) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := WriteFile(context.Background(), path, meta, es, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawFile assembles a safetensors file from a header and a data section.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// wantErr checks that err mentions every one of the parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// snapshot lists a directory's files with their contents.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func sameSnapshot(t *testing.T, before, after map[string][]byte) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("directory had %d files, now %d", len(before), len(after))
	}
	for k, v := range before {
		if !bytes.Equal(after[k], v) {
			t.Errorf("%s changed or vanished", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("new file %s left behind", k)
		}
	}
}

// nf4Entries is NF4Entries for arguments a test knows are good.
func nf4Entries(t testing.TB, name string, w *nf4.Tensor, orig DType) []Entry {
	t.Helper()
	es, err := NF4Entries(name, w, orig)
	if err != nil {
		t.Fatal(err)
	}
	return es
}
