//go:build !race

package perf

// raceDetector is true in a -race build.
const raceDetector = false
