package checkpoint

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckOutput reports whether path may be written as an output: a new
// name in an existing directory, a regular file (replaced), or a symbolic
// link to a regular file (the file it points to is replaced; the link
// stays). Anything else (an empty path, a directory, a device, a FIFO, a
// socket, a link to nothing) is an error, and nothing is written.
func CheckOutput(path string) error {
	_, _, err := resolveOutput(path)
	return err
}

// resolveOutput returns the file that writing path replaces, path with
// its symbolic links followed, and that file's current state (nil when
// it does not exist yet).
func resolveOutput(path string) (final string, old os.FileInfo, err error) {
	if path == "" {
		return "", nil, &Error{Err: errors.New("the output path is empty")}
	}
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(path)
		ds, err := os.Stat(dir)
		if err != nil {
			return "", nil, fileErr(path, "cannot write into %s: %w", dir, pathless(err))
		}
		if !ds.IsDir() {
			return "", nil, fileErr(path, "cannot write into %s: not a directory", dir)
		}
		return path, nil, nil
	case err != nil:
		return "", nil, fileErr(path, "%w", pathless(err))
	case st.Mode()&fs.ModeSymlink != 0:
		final, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", nil, fileErr(path, "is a symbolic link that leads to no file (%v); outputs replace the file a link points to, so the link must point to one", pathless(err))
		}
		fst, err := os.Stat(final)
		if err != nil {
			return "", nil, fileErr(path, "%w", pathless(err))
		}
		if !fst.Mode().IsRegular() {
			return "", nil, fileErr(path, "is a symbolic link to %s, %s: only regular files are replaced", final, kindOf(fst.Mode()))
		}
		return final, fst, nil
	case st.IsDir():
		return "", nil, fileErr(path, "is a directory; name the file to write")
	case !st.Mode().IsRegular():
		return "", nil, fileErr(path, "is %s: only regular files are replaced", kindOf(st.Mode()))
	}
	return path, st, nil
}

// outputKey names the file path would replace, for telling two outputs of
// one run apart however they are spelled.
func outputKey(path string) string {
	final, _, err := resolveOutput(path)
	if err != nil {
		final = path
	}
	dir, base := filepath.Split(final)
	if d, err := filepath.EvalSymlinks(dirOf(dir)); err == nil {
		dir = d
	}
	if a, err := filepath.Abs(dir); err == nil {
		dir = a
	}
	return filepath.Join(dir, base)
}

func dirOf(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// Temporary files are named .NAME.XXXXXXXXXXXX.nf4tmp beside the file
// NAME they become, and locked while their run holds them. A run killed
// before it could remove its own (SIGKILL, a power cut) leaves them
// behind; the next run writing NAME in that directory removes every one
// that no running process holds.
const tempSuffix = ".nf4tmp"

// tempPrefix is ".NAME." with NAME cut so that the temporary's name stays
// within the 255 bytes most file systems allow.
func tempPrefix(final string) (dir, prefix string) {
	dir, base := filepath.Split(final)
	const room = 255 - 2 - 12 - len(tempSuffix)
	if len(base) > room {
		base = base[:room]
	}
	return dirOf(dir), "." + base + "."
}

func isTempName(name, prefix string) bool {
	mid, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, tempSuffix)
	if !ok || len(mid) != 12 {
		return false
	}
	_, err := hex.DecodeString(mid)
	return err == nil
}

// removeStaleTemps removes the temporaries of final that no running
// process holds. It is best effort: what it cannot remove it leaves.
func removeStaleTemps(final string) {
	dir, prefix := tempPrefix(final)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !isTempName(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(p, os.O_RDONLY|openNoBlock|openNoFollow, 0)
		if err != nil {
			continue
		}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && tryLock(f) {
			os.Remove(p)
		}
		f.Close()
	}
}

// renameFile is os.Rename; tests make it fail.
var renameFile = os.Rename

// tempName returns a fresh temporary name for final.
func tempName(final string) string {
	dir, prefix := tempPrefix(final)
	var r [6]byte
	rand.Read(r[:])
	return filepath.Join(dir, prefix+hex.EncodeToString(r[:])+tempSuffix)
}

// outputFile is one file of a run's output, written to a locked temporary
// beside the file it replaces.
type outputFile struct {
	target string // as the caller named it, for messages
	final  string // the file replaced: target with symbolic links followed
	old    os.FileInfo
	tmp    *os.File
	w      *bufio.Writer
	done   bool     // renamed into place
	backup *os.File // while the renames run: a second name of the file replaced
}

