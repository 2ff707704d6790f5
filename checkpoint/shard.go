package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IndexSuffix ends the name of a sharded checkpoint's index, written beside
// its shards as Hugging Face does: model.safetensors.index.json.
const IndexSuffix = ".index.json"

// WriteSharded writes entries as Hugging Face shards of at most maxShard
// bytes of tensor data each: for path dir/model.safetensors, the files
// dir/model-00001-of-0000N.safetensors and the index
// dir/model.safetensors.index.json. A weight and its NF4 companions stay
// in one shard; a group larger than maxShard gets a shard of its own. When
// everything fits in one shard, or maxShard is 0, it writes the single
// file path, as WriteFile does.
//
// Every shard is written to a temporary name first and renamed only when
// all are complete; the index comes last. A run that fails leaves no new
// file behind. It returns the files written, the index last. isInput, when not nil, reports whether a path is one of the
// files being read, which must never be overwritten.
func WriteSharded(ctx context.Context, path string, metadata map[string]string, entries []Entry, maxShard int64, isInput func(string) bool, progress Progress) ([]string, error) {
	if maxShard < 0 {
		return nil, fileErr(path, "shard size %d is negative", maxShard)
	}
	shards := packShards(entries, maxShard)
	if len(shards) <= 1 {
		if isInput != nil && isInput(path) {
			return nil, fileErr(path, "is an input file; write to another path")
		}
		return []string{path}, WriteFile(ctx, path, metadata, entries, progress)
	}
	stem, ok := strings.CutSuffix(path, ".safetensors")
	if !ok {
		return nil, fileErr(path, "a sharded output needs a name ending in .safetensors")
	}
	names := make([]string, len(shards))
	for i := range shards {
		names[i] = fmt.Sprintf("%s-%05d-of-%05d.safetensors", stem, i+1, len(shards))
	}
	index := path + IndexSuffix
	for _, p := range append(names[:len(names):len(names)], index) {
		if isInput != nil && isInput(p) {
			return nil, fileErr(p, "is an input file; write to another path")
		}
	}

	var total, tensorBytes int64
	for i := range entries {
		total += entries[i].size()
	}
	tensorBytes = total
	var done int64
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	weightMap := map[string]string{}
	for i, es := range shards {
		tmp, err := tempName(names[i])
		if err != nil {
			return nil, err
		}
		temps = append(temps, tmp)
		var sum int64
		for j := range es {
			sum += es[j].size()
			weightMap[es[j].Name] = filepath.Base(names[i])
		}
		var report Progress
		if progress != nil {
			base := done
			report = func(d, t int64) { progress(base+min(d, sum), total) }
		}
		if err := WriteFile(ctx, tmp, metadata, es, report); err != nil {
			var ce *Error
			if errors.As(err, &ce) && ce.File == tmp {
				ce.File = names[i]
			}
			return nil, err
		}
		done += sum
	}
	for i, tmp := range temps {
		if err := os.Rename(tmp, names[i]); err != nil {
			return nil, fileErr(names[i], "%v", err)
		}
	}
	temps = nil
	idx := struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]any{"total_size": tensorBytes}, weightMap}
	js, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fileErr(index, "%v", err)
	}
	if err := WriteFileAtomic(index, append(js, '\n')); err != nil {
		for _, n := range names {
			os.Remove(n)
		}
		return nil, fileErr(index, "%v", err)
	}
	return append(names, index), nil
}

// packShards groups a weight with the NF4 companions that follow it and
// fills shards greedily in order, so the output keeps the input's order.
func packShards(entries []Entry, maxShard int64) [][]Entry {
	var groups [][]Entry
	for i := range entries {
		e := entries[i]
		if n := len(groups); n > 0 && isCompanionOf(e.Name, groups[n-1][0].Name) {
			groups[n-1] = append(groups[n-1], e)
			continue
		}
		groups = append(groups, []Entry{e})
	}
	var shards [][]Entry
	var size int64
	for _, g := range groups {
		var gs int64
		for j := range g {
			gs += g[j].size()
		}
		if len(shards) == 0 || maxShard > 0 && size > 0 && size+gs > maxShard {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], g...)
		size += gs
	}
	return shards
}

func isCompanionOf(name, weight string) bool {
	for _, s := range companions {
		if name == weight+s {
			return true
		}
	}
	return false
}

// tempName reserves a temporary file beside path.
func tempName(path string) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return "", err
	}
	name := f.Name()
	return name, f.Close()
}
