package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Entry is one tensor to write. Its bytes come from Data, or when Data is
// nil from Fill, which must write exactly Size bytes: that way a tensor
// can be produced just when it is written, and a large checkpoint never
// has to be held in memory.
type Entry struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
	Size  int64
	Fill  func(io.Writer) error
}

func (e *Entry) size() int64 {
	if e.Data != nil || e.Fill == nil {
		return int64(len(e.Data))
	}
	return e.Size
}

// Progress is told the bytes written so far and the total.
type Progress func(done, total int64)

// WriteFile writes a safetensors file: the entries in order, the
// metadata as __metadata__. It writes to a temporary file next to path
// and renames it into place only when everything is written and synced;
// on any error, or when ctx is cancelled, nothing appears at path and a
// file already there is left as it was. path must be a new name, a
// regular file, or a symbolic link to one (whose target is replaced; see
// CheckOutput).
func WriteFile(ctx context.Context, path string, metadata map[string]string, entries []Entry, progress Progress) error {
	_, err := writeOutput(ctx, outputSpec{path: path, metadata: metadata, entries: entries, progress: progress})
	return err
}

// writeData writes a safetensors file's header and entries to w; errors
// name the file as path.
func writeData(ctx context.Context, f io.Writer, path string, header []byte, total int64, entries []Entry, progress Progress) error {
	w := &counter{w: f, total: int64(len(header)) + total, progress: progress}
	if _, err := w.Write(header); err != nil {
		return fileErr(path, "write: %w", pathless(err))
	}
	for i := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := &entries[i]
		start := w.n
		var err error
		if e.Data != nil || e.Fill == nil {
			_, err = w.Write(e.Data)
			if path, off, ok := mappedData(e.Data); ok && isFault(err) {
				return changedErr(path, off) // the kernel met the fault
			}
		} else {
			err = e.Fill(w)
		}
		var ce *Error
		switch {
		case errors.As(err, &ce):
			return err // names its file and tensor already
		case err != nil:
			return tensorErr(path, e.Name, "write: %w", pathless(err))
		}
		if got := w.n - start; got != e.size() {
			return tensorErr(path, e.Name, "wrote %d bytes, the header promised %d", got, e.size())
		}
	}
	return nil
}

// encodeHeader checks the entries and returns the length-prefixed header,
// padded with spaces to a multiple of 8 bytes as the reference writer does.
func encodeHeader(path string, metadata map[string]string, entries []Entry) ([]byte, int64, error) {
	var js bytes.Buffer
	js.WriteByte('{')
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata)
		if err != nil {
			return nil, 0, err
		}
		js.WriteString(`"__metadata__":`)
		js.Write(m)
	}
	seen := map[string]bool{"__metadata__": true}
	var off int64
	for i := range entries {
		e := &entries[i]
		if seen[e.Name] {
			return nil, 0, tensorErr(path, e.Name, "name used twice, or reserved")
		}
		seen[e.Name] = true
		if e.DType.Size() == 0 {
			return nil, 0, tensorErr(path, e.Name, "unknown dtype %q", e.DType)
		}
		want := int64(e.DType.Size())
		for _, d := range e.Shape {
			if d < 0 {
				return nil, 0, tensorErr(path, e.Name, "negative dimension in shape %v", e.Shape)
			}
			want *= int64(d)
		}
		if e.size() != want {
			return nil, 0, tensorErr(path, e.Name, "%d bytes do not match dtype %s × shape %v (%d bytes)", e.size(), e.DType, e.Shape, want)
		}
		if js.Len() > 1 {
			js.WriteByte(',')
		}
		name, _ := json.Marshal(e.Name)
		js.Write(name)
		fmt.Fprintf(&js, `:{"dtype":%q,"shape":[`, e.DType)
		for j, d := range e.Shape {
			if j > 0 {
				js.WriteByte(',')
			}
			js.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&js, `],"data_offsets":[%d,%d]}`, off, off+want)
		off += want
	}
	js.WriteByte('}')
	for js.Len()%8 != 0 {
		js.WriteByte(' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(js.Len()))
	return append(out, js.Bytes()...), off, nil
}

// WriteFileAtomic writes data to path through a temporary file and a
// rename, like WriteFile.
func WriteFileAtomic(path string, data []byte) (err error) {
	var set outputSet
	defer set.abort()
	if err := writeWhole(&set, path, data); err != nil {
		return err
	}
	return set.commit(context.Background())
}

// counter counts bytes and reports progress about every 4 MiB.
type counter struct {
	w        io.Writer
	n, last  int64
	total    int64
	progress Progress
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil && (c.n-c.last >= 4<<20 || c.n == c.total) {
		c.last = c.n
		c.progress(c.n, c.total)
	}
	return n, err
}
