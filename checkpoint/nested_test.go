package checkpoint

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// A NaN or Inf in nested_absmax or nested_quant_map is named as that
// tensor, not as .absmax, which is built from them.
func TestBadNestedPartsAreNamed(t *testing.T) {
	for _, c := range []struct{ suffix, want string }{
		{SuffixNestedAbsmax, "nested scale 0 is NaN"},
		{SuffixNestedQuantMap, "8-bit map entry 3 is +Inf"},
	} {
		path := nf4File(t, true, func(m map[string]*Entry) []Entry {
			e := m[c.suffix]
			v := make([]float32, len(e.Data)/4)
			decodeFloats(v, e.Data, F32)
			if c.suffix == SuffixNestedAbsmax {
				v[0] = float32(math.NaN())
			} else {
				v[3] = float32(math.Inf(1))
			}
			e.Data = EncodeFloats(nil, v, F32)
			return nil
		})
		c2, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c2.NF4("l.weight")
		wantErr(t, err, path, `"l.weight`+c.suffix+`"`, c.want)
		c2.Close()
	}
}

// Quantizing a file copies its 4-bit weights, and a broken one is refused
// with the broken tensor named instead of being copied into an output
// that would not read back.
func TestQuantizeRefusesToCopyABrokenNF4Weight(t *testing.T) {
	path := nf4File(t, true, func(m map[string]*Entry) []Entry {
		e := m[SuffixNestedQuantMap]
		v := make([]float32, len(e.Data)/4)
		decodeFloats(v, e.Data, F32)
		v[17] = float32(math.NaN())
		e.Data = EncodeFloats(nil, v, F32)
		return nil
	})
	out := filepath.Join(t.TempDir(), "out.safetensors")
	_, err := QuantizeFile(context.Background(), path, out, QuantizeOptions{Double: true})
	wantErr(t, err, path, `"l.weight`+SuffixNestedQuantMap+`"`, "8-bit map entry 17 is NaN")
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Fatalf("a failed quantize left %s (%v)", out, serr)
	}
}
