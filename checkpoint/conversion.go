package checkpoint

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
)

// ConfigCopy asks a conversion to write, with its weights, the Hugging
// Face config.json read from From to To, with the quantization_config
// that matches what was written (see QuantizationConfig and
// WriteModelConfig). From is read, and checked, before any work. To may
// be From itself (the file is then updated in place), but no other file
// the conversion reads. The zero value writes no config.
type ConfigCopy struct{ From, To string }

// conversion is what QuantizeFile, DequantizeFile and MergeFile share: the
// open input and its items, every file read, and where the output goes.
type conversion struct {
	*Checkpoint
	items  []Item
	out    string
	config ConfigCopy
	model  map[string]json.RawMessage // config.From as read
}

// startConversion opens the checkpoint in and lists its items. Before
// any work it checks the outputs (OUT, its shards and index with
// maxShard, the config) against every file the conversion reads: the
// checkpoint's files, the others read before (an adapter's), the
// config.json beside the input (which belongs to the input model, and
// which no checkpoint output may replace), and config.From.
func startConversion(in, out string, maxShard int64, others inputFiles, config ConfigCopy) (v *conversion, err error) {
	if err := CheckOutput(out); err != nil {
		return nil, err
	}
	if (config.From == "") != (config.To == "") {
		return nil, fileErr(config.From+config.To, "a config.json copy needs both a source and a target")
	}
	if config.To != "" {
		if err := CheckOutput(config.To); err != nil {
			return nil, err
		}
	}
	c, err := Open(in)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.inputs = append(c.inputs, others...)
	if err := c.inputs.refuse(out); err != nil {
		return nil, err
	}
	if maxShard > 0 {
		if err := CheckOutput(out + IndexSuffix); err != nil {
			return nil, err
		}
		if err := c.inputs.refuseShards(out); err != nil {
			return nil, err
		}
	}
	if config.To != "" {
		if err := c.inputs.refuse(config.To); err != nil {
			return nil, err
		}
		for _, o := range []string{out, out + IndexSuffix} {
			if outputKey(config.To) == outputKey(o) {
				return nil, fileErr(config.To, "is also where the checkpoint goes (%s); write the config elsewhere", o)
			}
		}
	}
	// The config files are read whole before anything is written, so
	// --config may update one in place; OUT may replace neither.
	var configs inputFiles
	beside := filepath.Join(filepath.Dir(in), ConfigFile)
	if st, err := os.Stat(beside); err == nil && st.Mode().IsRegular() {
		configs = append(configs, inputFile{beside, st})
	}
	v = &conversion{Checkpoint: c, out: out, config: config}
	if config.From != "" {
		model, st, err := readModelConfig(config.From)
		if err != nil {
			return nil, err
		}
		v.model = model
		configs = append(configs, inputFile{config.From, st})
	}
	if err := configs.refuse(out); err != nil {
		return nil, err
	}
	c.inputs = append(c.inputs, configs...)
	if v.items, err = c.Items(); err != nil {
		return nil, err
	}
	return v, nil
}

// write writes the checkpoint's entries to the output (shards with
// maxShard) and the config, all committed together, and records in rep
// what was written.
func (v *conversion) write(ctx context.Context, es []Entry, rep *Report, maxShard int64, progress Progress) (err error) {
	spec := outputSpec{path: v.out, metadata: v.Metadata, entries: es, maxShard: maxShard, progress: progress,
		refuse: v.inputs.refuse}
	if v.config.To != "" {
		spec.extra = []extraFile{{v.config.To, func() ([]byte, error) {
			return encodeModelConfig(v.config.From, v.model, QuantizationConfig(rep))
		}}}
		// The config read may be updated in place.
		spec.refuse = func(p string) error {
			if p == v.config.To {
				return nil
			}
			return v.inputs.refuse(p)
		}
	}
	if rep.Files, err = writeOutput(ctx, spec); err != nil {
		return err
	}
	rep.Config = v.config.To
	return nil
}
