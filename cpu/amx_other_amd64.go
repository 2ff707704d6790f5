//go:build !linux && amd64 && !purego

package cpu

// requestAMX reports false: only Linux is asked for the tile state here.
func requestAMX() bool { return false }
