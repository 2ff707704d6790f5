package checkpoint

import (
	"context"
	"fmt"
	"os"
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
	Steps []*Step
	Files []string // the files written: one, or the shards and their index
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
	c, items, err := openConversion(in, out)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	bs := o.BlockSize
	if bs == 0 {
		bs = nf4.DefaultBlockSize
	}
	if !o.QuantType.Valid() {
		return nil, fileErr(in, "quant type %v not supported: want NF4 or FP4", o.QuantType)
	}
	opts := []nf4.Option{nf4.WithBlockSize(bs), nf4.WithQuantType(o.QuantType)}
	if o.Double {
		opts = append(opts, nf4.WithDoubleQuant())
	}
	rep := &Report{}
	var es []Entry
	for _, it := range items {
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
			es = append(es, c.copyItem(it)...)
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
			return q, nil
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
	rep.Files, err = WriteSharded(ctx, out, c.Metadata, es, o.ShardSize, c.isInput, o.Progress)
	return rep, err
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
		s.From = nf4Desc(it.QuantType, it.BlockSize, it.Double)
		s.To, s.Shape, s.Orig = s.From, slices.Clone(it.Shape), it.Orig
	}
	return s
}

// openConversion opens the input of a conversion and lists its items,
// after making sure that out is not one of its files.
func openConversion(in, out string) (*Checkpoint, []Item, error) {
	c, err := Open(in)
	if err != nil {
		return nil, nil, err
	}
	if err := c.notInput(out); err != nil {
		c.Close()
		return nil, nil, err
	}
	items, err := c.Items()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, items, nil
}

// notInput refuses an output path that is one of the input files: the
// input is mapped while the output is written, and must stay untouched.
func (c *Checkpoint) notInput(out string) error {
	if c.isInput(out) {
		return fileErr(out, "is an input file; write to another path")
	}
	return nil
}

// isInput reports whether path is the checkpoint's index or one of its files.
func (c *Checkpoint) isInput(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, f := range append(c.files(), c.Path) {
		if fs, err := os.Stat(f); err == nil && os.SameFile(st, fs) {
			return true
		}
	}
	return false
}

func (c *Checkpoint) files() []string {
	fs := make([]string, 0, len(c.data))
	for f := range c.data {
		fs = append(fs, f)
	}
	return fs
}
