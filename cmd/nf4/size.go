package main

import (
	"strconv"
	"strings"
)

const shardHelp = `
--shard-size SIZE splits OUT (a name ending in .safetensors) into
Hugging Face shards of at most SIZE bytes of tensors each, written beside
it as NAME-00001-of-0000N.safetensors with NAME.safetensors.index.json;
SIZE is a number of bytes with an optional unit (KB, MB, GB, as 10^3…;
KiB, MiB, GiB, as 2^10…). A weight stays whole in one shard.
`

// parseSize reads a byte count such as 5GB, 500MiB or 1048576; empty is 0.
func parseSize(flag, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0) || v*float64(mult) > 1<<62 {
		return 0, usagef("--%s %q: want a positive size such as 5GB, 2GiB or 1048576", flag, s)
	}
	n := int64(v * float64(mult))
	if n < 1 {
		return 0, usagef("--%s %q: less than one byte", flag, s)
	}
	return n, nil
}
