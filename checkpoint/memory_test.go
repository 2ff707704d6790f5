package checkpoint

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestQuantizeFileMemory: quantizing a 32 MiB checkpoint of eight 4 MiB
// weights keeps the heap near one weight, not the file.
func TestQuantizeFileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 32 MiB")
	}
	dir := t.TempDir()
	var es []Entry
	vals := normals(1, 1<<20)
	for i := range 8 {
		es = append(es, floatEntry(fmt.Sprintf("l%d.weight", i), F32, []int{1024, 1024}, vals))
	}
	in := writeEntries(t, dir, "in.safetensors", nil, es...)
	es, vals = nil, nil
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	_, err := QuantizeFile(context.Background(), in, filepath.Join(dir, "out.safetensors"), QuantizeOptions{})
	close(done)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	growth := float64(peak-base) / (1 << 20)
	t.Logf("heap grew by %.1f MiB while quantizing a 32 MiB file", growth)
	if growth > 16 {
		t.Errorf("heap grew by %.1f MiB: more than a few 4 MiB weights", growth)
	}
}
