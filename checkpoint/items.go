package checkpoint

import (
	"strings"

	"github.com/nf4go/nf4"
)

// Item is one logical tensor of a checkpoint: a plain tensor, or a 4-bit
// weight (NF4 or FP4) together with its companion tensors.
type Item struct {
	Name  string
	Info  TensorInfo // the tensor itself; for a 4-bit weight, the packed codes
	Bytes int64      // with companions

	NF4       bool          // a 4-bit weight in the bitsandbytes layout
	QuantType nf4.QuantType // its code table
	Shape     []int         // its shape, as the quant state records it
	Rows      int           // Shape flattened: all dimensions but the last
	Cols      int           // the last dimension
	BlockSize int
	Double    bool
	Orig      DType    // dtype before quantization
	Parts     []string // companion tensor names
}

// Items groups the checkpoint's tensors into logical tensors, in file
// order, checking every NF4 weight's companions against its quant state.
// A companion whose weight has no quant state (an absmax on its own, say)
// is an error, not a tensor to copy blindly.
func (c *Checkpoint) Items() (_ []Item, err error) {
	if c == nil {
		return nil, &Error{Err: errNilCheckpoint}
	}
	defer guardMapped(&err)()
	owned := map[string]bool{}
	weights := map[string]Item{}
	for _, t := range c.infos {
		base, _, ok := cutStateSuffix(t.Name)
		if !ok {
			continue
		}
		if _, seen := weights[base]; seen {
			continue // its other quant state; nf4State has refused the pair
		}
		st, err := c.nf4State(base)
		if err != nil {
			return nil, err
		}
		rows, cols := st.flat()
		it := Item{Name: base, NF4: true, QuantType: st.quant, Shape: st.shape, Rows: rows, Cols: cols,
			BlockSize: st.blockSize, Double: st.double, Orig: st.dtype}
		it.Info, _ = c.Info(base)
		it.Bytes = it.Info.Size
		for _, p := range st.parts()[1:] {
			owned[base+p.suffix] = true
			it.Parts = append(it.Parts, base+p.suffix)
			pi, _ := c.Info(base + p.suffix)
			it.Bytes += pi.Size
		}
		owned[base] = true
		weights[base] = it
	}
	var items []Item
	for _, t := range c.infos {
		if it, ok := weights[t.Name]; ok {
			items = append(items, it)
			continue
		}
		if owned[t.Name] {
			continue
		}
		for _, s := range companions {
			if base, ok := strings.CutSuffix(t.Name, s); ok && c.Has(base) {
				return nil, tensorErr(t.File, t.Name, "companion of %s, which has no %s: missing quant state", base, base+SuffixQuantState)
			}
		}
		items = append(items, Item{Name: t.Name, Info: t, Bytes: t.Size})
	}
	return items, nil
}
