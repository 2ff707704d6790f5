package checkpoint

import (
	"math"
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
