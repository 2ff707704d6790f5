package main

import (
	"context"
	"io"

	"github.com/nf4go/nf4/checkpoint"
)

const mergeUsage = `usage: nf4 merge [--float] [--dtype F32|F16|BF16] [--allow-overflow] [--shard-size SIZE] [--config PATH | --no-config] [--quiet] BASE ADAPTER_DIR OUT

Merges the PEFT LoRA adapter in ADAPTER_DIR (adapter_model.safetensors and
adapter_config.json) into the checkpoint BASE and writes OUT: each adapted
weight W becomes W + (lora_alpha/r)·B·A. An NF4 weight is dequantized,
merged and requantized with its own block size and double quantization,
and the requantization error is reported; with --float it is written as a
float tensor instead. Float weights stay float. Every other tensor is
copied unchanged. An adapter whose shapes do not match its base weight,
whose base weight is missing, or that holds a NaN or Inf, is an error; so
is a merged float value beyond the range of its dtype, unless
--allow-overflow writes it as ±Inf.
` + shardHelp + configHelp + outputHelp + `
Exit status: 0 success, 1 failure, 2 usage error.
`

func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", mergeUsage, stdout)
	float := fs.Bool("float", false, "write merged NF4 weights as float instead of requantizing")
	dt := fs.String("dtype", "", "dtype of float outputs: F32, F16 or BF16 (default: as recorded)")
	overflow := fs.Bool("allow-overflow", false, "write merged values beyond the dtype's range as ±Inf instead of failing")
	out := addOutputFlags(fs)
	pos, err := parse(fs, args, 3)
	if err != nil {
		return err
	}
	if err := out.check(pos[2]); err != nil {
		return err
	}
	if err := checkDType(*dt); err != nil {
		return err
	}
	cfg, err := out.configCopy(pos[0], pos[2])
	if err != nil {
		return err
	}
	rep, err := checkpoint.MergeFile(ctx, pos[0], pos[1], pos[2], checkpoint.MergeOptions{
		Float: *float, DType: checkpoint.DType(*dt), AllowOverflow: *overflow, ShardSize: out.shardSize, Config: cfg, Progress: out.start(stderr)})
	return out.finish(pos[2], rep, err, stdout)
}
