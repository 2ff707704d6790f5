//go:build !linux && amd64 && !purego

package asmsim

// amxGranted reports false: only Linux is asked for the tile state.
func amxGranted() bool { return false }
