package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nf4go/nf4/checkpoint"
)

const configHelp = `
A Hugging Face model keeps a config.json beside its weights, and
transformers loads 4-bit weights only when it carries a
"quantization_config". When IN has a config.json beside it and OUT is in
another folder, the command writes a config.json into OUT's folder with the
quantization_config that matches what it wrote (or without one, when no
NF4 weight is left); a config.json already in OUT's folder is updated
instead. --config PATH writes it to PATH (which may be the config.json
beside IN, updated in place, but no other file the command reads);
--no-config writes none. The config.json is read and checked before any
work, and OUT never replaces the one beside IN.
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
	note       string // what was left alone, said after the summary
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
	if o.shardSize, err = parseSize("shard-size", o.shard); err != nil || o.shardSize == 0 {
		return err
	}
	return checkShardOutputs(out)
}

// checkShardOutputs refuses, as checkOutput does, the index of a sharded
// OUT and every file beside it named like one of its shards: their number
// is known only once the weights are planned.
func checkShardOutputs(out string) error {
	stem, ok := strings.CutSuffix(filepath.Base(out), ".safetensors")
	if !ok {
		return usagef("OUT %s: --shard-size needs a name ending in .safetensors", out)
	}
	if err := checkOutput("OUT's index", out+checkpoint.IndexSuffix); err != nil {
		return err
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	like := regexp.MustCompile("^" + regexp.QuoteMeta(stem) + `-\d{5}-of-\d{5}\.safetensors$`)
	for _, e := range ents {
		if like.MatchString(e.Name()) {
			if err := checkOutput("OUT's shard", filepath.Join(filepath.Dir(out), e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
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

// configCopy decides which config.json the conversion of in to out
// writes, before any work: the one beside OUT (updated, or made from the
// one beside IN) or --config. The config.json beside IN is left alone
// when OUT is in IN's folder, unless --config names it.
func (o *outputFlags) configCopy(in, out string) (checkpoint.ConfigCopy, error) {
	if o.noConfig {
		return checkpoint.ConfigCopy{}, nil
	}
	inCfg := filepath.Join(filepath.Dir(in), checkpoint.ConfigFile)
	target := o.configPath
	if target == "" {
		target = filepath.Join(filepath.Dir(out), checkpoint.ConfigFile)
		if !exists(inCfg) {
			return checkpoint.ConfigCopy{}, nil
		}
		if sameFile(inCfg, target) {
			why := "OUT is in the input's folder"
			if !sameFile(filepath.Dir(in), filepath.Dir(out)) {
				why = target + " is the input's config.json"
			}
			o.note = fmt.Sprintf("%s left alone: %s (use --config PATH)", inCfg, why)
			return checkpoint.ConfigCopy{}, nil
		}
	}
	src := target
	if !exists(src) {
		src = inCfg
	}
	if !exists(src) {
		return checkpoint.ConfigCopy{}, fmt.Errorf("--config %s: no config.json beside %s to start from", o.configPath, in)
	}
	return checkpoint.ConfigCopy{From: src, To: target}, nil
}

// finish ends the progress display and, when the conversion of in to out
// succeeded, prints its summary.
func (o *outputFlags) finish(out string, rep *checkpoint.Report, err error, stdout io.Writer) error {
	o.progress.finish()
	if err != nil {
		return err
	}
	if !o.quiet {
		printReport(stdout, rep, out)
		if rep.Config != "" {
			fmt.Fprintf(stdout, "wrote %s\n", rep.Config)
		}
		if o.note != "" {
			fmt.Fprintln(stdout, o.note)
		}
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
