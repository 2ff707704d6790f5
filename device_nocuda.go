//go:build !nf4cuda

package nf4

// openDevice fails: this build links no CUDA driver.
func openDevice(cfg engineConfig) (accelerator, error) {
	return nil, ErrNoCUDA
}
