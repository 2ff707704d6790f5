package main

import (
	"context"
	"io"

	"github.com/nf4go/nf4/checkpoint"
)

const dequantizeUsage = `usage: nf4 dequantize [--dtype F32|F16|BF16] [--allow-overflow] [--shard-size SIZE] [--config PATH | --no-config] [--quiet] IN OUT

Writes the checkpoint IN to OUT with every NF4 weight (bitsandbytes
layout) turned back into a float tensor [out, in]. By default each weight
gets the dtype recorded in its quant state (the dtype it had before
quantization). Other tensors and the metadata are copied unchanged. A
value beyond the range of the dtype (65504 for F16) is an error naming
the tensor, row and column, unless --allow-overflow writes it as ±Inf.
` + shardHelp + configHelp + outputHelp + `
Exit status: 0 success, 1 failure, 2 usage error.
`

func runDequantize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dequantize", dequantizeUsage, stdout)
	dt := fs.String("dtype", "", "dtype of the float weights: F32, F16 or BF16 (default: as recorded)")
	overflow := fs.Bool("allow-overflow", false, "write values beyond the dtype's range as ±Inf instead of failing")
	out := addOutputFlags(fs)
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	if err := out.check(pos[1]); err != nil {
		return err
	}
	if err := checkDType(*dt); err != nil {
		return err
	}
	cfg, err := out.configCopy(pos[0], pos[1])
	if err != nil {
		return err
	}
	rep, err := checkpoint.DequantizeFile(ctx, pos[0], pos[1], checkpoint.DequantizeOptions{
		DType: checkpoint.DType(*dt), AllowOverflow: *overflow, ShardSize: out.shardSize, Config: cfg, Progress: out.start(stderr)})
	return out.finish(pos[1], rep, err, stdout)
}

func checkDType(s string) error {
	switch s {
	case "", "F32", "F16", "BF16":
		return nil
	}
	return usagef("--dtype %q: want F32, F16 or BF16", s)
}
