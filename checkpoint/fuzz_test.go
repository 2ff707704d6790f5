package checkpoint

import (
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
	for _, e := range nf4Entries(f, "w", w, F16) {
		es = append(es, e.Data...)
	}
	f.Add(es)
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
