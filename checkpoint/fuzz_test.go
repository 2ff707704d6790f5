package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nf4go/nf4"
)

// FuzzReadCheckpoint: arbitrary bytes never panic the reader, and a file
// it accepts can be read tensor by tensor without panicking.
func FuzzReadCheckpoint(f *testing.F) {
	f.Add(bnbFile(false))
	f.Add(bnbFile(true))
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[0],"data_offsets":[8,8]}}`, make([]byte, 8)))
	f.Add([]byte{})
	w, _ := nf4.QuantizeFloat32s(normals(1, 2*32), 2, 32, nf4.WithBlockSize(32), nf4.WithDoubleQuant())
	var es []byte
	for _, e := range NF4Entries("w", w, F16) {
		es = append(es, e.Data...)
	}
	f.Add(es)
	// FP4, double-quantized, 3-D with a partial last block, as a whole file.
	w3, _ := nf4.QuantizeFlat(normals(2, 3*5*7), []int{3, 5, 7}, nf4.WithBlockSize(32), nf4.WithQuantType(nf4.FP4), nf4.WithDoubleQuant())
	path := filepath.Join(f.TempDir(), "fp4.safetensors")
	if err := WriteFile(context.Background(), path, nil, NF4Entries("w", w3, BF16), nil); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(path); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := FromBytes("fuzz", data)
		if err != nil {
			return
		}
		items, err := c.Items()
		if err != nil {
			return
		}
		for _, it := range items {
			if it.NF4 {
				if w, _, err := c.NF4(it.Name); err == nil {
					w.Absmax()
				}
				continue
			}
			if it.Info.DType.IsFloat() {
				c.Float32s(it.Name)
				c.Dense(it.Name)
			}
		}
	})
}
