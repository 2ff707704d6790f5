//go:build !nf4cuda

package nf4_test

import (
	"errors"
	"testing"

	"github.com/nf4go/nf4"
)

func TestWithDeviceNeedsCUDABuild(t *testing.T) {
	e, err := nf4.NewEngine(nf4.WithDevice(0))
	if !errors.Is(err, nf4.ErrNoCUDA) || e != nil {
		t.Fatalf("NewEngine(WithDevice(0)) = %v, %v; want ErrNoCUDA", e, err)
	}
}
