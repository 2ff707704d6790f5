package nf4

import (
	"fmt"
	"strconv"
	"strings"
)

// String summarises the tensor, e.g.
// "NF4[1024×1024] block 64: 576.00 KiB, 7.11× smaller than float32"
// (see ExampleTensor_String), or for a tensor read from a file,
// "FP4[64×96] block 64 (blocks span rows), double-quantized: …".
func (t *Tensor) String() string {
	if t == nil {
		return "NF4<nil>"
	}
	dims := make([]string, len(t.shape))
	for i, d := range t.shape {
		dims[i] = strconv.Itoa(d)
	}
	extra := ""
	if n := t.w.Rows * t.w.Cols; !t.w.RowAligned() {
		switch {
		case t.w.Rows == 1:
			extra = " (the last block partial)"
		case n%t.w.BlockSize != 0:
			extra = " (blocks span rows, the last partial)"
		default:
			extra = " (blocks span rows)"
		}
	}
	if t.DoubleQuant() {
		extra += ", double-quantized"
	}
	return fmt.Sprintf("%s[%s] block %d%s: %s, %.2f× smaller than float32",
		strings.ToUpper(t.w.Type.String()), strings.Join(dims, "×"), t.w.BlockSize, extra, HumanBytes(t.Bytes()), t.CompressionRatio())
}

// Format prints String for every verb, so %v of a large weight is a line,
// not a wall of numbers.
func (t *Tensor) Format(s fmt.State, verb rune) { fmt.Fprint(s, t.String()) }

// HumanBytes formats a byte count with binary units: "512 B", "8.50 MiB".
func HumanBytes(n int) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.2f %ciB", v, "KMGT"[i])
}
