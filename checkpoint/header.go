package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// MaxHeaderBytes bounds the JSON header of a safetensors file, as the
// reference implementation does: real headers are kilobytes, and a corrupt
// length must not turn into a huge allocation. The reader refuses a longer
// header and the writer never writes one, so every file written here reads
// back.
const MaxHeaderBytes = 100 << 20

// TensorInfo describes one tensor of a checkpoint.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	File  string // the file (shard) holding it
	Size  int64  // bytes
	off   int64  // from the start of the file
}

// Elements returns the product of the shape.
func (t *TensorInfo) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

type rawInfo struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// parseHeader checks the whole layout of a safetensors file of the given
// size whose first bytes are head (at least the 8-byte length and the
// header), and returns the tensors in file order.
func parseHeader(path string, head []byte, size int64) (map[string]string, []TensorInfo, error) {
	if size < 8 || len(head) < 8 {
		return nil, nil, fileErr(path, "truncated: %d bytes, too short for the 8-byte header length", size)
	}
	n := binary.LittleEndian.Uint64(head)
	if n > uint64(size-8) {
		return nil, nil, fileErr(path, "header length %d runs past the end of the file (%d bytes)", n, size)
	}
	if n > MaxHeaderBytes {
		return nil, nil, fileErr(path, "header length %d is larger than the %d-byte limit", n, MaxHeaderBytes)
	}
	if uint64(len(head)) < 8+n {
		return nil, nil, fileErr(path, "truncated header")
	}
	meta, infos, err := decodeHeader(path, head[8:8+n])
	if err != nil {
		return nil, nil, err
	}
	dataStart := 8 + int64(n)
	if err := checkLayout(path, infos, size-dataStart); err != nil {
		return nil, nil, err
	}
	for i := range infos {
		infos[i].off += dataStart
	}
	return meta, infos, nil
}

// decodeHeader reads the JSON object token by token, so duplicate names
// and a non-object header are caught rather than silently merged.
func decodeHeader(path string, js []byte) (map[string]string, []TensorInfo, error) {
	bad := func(err error) error { return fileErr(path, "malformed header JSON: %v", err) }
	if s := firstBadString(js); s != nil {
		return nil, nil, fileErr(path, "header string %q is not valid UTF-8 (or holds an unpaired surrogate escape): it could not be kept byte for byte", s)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	if tok, err := dec.Token(); err != nil {
		return nil, nil, bad(err)
	} else if tok != json.Delim('{') {
		return nil, nil, bad(errors.New("want a JSON object"))
	}
	var meta map[string]string
	var infos []TensorInfo
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad(err)
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, nil, tensorErr(path, name, "appears twice in the header")
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fileErr(path, "malformed __metadata__: %v (want an object of strings)", err)
			}
			continue
		}
		var r rawInfo
		if err := dec.Decode(&r); err != nil {
			return nil, nil, tensorErr(path, name, "malformed header entry: %v", err)
		}
		info, err := r.check(path, name)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, bad(errors.New("data after the header object"))
	}
	return meta, infos, nil
}

func (r *rawInfo) check(path, name string) (TensorInfo, error) {
	if r.DType == nil || r.Shape == nil || r.Offsets == nil {
		return TensorInfo{}, tensorErr(path, name, "header entry needs dtype, shape and data_offsets")
	}
	dt := DType(*r.DType)
	if dt.Size() == 0 {
		return TensorInfo{}, tensorErr(path, name, "unknown dtype %q", *r.DType)
	}
	if len(*r.Offsets) != 2 {
		return TensorInfo{}, tensorErr(path, name, "data_offsets has %d values, want 2", len(*r.Offsets))
	}
	begin, end := (*r.Offsets)[0], (*r.Offsets)[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, tensorErr(path, name, "data_offsets [%d, %d] are not an ascending pair", begin, end)
	}
	size, why := tensorSize(dt, *r.Shape)
	if why != "" {
		return TensorInfo{}, tensorErr(path, name, "%s", why)
	}
	if end-begin != size {
		return TensorInfo{}, tensorErr(path, name, "byte length %d does not match dtype %s × shape %v (%d bytes)", end-begin, dt, *r.Shape, size)
	}
	shape := make([]int, len(*r.Shape))
	for i, d := range *r.Shape {
		shape[i] = int(d)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, File: path, Size: end - begin, off: begin}, nil
}

// checkLayout requires the tensors to tile the data section exactly: no
// offsets past its end, no overlaps, no holes.
func checkLayout(path string, infos []TensorInfo, dataLen int64) error {
	order := make([]int, len(infos))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := &infos[order[a]], &infos[order[b]]
		return x.off < y.off || x.off == y.off && x.Size < y.Size
	})
	var at int64
	prev := ""
	for _, i := range order {
		t := &infos[i]
		switch {
		case t.off+t.Size > dataLen:
			return tensorErr(path, t.Name, "data_offsets [%d, %d] run past the end of the data (%d bytes): the file is truncated or the header is wrong", t.off, t.off+t.Size, dataLen)
		case t.off < at:
			return tensorErr(path, t.Name, "data_offsets [%d, %d] overlap tensor %q", t.off, t.off+t.Size, prev)
		case t.off > at:
			return tensorErr(path, t.Name, "data_offsets start at %d, leaving a hole after byte %d", t.off, at)
		}
		at = t.off + t.Size
		prev = t.Name
	}
	if at != dataLen {
		return fileErr(path, "%d bytes after the last tensor are not described by the header", dataLen-at)
	}
	return nil
}

func (t *TensorInfo) String() string {
	return fmt.Sprintf("%s %s%v", t.Name, t.DType, t.Shape)
}
