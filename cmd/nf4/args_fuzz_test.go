package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCommandLine runs the command in process on command lines made of
// its own words (commands, flags, values, and paths in a test folder: the
// checkpoints and adapter, new outputs, a folder, names that do not
// exist). Whatever the line, it ends with exit 0, 1 or 2, never a panic;
// it never changes a file it reads (its checkpoint, the config.json beside
// it, the adapter's files), whatever it is told to write; and it leaves no
// temporary behind. A file of the folder that a run writes without reading
// it is put back for the next.
func FuzzCommandLine(f *testing.F) {
	fixed := f.TempDir()
	in := floatModel(f, fixed)
	os.WriteFile(filepath.Join(fixed, "config.json"), []byte(modelConfig), 0o644)
	os.Mkdir(filepath.Join(fixed, "base"), 0o755)
	base, adapter := nf4Model(f, filepath.Join(fixed, "base"))
	// The config.json beside the input is one too, but not a word: --config
	// may name it, to update it in place.
	inputs := []string{in, base, filepath.Join(adapter, "adapter_model.safetensors"), filepath.Join(adapter, "adapter_config.json")}
	watched := append([]string{filepath.Join(fixed, "config.json")}, inputs...)
	words := []string{"quantize", "dequantize", "merge", "inspect", "help",
		"--block-size", "--double-quant", "--quant-type", "--flat", "--include", "--exclude", "--shard-size",
		"--config", "--no-config", "--quiet", "--dtype", "--allow-overflow", "--float", "--help", "--", "-",
		"--block-size=32", "--quant-type=fp4", "--dtype=F16", "--shard-size=1KB", "--include=(", "--double-quant=false",
		"64", "48", "0", "-1", "fp4", "nf4", "F16", "BF16", "1KB", "1", ".", "weight$", "",
		adapter, fixed, "out.safetensors", "out.bin", "sub/out.safetensors", "config.json", "missing/x.safetensors"}
	words = append(words, inputs...)
	hashes := func() map[string]string {
		m := map[string]string{}
		for _, p := range watched {
			b, _ := os.ReadFile(p)
			m[p] = string(b)
		}
		return m
	}
	want := hashes()
	if len(words) != 51 {
		f.Fatalf("%d words: the seeds below index them", len(words))
	}
	// quantize IN OUT; quantize --double-quant --quant-type fp4 IN OUT;
	// merge BASE ADAPTER OUT; dequantize --dtype F16 BASE sub/OUT;
	// quantize IN IN; merge BASE ADAPTER ADAPTER/adapter_model.safetensors;
	// quantize --shard-size=1KB IN OUT; inspect BASE; quantize -- BASE
	// ADAPTER/adapter_model.safetensors --quiet (three arguments).
	for _, seed := range [][]byte{{0, 47, 42}, {0, 6, 7, 31, 47, 42}, {2, 48, 40, 42}, {1, 15, 33, 48, 44},
		{0, 47, 47}, {2, 48, 40, 49}, {0, 24, 47, 42}, {3, 48}, {0, 19, 48, 49, 14}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) > 12 {
			return
		}
		// Every relative word (an output named "64" or "--quiet" too) is a
		// path in this run's folder.
		out := t.TempDir()
		t.Chdir(out)
		os.Mkdir("sub", 0o755)
		var args []string
		for _, b := range line {
			args = append(args, words[int(b)%len(words)])
		}
		var stderr bytes.Buffer
		code := run(context.Background(), args, io.Discard, &stderr)
		if code != exitOK && code != exitFailed && code != exitUsage {
			t.Fatalf("nf4 %q: exit %d", args, code)
		}
		if code != exitOK && stderr.Len() == 0 {
			t.Errorf("nf4 %q: exit %d without a word", args, code)
		}
		read := readBy(args, adapter)
		for p, b := range hashes() {
			if b == want[p] {
				continue
			}
			os.WriteFile(p, []byte(want[p]), 0o644) // put back for the next run, failing or not
			if read[p] {
				t.Errorf("nf4 %q changed its input %s", args, p)
			}
		}
		for _, dir := range []string{fixed, filepath.Dir(base), adapter, out, "sub"} {
			if m, _ := filepath.Glob(filepath.Join(dir, ".*.nf4tmp")); len(m) > 0 {
				t.Fatalf("nf4 %q left %v", args, m)
			}
		}
	})
}

// readBy returns the files that the command line args reads, as far as
// its positional arguments tell: every one but OUT (for inspect, all), the
// config.json beside the first, and an adapter folder's files.
func readBy(args []string, adapter string) map[string]bool {
	if len(args) == 0 {
		return nil
	}
	takesValue := map[string]bool{"--block-size": true, "--quant-type": true, "--include": true, "--exclude": true,
		"--shard-size": true, "--config": true, "--dtype": true}
	var pos []string
	rest := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case rest || a == "-" || !strings.HasPrefix(a, "-"):
			pos = append(pos, a)
		case a == "--":
			rest = true
		case takesValue[a]:
			i++
		}
	}
	if args[0] != "inspect" && len(pos) > 0 {
		pos = pos[:len(pos)-1]
	}
	read := map[string]bool{}
	for i, p := range pos {
		read[p] = true
		if i == 0 {
			read[filepath.Join(filepath.Dir(p), "config.json")] = true
		}
		if p == adapter {
			read[filepath.Join(adapter, "adapter_model.safetensors")] = true
			read[filepath.Join(adapter, "adapter_config.json")] = true
		}
	}
	return read
}
