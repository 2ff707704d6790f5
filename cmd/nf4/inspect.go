package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
)

const inspectUsage = `usage: nf4 inspect FILE

Lists the tensors of a checkpoint (a .safetensors file, or a sharded
checkpoint's .safetensors.index.json): name, shape, dtype (or, for a 4-bit
weight, its code table NF4 or FP4, block size and double quantization),
bytes, and for 4-bit weights how many times smaller they are than float32;
then the totals and the metadata. The whole
layout is checked first: a bad file is an error that names the file, the
tensor and the problem.

Exit status: 0 success, 1 failure, 2 usage error.
`

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", inspectUsage, stdout)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := checkpoint.Open(pos[0])
	if err != nil {
		return err
	}
	defer c.Close()
	items, err := c.Items()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSHAPE\tTYPE\tBYTES\tCOMPRESSION\t")
	var bytes, params, nf4Params, nf4Bytes int64
	for _, it := range items {
		shape, typ, ratio := fmt.Sprint(it.Info.Shape), string(it.Info.DType), "-"
		n := int64(it.Info.Elements())
		if it.NF4 {
			n = int64(it.Rows) * int64(it.Cols)
			shape = fmt.Sprint(it.Shape)
			typ = fmt.Sprintf("%s b%d", strings.ToUpper(it.QuantType.String()), it.BlockSize)
			if it.Double {
				typ += "+DQ"
			}
			ratio = fmt.Sprintf("%.2f×", float64(4*n)/float64(it.Bytes))
			nf4Params += n
			nf4Bytes += it.Bytes
		}
		bytes += it.Bytes
		params += n
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t\n", printable(it.Name), shape, typ, it.Bytes, ratio)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d tensors, %d values, %s", len(items), params, human(bytes))
	if nf4Params > 0 {
		fmt.Fprintf(stdout, "; %d NF4 weights hold %d values in %s (%.3f bits each, %.2f× smaller than float32)",
			len(c.NF4Weights()), nf4Params, human(nf4Bytes), 8*float64(nf4Bytes)/float64(nf4Params), float64(4*nf4Params)/float64(nf4Bytes))
	}
	fmt.Fprintln(stdout)
	if len(c.Metadata) > 0 {
		var kv []string
		for k, v := range c.Metadata {
			kv = append(kv, fmt.Sprintf("%s=%q", printable(k), v))
		}
		slices.Sort(kv)
		fmt.Fprintf(stdout, "metadata: %s\n", strings.Join(kv, " "))
	}
	return nil
}

func human(n int64) string { return nf4.HumanBytes(int(n)) }

// printable returns a name as it is when every character prints, and
// quoted with escapes otherwise (or when it is empty or starts with a
// quote, so that a quoted name is never mistaken for a plain one): a name
// cannot move the cursor, color the terminal, break the table or pass for
// another.
func printable(name string) string {
	if name == "" || name[0] == '"' || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(name)
	}
	return name
}
