package checkpoint

import (
	"context"
	"errors"
	"io"
	"path/filepath"

	"github.com/nf4go/nf4"
)

// MergeOptions controls MergeFile.
type MergeOptions struct {
	// Float writes merged NF4 weights as float tensors (of the dtype they
	// had before quantization, or DType) instead of requantizing them.
	Float bool
	DType DType
	// AllowOverflow writes a merged value beyond the range of its float
	// dtype as ±Inf instead of failing, as in DequantizeOptions.
	AllowOverflow bool
	ShardSize     int64      // as in QuantizeOptions
	Config        ConfigCopy // as in QuantizeOptions
	Progress      Progress
}

// MergeFile merges the PEFT adapter in adapterDir into the checkpoint
// base: each adapted weight W becomes W + (alpha/r)·B·A. NF4 weights are
// dequantized, merged and requantized with their block size and double
// quantization (the report gives the requantization error), or written as
// float with Float; float weights stay float. Other tensors are copied.
func MergeFile(ctx context.Context, base, adapterDir, out string, o MergeOptions) (*Report, error) {
	if err := checkFloatDType(o.DType); err != nil {
		return nil, err
	}
	if err := checkShardSize(o.ShardSize); err != nil {
		return nil, err
	}
	ad, adFiles, err := loadAdapter(adapterDir)
	if err != nil {
		return nil, err
	}
	v, err := startConversion(base, out, o.ShardSize, adFiles, o.Config)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	c, items := v.Checkpoint, v.items
	adPath := filepath.Join(adapterDir, AdapterWeightsFile)
	byWeight := map[string]*LoRALayer{}
	for i := range ad.Layers {
		l := &ad.Layers[i]
		byWeight[l.Module+".weight"] = l
	}
	found := map[string]bool{}
	scale := ad.Scale()
	rep := &Report{}
	var es []Entry
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err // planning reads every weight under double quantization
		}
		l := byWeight[it.Name]
		if l == nil {
			ce, err := c.copyItem(it)
			if err != nil {
				return nil, err
			}
			es = append(es, ce...)
			rep.Steps = append(rep.Steps, copyStep(it))
			continue
		}
		found[it.Name] = true
		rows, cols := it.Rows, it.Cols
		if it.NF4 && len(it.Shape) != 2 {
			return nil, tensorErr(adPath, peftPrefix+l.Module+".lora_A.weight", "base tensor %s in %s is a 4-bit tensor of shape %v, not a 2-D weight", it.Name, it.Info.File, it.Shape)
		}
		if !it.NF4 {
			if len(it.Info.Shape) != 2 || !it.Info.DType.IsFloat() {
				return nil, tensorErr(adPath, peftPrefix+l.Module+".lora_A.weight", "base tensor %s in %s is %s%v, not a 2-D float or NF4 weight", it.Name, it.Info.File, it.Info.DType, it.Info.Shape)
			}
			rows, cols = it.Info.Shape[0], it.Info.Shape[1]
		}
		if out, in, _ := l.check(adPath, ad.Rank); out != rows || in != cols {
			return nil, tensorErr(adPath, peftPrefix+l.Module+".lora_B.weight", "adapter update is [%d %d] (lora_B %v · lora_A %v) but base weight %s in %s is [%d %d]",
				out, in, l.B.Shape(), l.A.Shape(), it.Name, it.Info.File, rows, cols)
		}
		name, item := it.Name, it
		merged := func() ([]float32, *nf4.Tensor, error) {
			if !item.NF4 {
				f, _, err := c.Float32s(name)
				if err != nil {
					return nil, nil, err
				}
				addUpdate(f, l, scale)
				return f, nil, nil
			}
			w, _, err := c.NF4(name)
			if err != nil {
				return nil, nil, err
			}
			f, err := MergeFloat(w, l, scale)
			return f, w, err
		}
		step := &Step{Name: name, Action: "merge", Shape: []int{rows, cols}, InBytes: it.Bytes}
		rep.Steps = append(rep.Steps, step)
		if !it.NF4 || o.Float {
			dt := o.DType
			switch {
			case dt != "":
			case it.NF4:
				dt = it.Orig
			default:
				dt = it.Info.DType
			}
			step.From, step.To = string(it.Info.DType), string(dt)
			if it.NF4 {
				step.From = nf4Desc(it.QuantType, it.BlockSize, it.Double)
			}
			e := Entry{Name: name, DType: dt, Shape: []int{rows, cols}, Size: int64(rows*cols) * int64(dt.Size()),
				Fill: func(w io.Writer) error {
					f, _, err := merged()
					if err != nil {
						return err
					}
					b, err := encodeWeight(item.Info.File, name, f, cols, dt, o.AllowOverflow)
					if err != nil {
						return tensorErr(item.Info.File, name, "merged with %s: %v", adPath, errors.Unwrap(err))
					}
					_, err = w.Write(b)
					return err
				}}
			step.OutBytes = e.Size
			es = append(es, e)
			continue
		}
		step.From = nf4Desc(it.QuantType, it.BlockSize, it.Double)
		step.To, step.Orig = step.From, it.Orig
		requant := func() (*nf4.Tensor, error) {
			f, w, err := merged()
			if err != nil {
				return nil, err
			}
			q, st, err := Requantize(f, w)
			if err != nil {
				return nil, tensorErr(c.Path, name, "requantize: %v", err)
			}
			if err := readsBack(item.Info.File, name, q); err != nil {
				return nil, err
			}
			step.Merge = &st
			return q, nil
		}
		st := quantState{shape: []int{rows, cols}, blockSize: it.BlockSize, quant: it.QuantType, double: it.Double, dtype: it.Orig}
		ne, err := planNF4(name, st, requant)
		if err != nil {
			return nil, err
		}
		step.OutBytes = entriesSize(ne)
		es = append(es, ne...)
	}
	for _, l := range ad.Layers {
		if !found[l.Module+".weight"] {
			return nil, tensorErr(adPath, peftPrefix+l.Module+".lora_A.weight", "no base weight %s in %s", l.Module+".weight", base)
		}
	}
	return rep, v.write(ctx, es, rep, o.ShardSize, o.Progress)
}
