package checkpoint

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edsrzf/mmap-go"
)

// Checkpoint is an open safetensors file, or a sharded set of them read
// through its index. Tensor data is memory-mapped, not loaded.
type Checkpoint struct {
	Path     string
	Metadata map[string]string // the __metadata__ of the (first) file

	infos  []TensorInfo
	byName map[string]int
	data   map[string][]byte // file path → its bytes
	maps   []mmap.MMap
	inputs inputFiles // every file read: the index, the shards
}

// Open opens a .safetensors file, or a sharded checkpoint through its
// *.safetensors.index.json, and checks its whole layout.
func Open(path string) (*Checkpoint, error) {
	if strings.HasSuffix(path, ".json") {
		return openIndex(path)
	}
	c := &Checkpoint{Path: path, byName: map[string]int{}, data: map[string][]byte{}}
	if err := c.add(path); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// FromBytes reads a safetensors file held in memory; name is used in
// errors. The checkpoint refers to data, which must not change.
func FromBytes(name string, data []byte) (*Checkpoint, error) {
	c := &Checkpoint{Path: name, byName: map[string]int{}, data: map[string][]byte{}}
	if err := c.addBytes(name, data); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) add(path string) (err error) {
	defer guardMapped(&err)()
	f, st, err := openInput(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c.inputs = append(c.inputs, inputFile{path, st})
	if st.Size() < 8 {
		return fileErr(path, "truncated: %d bytes, too short for the 8-byte header length", st.Size())
	}
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		return fileErr(path, "map: %v", err)
	}
	c.maps = append(c.maps, m)
	registerMapping(m, path)
	return c.addBytes(path, m)
}

func (c *Checkpoint) addBytes(path string, data []byte) error {
	meta, infos, err := parseHeader(path, data, int64(len(data)))
	if err != nil {
		return err
	}
	if c.Metadata == nil {
		c.Metadata = meta
	}
	c.data[path] = data
	for _, t := range infos {
		if _, dup := c.byName[t.Name]; dup {
			return tensorErr(path, t.Name, "also in %s", c.infos[c.byName[t.Name]].File)
		}
		c.byName[t.Name] = len(c.infos)
		c.infos = append(c.infos, t)
	}
	return nil
}

// openIndex opens the shards a Hugging Face index lists and checks that
// every tensor it names is where it says.
func openIndex(path string) (*Checkpoint, error) {
	js, st, err := readInput(path, maxSideFile)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(js, &idx); err != nil {
		return nil, fileErr(path, "malformed index JSON: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fileErr(path, "index has no weight_map")
	}
	shards := map[string]bool{}
	for name, shard := range idx.WeightMap {
		if shard == "" || filepath.Base(shard) != shard || shard == ".." {
			return nil, tensorErr(path, name, "shard %q is not a plain file name", shard)
		}
		shards[shard] = true
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	sort.Strings(names)
	c := &Checkpoint{Path: path, byName: map[string]int{}, data: map[string][]byte{},
		inputs: inputFiles{{path, st}}}
	for _, s := range names {
		if err := c.add(filepath.Join(filepath.Dir(path), s)); err != nil {
			c.Close()
			return nil, err
		}
	}
	for name, shard := range idx.WeightMap {
		i, ok := c.byName[name]
		if !ok || filepath.Base(c.infos[i].File) != shard {
			c.Close()
			return nil, tensorErr(path, name, "index places it in %s, which does not hold it", shard)
		}
	}
	return c, nil
}

var errNilCheckpoint = errors.New("nil *Checkpoint")

// Close unmaps the files. Slices returned by Raw are invalid afterwards.
func (c *Checkpoint) Close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, m := range c.maps {
		unregisterMapping(m)
		errs = append(errs, m.Unmap())
	}
	c.maps = nil
	c.data = nil
	return errors.Join(errs...)
}

// Tensors returns every tensor, in file order (shards by name).
func (c *Checkpoint) Tensors() []TensorInfo {
	if c == nil {
		return nil
	}
	return append([]TensorInfo(nil), c.infos...)
}

// Info returns the description of the named tensor.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	if c == nil {
		return TensorInfo{}, false
	}
	i, ok := c.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return c.infos[i], true
}

// Has reports whether the checkpoint holds the named tensor.
func (c *Checkpoint) Has(name string) bool { _, ok := c.Info(name); return ok }

// Raw returns the bytes of the named tensor, little-endian as stored. The
// slice is a view of the mapped file: read it only while c is open, and
// know that reading it after another program truncated the file raises
// SIGBUS (Float32s, Dense, NF4 and the writers turn that into an error).
func (c *Checkpoint) Raw(name string) ([]byte, TensorInfo, error) {
	if c == nil {
		return nil, TensorInfo{}, &Error{Tensor: name, Err: errNilCheckpoint}
	}
	t, ok := c.Info(name)
	if !ok {
		return nil, t, tensorErr(c.Path, name, "not in the checkpoint")
	}
	data, ok := c.data[t.File]
	if !ok {
		return nil, t, tensorErr(c.Path, name, "checkpoint is closed")
	}
	return data[t.off : t.off+t.Size : t.off+t.Size], t, nil
}
