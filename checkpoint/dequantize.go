package checkpoint

import (
	"context"
	"io"
	"slices"
)

// DequantizeOptions controls DequantizeFile.
type DequantizeOptions struct {
	// DType of the float weights written: F32, F16 or BF16; empty means the
	// dtype each weight had before quantization.
	DType DType
	// AllowOverflow writes a value beyond the range of DType as ±Inf, as
	// PyTorch's conversion does, instead of failing (readers, this one
	// included, then refuse to quantize it).
	AllowOverflow bool
	ShardSize     int64      // as in QuantizeOptions
	Config        ConfigCopy // as in QuantizeOptions
	Progress      Progress
}

// DequantizeFile writes the checkpoint in with every 4-bit weight (NF4 or
// FP4) turned back into a float tensor of the shape its quant state
// records ([out, in] for a linear weight); other tensors are copied.
func DequantizeFile(ctx context.Context, in, out string, o DequantizeOptions) (*Report, error) {
	if err := checkFloatDType(o.DType); err != nil {
		return nil, err
	}
	if err := checkShardSize(o.ShardSize); err != nil {
		return nil, err
	}
	v, err := startConversion(in, out, o.ShardSize, nil, o.Config)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	c, items := v.Checkpoint, v.items
	rep := &Report{}
	var es []Entry
	for _, it := range items {
		if !it.NF4 {
			ce, err := c.copyItem(it)
			if err != nil {
				return nil, err
			}
			es = append(es, ce...)
			rep.Steps = append(rep.Steps, copyStep(it))
			continue
		}
		dt := o.DType
		if dt == "" {
			dt = it.Orig
		}
		name := it.Name
		e := Entry{Name: name, DType: dt, Shape: slices.Clone(it.Shape), Size: int64(it.Rows*it.Cols) * int64(dt.Size()),
			Fill: func(w io.Writer) error {
				t, _, err := c.NF4(name)
				if err != nil {
					return err
				}
				f := make([]float32, it.Rows*it.Cols)
				if err := t.DequantizeInto(f); err != nil {
					return err
				}
				b, err := encodeWeight(it.Info.File, name, f, it.Cols, dt, o.AllowOverflow)
				if err != nil {
					return err
				}
				_, err = w.Write(b)
				return err
			}}
		es = append(es, e)
		rep.Steps = append(rep.Steps, &Step{Name: name, Action: "float", From: nf4Desc(it.QuantType, it.BlockSize, it.Double),
			To: string(dt), Shape: e.Shape, InBytes: it.Bytes, OutBytes: e.Size})
	}
	return rep, v.write(ctx, es, rep, o.ShardSize, o.Progress)
}
