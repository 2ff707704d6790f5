package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
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
// padded with spaces to a multiple of 8 bytes as the reference writer does,
// and the length of the data. It refuses what the reader would reject (see
// rules.go), so every file written reads back.
func encodeHeader(path string, metadata map[string]string, entries []Entry) ([]byte, int64, error) {
	var js bytes.Buffer
	js.WriteByte('{')
	if len(metadata) > 0 {
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, 0, fileErr(path, "metadata %q: %q is not valid UTF-8", k, v)
			}
		}
		m, err := json.Marshal(metadata)
		if err != nil {
			return nil, 0, fileErr(path, "metadata: %v", err)
		}
		js.WriteString(`"__metadata__":`)
		js.Write(m)
	}
	seen := map[string]bool{}
	var off int64
	for i := range entries {
		e := &entries[i]
		if why := nameProblem(e.Name); why != "" {
			return nil, 0, tensorErr(path, e.Name, "%s", why)
		}
		if seen[e.Name] {
			return nil, 0, tensorErr(path, e.Name, "name used twice")
		}
		seen[e.Name] = true
		shape := make([]int64, len(e.Shape))
		for j, d := range e.Shape {
			shape[j] = int64(d)
		}
		want, why := tensorSize(e.DType, shape)
		switch {
		case why != "":
			return nil, 0, tensorErr(path, e.Name, "%s", why)
		case e.size() != want:
			return nil, 0, tensorErr(path, e.Name, "%d bytes do not match dtype %s × shape %v (%d bytes)", e.size(), e.DType, e.Shape, want)
		case off > math.MaxInt64-want:
			return nil, 0, tensorErr(path, e.Name, "the data would pass 2^63 bytes")
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
		if js.Len() > MaxHeaderBytes {
			break // reported below
		}
	}
	js.WriteByte('}')
	for js.Len()%8 != 0 {
		js.WriteByte(' ')
	}
	if js.Len() > MaxHeaderBytes {
		return nil, 0, fileErr(path, "the header would take more than the %d-byte limit that readers (this one included) accept: %d tensors with names of %d bytes on average", MaxHeaderBytes, len(entries), nameBytes(entries)/max(len(entries), 1))
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(js.Len()))
	return append(out, js.Bytes()...), off, nil
}

func nameBytes(es []Entry) int {
	n := 0
	for i := range es {
		n += len(es[i].Name)
	}
	return n
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
