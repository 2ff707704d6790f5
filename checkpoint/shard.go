package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
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
// Every file, the index too, is written to a temporary name first, and
// all are renamed into place only once every one is complete: a run that
// fails or is cancelled leaves the files of an earlier output exactly as
// they were, and removes only the temporaries it made. It returns the
// files written, the index last. isInput, when not nil, reports whether a
// path is one of the files being read, which must never be overwritten.
func WriteSharded(ctx context.Context, path string, metadata map[string]string, entries []Entry, maxShard int64, isInput func(string) bool, progress Progress) ([]string, error) {
	refuse := func(string) error { return nil }
	if isInput != nil {
		refuse = func(p string) error {
			if isInput(p) {
				return fileErr(p, "is an input file; write to another path")
			}
			return nil
		}
	}
	return writeOutput(ctx, outputSpec{path: path, metadata: metadata, entries: entries, maxShard: maxShard,
		refuse: refuse, progress: progress})
}

// outputSpec is everything one run writes: a checkpoint, in shards or
// not, and files that go with it (a config.json).
type outputSpec struct {
	path     string
	metadata map[string]string
	entries  []Entry
	maxShard int64
	refuse   func(path string) error // refuses a path that is an input
	progress Progress
	extra    []extraFile // written after the checkpoint
}

// extraFile is a file written with a checkpoint, whose bytes are known
// only once the checkpoint is written.
type extraFile struct {
	path string
	data func() ([]byte, error)
}

// writeOutput writes everything s describes through one outputSet, so it
// is committed together or not at all.
func writeOutput(ctx context.Context, s outputSpec) (files []string, err error) {
	var set outputSet
	defer set.abort()
	defer guardMapped(&err)() // runs first: a fault is an error before abort
	if s.maxShard < 0 {
		return nil, fileErr(s.path, "shard size %d is negative", s.maxShard)
	}
	if s.refuse == nil {
		s.refuse = func(string) error { return nil }
	}
	// Names are unique across shards too: the index maps them to shards.
	used := make(map[string]bool, len(s.entries))
	for i := range s.entries {
		n := s.entries[i].Name
		if used[n] {
			return nil, tensorErr(s.path, n, "name used twice")
		}
		used[n] = true
	}
	shards := packShards(s.entries, s.maxShard)
	names := []string{s.path}
	index := ""
	if len(shards) > 1 {
		stem, ok := strings.CutSuffix(s.path, ".safetensors")
		if !ok {
			return nil, fileErr(s.path, "a sharded output needs a name ending in .safetensors")
		}
		names = make([]string, len(shards))
		for i := range shards {
			names[i] = fmt.Sprintf("%s-%05d-of-%05d.safetensors", stem, i+1, len(shards))
		}
		index = s.path + IndexSuffix
	} else if len(shards) == 0 {
		shards = [][]Entry{nil}
	}
	// Every header is encoded, and so checked, before a file is made.
	headers := make([][]byte, len(shards))
	sizes := make([]int64, len(shards))
	for i, es := range shards {
		if headers[i], sizes[i], err = encodeHeader(names[i], s.metadata, es); err != nil {
			return nil, err
		}
	}
	all := append([]string(nil), names...)
	if index != "" {
		all = append(all, index)
	}
	for _, x := range s.extra {
		all = append(all, x.path)
	}
	seen := map[string]string{}
	for _, p := range all {
		if err := s.refuse(p); err != nil {
			return nil, err
		}
		if q, dup := seen[outputKey(p)]; dup {
			return nil, fileErr(p, "is the same file as %s, also written by this run", q)
		}
		seen[outputKey(p)] = p
	}

	var total int64
	for _, n := range sizes {
		total += n
	}
	var done int64
	weightMap := map[string]string{}
	for i, es := range shards {
		o, err := set.create(names[i])
		if err != nil {
			return nil, err
		}
		var report Progress
		if s.progress != nil {
			base, sum := done, sizes[i]
			report = func(d, _ int64) { s.progress(base+min(d, sum), total) }
		}
		if err := writeData(ctx, o, names[i], headers[i], sizes[i], es, report); err != nil {
			return nil, err
		}
		done += sizes[i]
		for j := range es {
			weightMap[es[j].Name] = filepath.Base(names[i])
		}
	}
	files = names
	if index != "" {
		idx := struct {
			Metadata  map[string]any    `json:"metadata"`
			WeightMap map[string]string `json:"weight_map"`
		}{map[string]any{"total_size": total}, weightMap}
		js, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			return nil, fileErr(index, "%v", err)
		}
		if err := writeWhole(&set, index, append(js, '\n')); err != nil {
			return nil, err
		}
		files = append(files, index)
	}
	for _, x := range s.extra {
		data, err := x.data()
		if err != nil {
			return nil, err
		}
		if err := writeWhole(&set, x.path, data); err != nil {
			return nil, err
		}
	}
	if err := set.commit(ctx); err != nil {
		return nil, err
	}
	return files, nil
}

// writeWhole adds the file path holding data to set.
func writeWhole(set *outputSet, path string, data []byte) error {
	o, err := set.create(path)
	if err != nil {
		return err
	}
	if _, err := o.Write(data); err != nil {
		return fileErr(path, "write: %w", pathless(err))
	}
	return nil
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
