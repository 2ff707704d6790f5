package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nf4go/nf4/checkpoint"
)

const configHelp = `
A Hugging Face model keeps a config.json beside its weights, and
transformers loads 4-bit weights only when it carries a
"quantization_config". When IN has a config.json beside it and OUT is in
another folder, the command writes a config.json into OUT's folder with the
quantization_config that matches what it wrote (or without one, when no
NF4 weight is left); a config.json already in OUT's folder is updated
instead. --config PATH writes it to PATH; --no-config writes none.
`

// outputFlags are the flags of every command that writes a checkpoint,
// and what they set up: progress, shards, the summary and config.json.
type outputFlags struct {
	quiet      bool
	configPath string
	noConfig   bool
	shard      string
	shardSize  int64
	progress   *progress
}

func addOutputFlags(fs *flag.FlagSet) *outputFlags {
	o := &outputFlags{}
	fs.BoolVar(&o.quiet, "quiet", false, "no progress or summary output")
	fs.StringVar(&o.shard, "shard-size", "", "split OUT into Hugging Face shards of at most this size (e.g. 5GB, 2GiB)")
	fs.StringVar(&o.configPath, "config", "", "write the Hugging Face config.json here (default: beside OUT, see above)")
	fs.BoolVar(&o.noConfig, "no-config", false, "do not write a config.json")
	return o
}

// check validates the flags once they are parsed, and the output path
// out, before any work.
func (o *outputFlags) check(out string) (err error) {
	if o.noConfig && o.configPath != "" {
		return usagef("--config and --no-config exclude each other")
	}
	if err := checkOutput("OUT", out); err != nil {
		return err
	}
	if o.configPath != "" {
		if err := checkOutput("--config", o.configPath); err != nil {
			return err
		}
	}
	o.shardSize, err = parseSize("shard-size", o.shard)
	return err
}

// checkOutput refuses, as a usage error, an output path that is never
// written (see outputHelp).
func checkOutput(what, path string) error {
	err := checkpoint.CheckOutput(path)
	var ce *checkpoint.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce) && ce.File == "":
		return usagef("%s: %v", what, ce.Err)
	case errors.As(err, &ce):
		return usagef("%s %s: %v", what, ce.File, ce.Err)
	}
	return usagef("%s: %v", what, err)
}

// start returns the progress callback for the conversion.
func (o *outputFlags) start(stderr io.Writer) checkpoint.Progress {
	o.progress = newProgress(stderr, o.quiet)
	return o.progress.update
}

// finish ends the progress display and, when the conversion of in to out
// succeeded, prints its summary and writes the model's config.json.
func (o *outputFlags) finish(in, out string, rep *checkpoint.Report, err error, stdout io.Writer) error {
	o.progress.finish()
	if err != nil {
		return err
	}
	if !o.quiet {
		printReport(stdout, rep, out)
	}
	return o.writeConfig(in, out, rep, stdout)
}

// write brings the model's config.json in line with the checkpoint just
// written to out from in. It never touches the config.json beside the
// input unless --config names it.
func (o *outputFlags) writeConfig(in, out string, rep *checkpoint.Report, stdout io.Writer) error {
	if o.noConfig {
		return nil
	}
	inCfg := filepath.Join(filepath.Dir(in), checkpoint.ConfigFile)
	target := o.configPath
	if target == "" {
		target = filepath.Join(filepath.Dir(out), checkpoint.ConfigFile)
		if !exists(inCfg) {
			return nil
		}
		if sameFile(inCfg, target) {
			if !o.quiet {
				fmt.Fprintf(stdout, "%s left alone: OUT is in the input's folder (use --config PATH)\n", inCfg)
			}
			return nil
		}
	}
	src := target
	if !exists(src) {
		src = inCfg
	}
	if !exists(src) {
		return fmt.Errorf("--config %s: no config.json beside %s to start from", o.configPath, in)
	}
	if err := checkpoint.WriteModelConfig(src, target, checkpoint.QuantizationConfig(rep)); err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(stdout, "wrote %s\n", target)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
