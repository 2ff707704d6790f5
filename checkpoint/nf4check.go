package checkpoint

import (
	"fmt"

	"github.com/nf4go/nf4"
)

// checkNF4Entries validates NF4Entries' arguments.
func checkNF4Entries(name string, t *nf4.Tensor, orig DType) error {
	switch {
	case t == nil:
		return &Error{Tensor: name, Err: nf4.ErrNil}
	case orig != F32 && orig != F16 && orig != BF16:
		return &Error{Tensor: name, Err: fmt.Errorf("original dtype %q: want F32, F16 or BF16", string(orig))}
	}
	return readsBack("", name, t)
}

// readsBack checks a weight about to be written with the rules NF4 reads
// it by (the same constructors), so that nothing is written that cannot
// be read: with double quantization, the decoded scales of weights whose
// absmax values span many orders of magnitude can fail them.
func readsBack(file, name string, t *nf4.Tensor) error {
	if _, err := nf4.Assemble(t.Parts()); err != nil {
		return &Error{File: file, Tensor: name, Err: fmt.Errorf("the quantized weight would not read back: %w", err)}
	}
	return nil
}

// checkNested names a bad nested_absmax or nested_quant_map as such: the
// double-quantized scales are built from them, and an error there would
// otherwise read as one in .absmax.
func (c *Checkpoint) checkNested(name string, nested, qmap []float32) error {
	if i := firstNonFinite(nested); i >= 0 {
		return tensorErr(c.fileOf(name+SuffixNestedAbsmax), name+SuffixNestedAbsmax, "nested scale %d is %v, want a finite value", i, nested[i])
	}
	if i := firstNonFinite(qmap); i >= 0 {
		return tensorErr(c.fileOf(name+SuffixNestedQuantMap), name+SuffixNestedQuantMap, "8-bit map entry %d is %v, want a finite value", i, qmap[i])
	}
	return nil
}
