package checkpoint

import "strings"

// Item is one logical tensor of a checkpoint: a plain tensor, or an NF4
// weight together with its companion tensors.
type Item struct {
	Name  string
	Info  TensorInfo // the tensor itself; for NF4, the packed weight
	Bytes int64      // with companions

	NF4       bool
	Rows      int
	Cols      int
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
	nf4 := map[string]Item{}
	for _, t := range c.infos {
		base, ok := strings.CutSuffix(t.Name, SuffixQuantState)
		if !ok {
			if b, fp4 := strings.CutSuffix(t.Name, ".quant_state.bitsandbytes__fp4"); fp4 {
				return nil, tensorErr(t.File, b, "quant type fp4 not supported: want nf4")
			}
			continue
		}
		st, err := c.nf4State(base)
		if err != nil {
			return nil, err
		}
		it := Item{Name: base, NF4: true, Rows: st.rows, Cols: st.cols, BlockSize: st.blockSize,
			Double: st.double, Orig: st.dtype}
		it.Info, _ = c.Info(base)
		it.Bytes = it.Info.Size
		for _, p := range st.parts()[1:] {
			owned[base+p.suffix] = true
			it.Parts = append(it.Parts, base+p.suffix)
			pi, _ := c.Info(base + p.suffix)
			it.Bytes += pi.Size
		}
		owned[base] = true
		nf4[base] = it
	}
	var items []Item
	for _, t := range c.infos {
		if it, ok := nf4[t.Name]; ok {
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