// outputSet is every file one run writes. Each is written to its
// temporary; commit renames them into place only once all are complete,
// and abort removes the temporaries, leaving whatever was at the targets
// before exactly as it was.
type outputSet struct {
	files []*outputFile
}

// create starts the temporary for target, after removing stale ones.
func (s *outputSet) create(target string) (*outputFile, error) {
	final, old, err := resolveOutput(target)
	if err != nil {
		return nil, err
	}
	removeStaleTemps(final)
	var f *os.File
	for range 100 {
		f, err = os.OpenFile(tempName(final), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, fileErr(target, "create a temporary file beside it: %w", pathless(err))
	}
	o := &outputFile{target: target, final: final, old: old, tmp: f}
	s.files = append(s.files, o)
	if err := lockFile(f); err != nil {
		return nil, fileErr(target, "lock its temporary file: %w", pathless(err))
	}
	o.w = bufio.NewWriterSize(f, 1<<20)
	return o, nil
}

// Write writes to the temporary.
func (o *outputFile) Write(p []byte) (int, error) { return o.w.Write(p) }

// finish flushes and syncs the temporary and gives it the permissions (and,
// as root, the owner) of the file it replaces, or 0644 for a new file.
func (o *outputFile) finish() error {
	mode := fs.FileMode(0o644)
	if o.old != nil {
		mode = o.old.Mode().Perm()
	}
	for _, step := range []func() error{
		o.w.Flush,
		func() error { return o.tmp.Chmod(mode) },
		func() error {
			if o.old == nil {
				return nil
			}
			return keepOwner(o.tmp, o.old)
		},
		o.tmp.Sync,
	} {
		if err := step(); err != nil {
			return fileErr(o.target, "write: %w", pathless(err))
		}
	}
	return nil
}

// commit renames every temporary over its target, in the order created,
// once all are written and synced. It checks ctx first: an interrupted
// run replaces nothing.
func (s *outputSet) commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, o := range s.files {
		if err := o.finish(); err != nil {
			return err
		}
	}
	// A target may have changed kind while the run was writing.
	for _, o := range s.files {
		if st, err := os.Lstat(o.final); err == nil && !st.Mode().IsRegular() {
			return fileErr(o.target, "became %s while the output was written: left alone", kindOf(st.Mode()))
		}
	}
	for _, o := range s.files {
		o.keepOld()
	}
	dirs := map[string]bool{}
	for i, o := range s.files {
		if err := renameFile(o.tmp.Name(), o.final); err != nil {
			err = fileErr(o.target, "rename into place: %w", pathless(err))
			if lost := s.restore(i); lost != nil {
				return errors.Join(err, lost)
			}
			return err
		}
		o.done = true
		o.tmp.Close()
		dirs[filepath.Dir(o.final)] = true
	}
	for d := range dirs {
		if f, err := os.Open(d); err == nil {
			f.Sync() // best effort: makes the renames durable where supported
			f.Close()
		}
	}
	return nil
}

// keepOld gives the file that o replaces a second name among the
// temporaries (a hard link, locked like them), so that a commit failing
// halfway can put it back. Where the file system has no hard links the
// file is replaced without one.
func (o *outputFile) keepOld() {
	if o.old == nil {
		return
	}
	for range 100 {
		p := tempName(o.final)
		err := os.Link(o.final, p)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return
		}
		f, err := os.OpenFile(p, os.O_RDONLY|openNoBlock|openNoFollow, 0)
		if err != nil {
			os.Remove(p)
			return
		}
		lockFile(f) // best effort: keeps a concurrent run from taking it for stale
		o.backup = f
		return
	}
}

// restore undoes the first n renames of a commit: each file replaced gets
// its old contents back, and each file new to this run is removed.
func (s *outputSet) restore(n int) error {
	var lost []error
	for _, o := range s.files[:n] {
		var err error
		switch {
		case o.backup != nil:
			err = os.Rename(o.backup.Name(), o.final)
			o.backup.Close()
			o.backup = nil
		case o.old == nil:
			err = os.Remove(o.final)
		default:
			err = errors.New("no copy of the earlier file was kept")
		}
		if err != nil {
			lost = append(lost, fileErr(o.target, "holds this run's output, not the earlier one: %w", pathless(err)))
		}
	}
	return errors.Join(lost...)
}

// abort removes every temporary not yet renamed into place, and the
// second names kept by commit.
func (s *outputSet) abort() {
	for _, o := range s.files {
		if !o.done {
			o.tmp.Close()
			os.Remove(o.tmp.Name())
		}
		if o.backup != nil {
			o.backup.Close()
			os.Remove(o.backup.Name())
			o.backup = nil
		}
	}
}
