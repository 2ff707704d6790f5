package checkpoint

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// openInput opens a file this package reads. It opens without blocking,
// so a FIFO or a device that would wait for a writer is refused at once
// instead of hanging the process, and it accepts only regular files.
func openInput(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoBlock, 0)
	if err != nil {
		return nil, nil, fileErr(path, "%w", pathless(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fileErr(path, "%w", pathless(err))
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fileErr(path, "is %s, not a regular file", kindOf(st.Mode()))
	}
	return f, st, nil
}

// readInput reads a whole JSON side file (an index, a config) of at most
// limit bytes.
func readInput(path string, limit int64) ([]byte, os.FileInfo, error) {
	f, st, err := openInput(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, nil, fileErr(path, "%d bytes is more than the %d-byte limit for this file", st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, fileErr(path, "read: %w", pathless(err))
	}
	if int64(len(b)) > limit {
		return nil, nil, fileErr(path, "more than the %d-byte limit for this file", limit)
	}
	return b, st, nil
}

// maxSideFile bounds the JSON files read beside checkpoints (index,
// config.json, adapter_config.json): a few hundred kilobytes in practice.
const maxSideFile = 64 << 20

// inputFile is a file a run reads, identified as the system identifies it
// (device and inode), so that no spelling of its path (relative, ./,
// symbolic or hard link, bind mount) can make it an output.
type inputFile struct {
	path string
	info os.FileInfo
}

type inputFiles []inputFile

// holding returns the input that path names, if any.
func (s inputFiles) holding(path string) (inputFile, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return inputFile{}, false
	}
	for _, f := range s {
		if os.SameFile(st, f.info) {
			return f, true
		}
	}
	return inputFile{}, false
}

// refuse returns an error when path is one of the inputs.
func (s inputFiles) refuse(path string) error {
	f, ok := s.holding(path)
	if !ok {
		return nil
	}
	if f.path == path {
		return fileErr(path, "is an input file; write to another path")
	}
	return fileErr(path, "is an input file (the same file as %s); write to another path", f.path)
}

// refuseShards refuses, before any work, a sharded output whose index or
// shards could be inputs. The shards' names depend on their number, known
// only once the weights are planned, so an input in OUT's directory named
// like any shard of OUT is refused.
func (s inputFiles) refuseShards(out string) error {
	if err := s.refuse(out + IndexSuffix); err != nil {
		return err
	}
	stem, ok := strings.CutSuffix(filepath.Base(out), ".safetensors")
	if !ok {
		return nil
	}
	like := regexp.MustCompile("^" + regexp.QuoteMeta(stem) + `-\d{5}-of-\d{5}\.safetensors$`)
	dir, err := os.Stat(filepath.Dir(out))
	if err != nil {
		return nil
	}
	for _, f := range s {
		if !like.MatchString(filepath.Base(f.path)) {
			continue
		}
		if d, err := os.Stat(filepath.Dir(f.path)); err == nil && os.SameFile(d, dir) {
			return fileErr(out, "its shards would be named like the input %s; write them to another name or folder", f.path)
		}
	}
	return nil
}

// pathless drops the path from an *fs.PathError, whose path may be a
// temporary name the user never gave: the caller names the file instead.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// kindOf names the kind of file a mode describes, for messages.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "an irregular file"
}
