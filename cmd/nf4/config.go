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

// configFlags are the flags every converting command shares.
type configFlags struct {
	path string
	none bool
}

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	c := &configFlags{}
	fs.StringVar(&c.path, "config", "", "write the Hugging Face config.json here (default: beside OUT, see above)")
	fs.BoolVar(&c.none, "no-config", false, "do not write a config.json")
	return c
}

func (c *configFlags) check() error {
	if c.none && c.path != "" {
		return usagef("--config and --no-config exclude each other")
	}
	return nil
}

// write brings the model's config.json in line with the checkpoint just
// written to out from in. It never touches the config.json beside the
// input unless --config names it.
func (c *configFlags) write(in, out string, rep *checkpoint.Report, stdout io.Writer, quiet bool) error {
	if c.none {
		return nil
	}
	inCfg := filepath.Join(filepath.Dir(in), checkpoint.ConfigFile)
	target := c.path
	if target == "" {
		target = filepath.Join(filepath.Dir(out), checkpoint.ConfigFile)
		if !exists(inCfg) {
			return nil
		}
		if sameFile(inCfg, target) {
			if !quiet {
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
		return fmt.Errorf("--config %s: no config.json beside %s to start from", c.path, in)
	}
	if err := checkpoint.WriteModelConfig(src, target, checkpoint.QuantizationConfig(rep)); err != nil {
		return err
	}
	if !quiet {
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
