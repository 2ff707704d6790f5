package checkpoint

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

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
	if r == nil {
		return 0, 0
	}
	for _, s := range r.Steps {
		if s == nil {
			continue
		}
		in += s.InBytes
		out += s.OutBytes
	}
	return in, out
}

// QuantizeOptions controls QuantizeFile.
type QuantizeOptions struct {
	BlockSize int           // 0 means nf4.DefaultBlockSize
	QuantType nf4.QuantType // NF4 (the zero value) or FP4
	Double    bool
	// Flat quantizes selected float tensors of any shape as bitsandbytes
	// does, blocks running over their flattened values (see
	// nf4.QuantizeFlat); otherwise only 2-D weights whose rows hold whole
	// blocks are.
	Flat bool
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
	if !o.QuantType.Valid() {
		return nil, fmt.Errorf("checkpoint: quant type %v not supported: want NF4 or FP4", o.QuantType)
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
	opts := []nf4.Option{nf4.WithBlockSize(bs), nf4.WithQuantType(o.QuantType)}
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
			ce, err := c.copyItem(it)
			if err != nil {
				return nil, err
			}
			es = append(es, ce...)
			rep.Steps = append(rep.Steps, copyStep(it))
			continue
		}
		why := ""
		switch {
		case !t.DType.IsFloat():
			why = fmt.Sprintf("dtype %s is not a float type", t.DType)
		case len(t.Shape) == 0 || t.Elements() == 0:
			why = fmt.Sprintf("shape %v holds no values", t.Shape)
		case !o.Flat && len(t.Shape) != 2:
			why = fmt.Sprintf("shape %v is not 2-D", t.Shape)
		case o.Flat:
			if err := cpu.CheckLayout(1, t.Elements(), bs); err != nil {
				why = err.Error()
			}
		default:
			if err := cpu.CheckShape(t.Shape[0], t.Shape[1], bs); err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			if explicit {
				return nil, tensorErr(t.File, t.Name, "cannot quantize: %s", why)
			}
			ce, err := c.copyItem(it)
			if err != nil {
				return nil, err
			}
			es = append(es, ce...)
			s := copyStep(it)
			s.Action, s.Note = "skip", why
			rep.Steps = append(rep.Steps, s)
			continue
		}
		name, shape := t.Name, slices.Clone(t.Shape)
		quantize := func() (*nf4.Tensor, error) {
			f, _, err := c.Float32s(name)
			if err != nil {
				return nil, err
			}
			q, err := nf4.QuantizeFlat(f, shape, opts...)
			if err != nil {
				return nil, tensorErr(t.File, name, "%v", err)
			}
			return q, readsBack(t.File, name, q)
		}
		st := quantState{shape: shape, blockSize: bs, quant: o.QuantType, double: o.Double, dtype: t.DType}
		ne, err := planNF4(name, st, quantize)
		if err != nil {
			return nil, err
		}
		step := &Step{Name: name, Action: "nf4", From: string(t.DType), To: nf4Desc(o.QuantType, bs, o.Double),
			Shape: t.Shape, InBytes: t.Size, OutBytes: entriesSize(ne), Orig: t.DType}
		es = append(es, ne...)
		rep.Steps = append(rep.Steps, step)
	}
	return rep, v.write(ctx, es, rep, o.ShardSize, o.Progress)
}

// planNF4 returns the lazily-filled entries of a 4-bit weight. Under
// double quantization the header needs the scales' mean, so the weight is
// quantized once here to learn it, and again when written.
func planNF4(name string, st quantState, quantize func() (*nf4.Tensor, error)) ([]Entry, error) {
	if st.double {
		q, err := quantize()
		if err != nil {
			return nil, err
		}
		st.offset = q.Weights().Scales.Offset
	}
	return lazyEntries(name, st, quantize), nil
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

// nf4Desc describes a 4-bit layout: "NF4/64", "FP4/64+DQ".
func nf4Desc(q nf4.QuantType, bs int, double bool) string {
	d := fmt.Sprintf("%s/%d", strings.ToUpper(q.String()), bs)
	if double {
		d += "+DQ"
	}
	return d
}

func entriesSize(es []Entry) int64 {
	var n int64
	for i := range es {
		n += es[i].size()
	}
	return n
}

// copyItem returns entries that copy an item's tensors unchanged. A 4-bit
// weight is read first, every companion checked: a conversion never
// passes on a weight that its output's readers would refuse.
func (c *Checkpoint) copyItem(it Item) ([]Entry, error) {
	if it.NF4 {
		if _, _, err := c.NF4(it.Name); err != nil {
			return nil, err
		}
	}
	names := append([]string{it.Name}, it.Parts...)
	var es []Entry
	for _, n := range names {
		b, t, _ := c.Raw(n)
		es = append(es, Entry{Name: n, DType: t.DType, Shape: t.Shape, Data: b, Size: t.Size})
	}
	return es, nil
}

func copyStep(it Item) *Step {
	s := &Step{Name: it.Name, Action: "copy", From: string(it.Info.DType), To: string(it.Info.DType),
		Shape: it.Info.Shape, InBytes: it.Bytes, OutBytes: it.Bytes}
	if it.NF4 {
		s.From = nf4Desc(it.QuantType, it.BlockSize, it.Double)
		s.To, s.Shape, s.Orig = s.From, slices.Clone(it.Shape), it.Orig
	}
	return s
}
