//go:build !unix

package checkpoint

import "os"

const (
	openNoBlock  = 0
	openNoFollow = 0
)

// Without flock a running writer cannot be told from a dead one, so no
// temporary file is ever taken for stale.
func lockFile(*os.File) error { return nil }
func tryLock(*os.File) bool   { return false }

func keepOwner(*os.File, os.FileInfo) error { return nil }

func isFault(error) bool { return false }
