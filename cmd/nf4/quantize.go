package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/nf4go/nf4/checkpoint"
	"github.com/nf4go/nf4/cpu"
)

const quantizeUsage = `usage: nf4 quantize [--block-size N] [--double-quant] [--quant-type nf4|fp4] [--flat] [--include RE] [--exclude RE] [--shard-size SIZE] [--config PATH | --no-config] [--quiet] IN OUT

Quantizes the float weights of the checkpoint IN (a .safetensors file, or a
sharded checkpoint's .safetensors.index.json) to NF4 (or FP4, with
--quant-type fp4) in the bitsandbytes / Hugging Face 4-bit layout, with the
bytes bitsandbytes writes, and writes the result to OUT (one file, or
shards with --shard-size).
Every other tensor, and the metadata, is copied unchanged. One weight is
held in memory at a time.

By default every 2-D float tensor whose name ends in ".weight" is
quantized, except embeddings and lm_head (and weights whose rows do not
hold whole blocks). --include replaces that rule with a regular expression
on tensor names (a matching tensor that cannot be quantized is then an
error); --exclude removes names from the selection. With --flat, a
selected float tensor of any shape is quantized as bitsandbytes does, its
blocks running over the flattened values (spanning rows, the last one
partial): it dequantizes exactly, but matrix products need rows of whole
blocks.
` + shardHelp + configHelp + outputHelp + `
Exit status: 0 success, 1 failure, 2 usage error.
`

func runQuantize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", quantizeUsage, stdout)
	bs := fs.Int("block-size", 64, "values per scale: a power of two from 32 to 4096")
	qt := fs.String("quant-type", "nf4", "the 4-bit code table: nf4 or fp4")
	dq := fs.Bool("double-quant", false, "double-quantize the scales (QLoRA)")
	flat := fs.Bool("flat", false, "quantize selected tensors of any shape, blocks over the flattened values")
	inc := fs.String("include", "", "quantize the tensors whose names match this regular expression")
	exc := fs.String("exclude", "", "do not quantize the tensors whose names match this regular expression")
	out := addOutputFlags(fs)
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	if err := out.check(pos[1]); err != nil {
		return err
	}
	o := checkpoint.QuantizeOptions{BlockSize: *bs, Double: *dq, Flat: *flat, ShardSize: out.shardSize}
	if *bs < 32 || *bs > 4096 || *bs&(*bs-1) != 0 {
		return usagef("--block-size %d: want a power of two from 32 to 4096", *bs)
	}
	if o.QuantType, err = cpu.ParseQuantType(strings.ToLower(*qt)); err != nil {
		return usagef("--quant-type: %v", err)
	}
	if o.Include, err = optRegexp("include", *inc); err != nil {
		return err
	}
	if o.Exclude, err = optRegexp("exclude", *exc); err != nil {
		return err
	}
	if o.Config, err = out.configCopy(pos[0], pos[1]); err != nil {
		return err
	}
	o.Progress = out.start(stderr)
	rep, err := checkpoint.QuantizeFile(ctx, pos[0], pos[1], o)
	return out.finish(pos[1], rep, err, stdout)
}

func optRegexp(flag, s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, usagef("--%s: %v", flag, err)
	}
	return re, nil
}

// printReport summarises a conversion: what was done to how many tensors,
// the notes worth reading, and the sizes.
func printReport(w io.Writer, rep *checkpoint.Report, out string) {
	counts := map[string]int{}
	for _, s := range rep.Steps {
		counts[s.Action]++
		if s.Note != "" {
			fmt.Fprintf(w, "%s: %s (%s)\n", s.Name, s.Action, s.Note)
		}
		if s.Merge != nil {
			fmt.Fprintf(w, "%s: merged, requantized: %v\n", s.Name, *s.Merge)
		}
	}
	in, outBytes := rep.Totals()
	if n := len(rep.Files); n > 1 {
		out = fmt.Sprintf("%d shards and %s", n-1, rep.Files[n-1])
	}
	fmt.Fprintf(w, "wrote %s: %d tensors", out, len(rep.Steps))
	for _, a := range []string{"nf4", "float", "merge", "copy", "skip"} {
		if counts[a] > 0 {
			fmt.Fprintf(w, ", %d %s", counts[a], actionWord(a))
		}
	}
	fmt.Fprintf(w, "; %s in, %s out\n", human(in), human(outBytes))
}

func actionWord(a string) string {
	switch a {
	case "nf4":
		return "quantized"
	case "float":
		return "dequantized"
	case "merge":
		return "merged"
	case "copy":
		return "copied"
	}
	return "skipped"
}
