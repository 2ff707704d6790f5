package checkpoint

import (
	"context"
	"fmt"
	"regexp"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/cpu"
)

// Step records what a conversion did with one logical tensor.
type Step struct {
	Name     string
	Action   string // "nf4", "copy", "float", "merge", "skip"
	From, To string // dtype or NF4 description
	Shape    []int
	InBytes  int64
	OutBytes int64
	Note     string
	Merge    *MergeStats // for merged weights written as NF4
	Orig     DType       // for NF4 outputs: the dtype the weight had before quantization
}

// Report lists the steps of a conversion in output order.
type Report struct {
	Steps  []*Step
	Files  []string // the files written: one, or the shards and their index
	Config string   // the config.json written, if one was asked for
}

// Totals returns the input and output bytes of all steps.
func (r *Report) Totals() (in, out int64) {
	for _, s := range r.Steps {
		in += s.InBytes
		out += s.OutBytes
	}
	return in, out
}

// QuantizeOptions controls QuantizeFile.
type QuantizeOptions struct {
	BlockSize int // 0 means nf4.DefaultBlockSize
	Double    bool
	// Include selects the tensors to quantize by name; nil selects every
	// 2-D float tensor whose name ends in ".weight", except embeddings and
	// lm_head. Exclude removes names from the selection.
	Include, Exclude *regexp.Regexp
	// ShardSize, when not 0, splits the output into Hugging Face shards of
	// at most this many bytes of tensor data (see WriteSharded).
	ShardSize int64
	Config    ConfigCopy // a config.json to write with the weights
	Progress  Progress
}

var notByDefault = regexp.MustCompile(`(^|\.)(embed[^.]*|wte|wpe|word_embeddings|position_embeddings|lm_head)(\.|$)`)
var weightName = regexp.MustCompile(`\.weight$`)

// QuantizeFile quantizes the selected float tensors of the checkpoint in
// to NF4 in the bitsandbytes layout and writes the result, with every
// other tensor and the metadata unchanged, to out (one file, or shards
// with o.ShardSize; the input may be sharded too). Only one weight is held
// in memory at a time.
func QuantizeFile(ctx context.Context, in, out string, o QuantizeOptions) (*Report, error) {
	if o.BlockSize != 0 && !cpu.ValidBlockSize(o.BlockSize) {
		return nil, fmt.Errorf("checkpoint: block size %d: want 0 (the default, %d) or a power of two from %d to %d",
			o.BlockSize, nf4.DefaultBlockSize, cpu.MinBlockSize, cpu.MaxBlockSize)
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
	bs := o.BlockSize
	if bs == 0 {
		bs = nf4.DefaultBlockSize
	}
	opts := []nf4.Option{nf4.WithBlockSize(bs)}
	if o.Double {
		opts = append(opts, nf4.WithDoubleQuant())
	}
	rep := &Report{}
	var es []Entry
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err // planning reads every weight under double quantization
		}
		t := it.Info
		explicit := o.Include != nil && o.Include.MatchString(it.Name)
		chosen := explicit || o.Include == nil && weightName.MatchString(it.Name) && !notByDefault.MatchString(it.Name) &&
			len(t.Shape) == 2 && t.DType.IsFloat()
		if o.Exclude != nil && o.Exclude.MatchString(it.Name) {
			chosen = false
		}
		if !chosen || it.NF4 {
			es = append(es, c.copyItem(it)...)
			rep.Steps = append(rep.Steps, copyStep(it))
			continue
		}
		why := ""
		switch {
		case !t.DType.IsFloat():
			why = fmt.Sprintf("dtype %s is not a float type", t.DType)
		case len(t.Shape) != 2:
			why = fmt.Sprintf("shape %v is not 2-D", t.Shape)
		default:
			if err := cpu.CheckShape(t.Shape[0], t.Shape[1], bs); err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			if explicit {
				return nil, tensorErr(t.File, t.Name, "cannot quantize: %s", why)
			}
			es = append(es, c.copyItem(it)...)
			s := copyStep(it)
			s.Action, s.Note = "skip", why
			rep.Steps = append(rep.Steps, s)
			continue
		}
		name := t.Name
		quantize := func() (*nf4.Tensor, error) {
			f, _, err := c.Float32s(name)
			if err != nil {
				return nil, err
			}
			q, err := nf4.QuantizeFloat32s(f, t.Shape[0], t.Shape[1], opts...)
			if err != nil {
				return nil, tensorErr(t.File, name, "%v", err)
			}
			return q, readsBack(t.File, name, q)
		}
		ne, err := planNF4(name, t.Shape[0], t.Shape[1], bs, o.Double, t.DType, quantize)
		if err != nil {
			return nil, err
		}
		step := &Step{Name: name, Action: "nf4", From: string(t.DType), To: nf4Desc(bs, o.Double),
			Shape: t.Shape, InBytes: t.Size, OutBytes: entriesSize(ne), Orig: t.DType}
		es = append(es, ne...)
		rep.Steps = append(rep.Steps, step)
	}
	return rep, v.write(ctx, es, rep, o.ShardSize, o.Progress)
}

// planNF4 returns the lazily-filled entries of an NF4 weight. Under double
// quantization the header needs the scales' mean, so the weight is
// quantized once here to learn it, and again when written.
func planNF4(name string, rows, cols, bs int, double bool, orig DType, quantize func() (*nf4.Tensor, error)) ([]Entry, error) {
	var offset float32
	if double {
		q, err := quantize()
		if err != nil {
			return nil, err
		}
		offset = q.Weights().Scales.Offset
	}
	return LazyNF4Entries(name, rows, cols, bs, double, offset, orig, quantize), nil
}

func checkShardSize(n int64) error {
	if n < 0 {
		return fmt.Errorf("checkpoint: shard size %d: want 0 (one file) or a positive number of bytes", n)
	}
	return nil
}

// checkFloatDType validates the dtype of float weights to write.
func checkFloatDType(dt DType) error {
	if dt != "" && dt != F32 && dt != F16 && dt != BF16 {
		return fmt.Errorf("checkpoint: output dtype %q not supported: want F32, F16 or BF16", dt)
	}
	return nil
}

func nf4Desc(bs int, double bool) string {
	if double {
		return fmt.Sprintf("NF4/%d+DQ", bs)
	}
	return fmt.Sprintf("NF4/%d", bs)
}

func entriesSize(es []Entry) int64 {
	var n int64
	for i := range es {
		n += es[i].size()
	}
	return n
}

// copyItem returns entries that copy an item's tensors unchanged.
func (c *Checkpoint) copyItem(it Item) []Entry {
	names := append([]string{it.Name}, it.Parts...)
	var es []Entry
	for _, n := range names {
		b, t, _ := c.Raw(n)
		es = append(es, Entry{Name: n, DType: t.DType, Shape: t.Shape, Data: b, Size: t.Size})
	}
	return es
}

func copyStep(it Item) *Step {
	s := &Step{Name: it.Name, Action: "copy", From: string(it.Info.DType), To: string(it.Info.DType),
		Shape: it.Info.Shape, InBytes: it.Bytes, OutBytes: it.Bytes}
	if it.NF4 {
		s.From = nf4Desc(it.BlockSize, it.Double)
		s.To, s.Shape, s.Orig = s.From, []int{it.Rows, it.Cols}, it.Orig
	}
	return s
}
