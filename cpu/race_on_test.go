//go:build race

package cpu

// raceDetector: the simulator runs many times slower under the race
// detector, so simulated tests trim their largest cases (go test without
// -race runs them all).
const raceDetector = true
