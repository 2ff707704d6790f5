//go:build nf4cuda

package nf4

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/nf4go/nf4/cpu"
	"github.com/nf4go/nf4/internal/cudaplan"
	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/ptx"
	"gorgonia.org/cu"
)

// cudaDevice runs NF4 kernels on one CUDA device. A CUDA context is current
// on one OS thread at a time, so one goroutine locked to its own thread
// owns the context and every driver call; other goroutines hand it work
// over a channel and wait. Device work is serialised, which is what a
// single context with one stream would do anyway.
type cudaDevice struct {
	ordinal int
	label   string
	sm      int // compute capability ×10
	sms     int // multiprocessors
	target  ptx.Target
	driver  int
	encoder unsafe.Pointer // cuTensorMapEncodeTiled, nil before CUDA 12
	cfg     engineConfig

	work   chan func()
	mu     sync.RWMutex // read-held by each request, write-held to close
	closed bool

	// Owned by the worker goroutine.
	ctx          cu.CUContext
	kernels      map[string]cu.Function
	modules      []cu.Module
	weights      map[residentKey]*resident
	in, out      devBuf // activation buffers, grown on demand and reused
	workspaceBuf devBuf // kernels' workspace, zeroed when allocated (kernels leave it so)
	statsMu      sync.Mutex
	st           DeviceStats
	deadMu       sync.Mutex
	dead         []deadHolder // Tensors collected since the last request
}

type devBuf struct {
	ptr  cu.DevicePtr
	size int64
}

// residentKey names a weight's storage: Clone shares it, so clones share
// one device copy.
type residentKey struct {
	codes, scales uintptr
	n             int
}

func keyOf(w *Tensor) residentKey {
	k := residentKey{codes: uintptr(unsafe.Pointer(unsafe.SliceData(w.w.Codes))), n: len(w.w.Codes)}
	if s := &w.w.Scales; s.Double() {
		k.scales = uintptr(unsafe.Pointer(unsafe.SliceData(s.Q)))
	} else {
		k.scales = uintptr(unsafe.Pointer(unsafe.SliceData(s.Absmax)))
	}
	return k
}

// resident is one weight's codes and scales on the device. It holds the
// host slices too, so that their addresses, the key, cannot be reused for
// other data while the copy exists. holders are the addresses of the
// Tensors using it (not references: they may be collected); when the last
// is collected, its cleanup frees the copy.
type resident struct {
	host                           cpu.Weights
	holders                        map[uintptr]struct{}
	codes, absmax, q, nmap, nested cu.DevicePtr
	offset                         float32
	bytes                          int64
}

// deadHolder is what a collected Tensor's cleanup reports.
type deadHolder struct {
	key    residentKey
	holder uintptr
}

func (r *resident) buffers() cudaplan.Buffers {
	return cudaplan.Buffers{Codes: uint64(r.codes), Absmax: uint64(r.absmax), Q: uint64(r.q),
		Map: uint64(r.nmap), Nested: uint64(r.nested), Offset: r.offset}
}

// openDevice starts the worker that owns device cfg.device's context.
func openDevice(cfg engineConfig) (accelerator, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, errorf("cuda: counting devices: %w", err)
	}
	if cfg.device >= n {
		return nil, errorf("cuda: device %d requested, %d present", cfg.device, n)
	}
	d := &cudaDevice{
		ordinal: cfg.device,
		cfg:     cfg,
		work:    make(chan func()),
		kernels: map[string]cu.Function{},
		weights: map[residentKey]*resident{},
	}
	ready := make(chan error, 1)
	go d.loop(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return d, nil
}

// loop owns the context: it creates it, runs every request, and destroys
// it when the work channel closes. The thread stays locked to the end, so
// the runtime retires it with the goroutine and never lends it to others.
func (d *cudaDevice) loop(ready chan<- error) {
	runtime.LockOSThread()
	if err := d.init(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for f := range d.work {
		f()
	}
}

func (d *cudaDevice) init() error {
	dev, err := cu.GetDevice(d.ordinal)
	if err != nil {
		return errorf("cuda: device %d: %w", d.ordinal, err)
	}
	major, minor, err := dev.ComputeCapability()
	if err != nil {
		return errorf("cuda: device %d: compute capability: %w", d.ordinal, err)
	}
	name, err := dev.Name()
	if err != nil {
		name = "unknown"
	}
	// Without the count the plans keep the kernels' default blocks.
	if d.sms, err = dev.Attribute(cu.MultiprocessorCount); err != nil {
		d.sms = 0
	}
	d.sm = 10*major + minor
	d.label = fmt.Sprintf("cuda:%d %s (sm_%d)", d.ordinal, name, d.sm)
	if d.target, err = cudaplan.Target(major, minor); err != nil {
		return errorf("cuda: %s: %v", d.label, err)
	}
	d.driver = cu.Version()
	d.encoder = tensorMapEncoder()
	if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return errorf("cuda: %s: creating a context: %w", d.label, err)
	}
	d.st.Device = d.label
	return nil
}

func (d *cudaDevice) name() string { return d.label }

// do runs f on the context's thread and returns its error. A panic in f
// (a driver binding gone wrong) comes back as an error rather than taking
// the process down from a goroutine nobody can recover in.
func (d *cudaDevice) do(f func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	done := make(chan error, 1)
	d.work <- func() {
		defer func() {
			if p := recover(); p != nil {
				done <- errorf("cuda: %s: panic: %v", d.label, p)
			}
		}()
		d.sweep()
		done <- f()
	}
	return <-done
}

func (d *cudaDevice) close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	// Every request had released its read lock before Lock returned, and
	// none can start now: the worker is idle and only this send remains.
	done := make(chan error, 1)
	d.work <- func() { done <- d.shutdown() }
	close(d.work)
	return <-done
}

// shutdown frees everything and destroys the context.
func (d *cudaDevice) shutdown() error {
	var errs []error
	for k, r := range d.weights {
		errs = append(errs, d.freeResident(k, r))
	}
	errs = append(errs, d.freeBuf(&d.in), d.freeBuf(&d.out), d.freeBuf(&d.workspaceBuf))
	for _, m := range d.modules {
		if err := m.Unload(); err != nil {
			errs = append(errs, fmt.Errorf("unloading a module: %w", err))
		}
	}
	d.modules, d.kernels = nil, nil
	if err := d.ctx.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("destroying the context: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return errorf("cuda: %s: close: %w", d.label, err)
	}
	return nil
}

func (d *cudaDevice) stats() DeviceStats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	return d.st
}

func (d *cudaDevice) updateStats(f func(s *DeviceStats)) {
	d.statsMu.Lock()
	f(&d.st)
	d.statsMu.Unlock()
}

// noteDead is the cleanup of a Tensor holding a resident weight. It only
// records the fact: cleanups run on runtime goroutines, and the worker
// frees the memory at its next request.
func (d *cudaDevice) noteDead(h deadHolder) {
	d.deadMu.Lock()
	d.dead = append(d.dead, h)
	d.deadMu.Unlock()
}

// sweep frees weights whose holders have all been collected. A new Tensor
// at a collected one's address, seen before that one's cleanup ran, is
// not counted twice; at worst its weight is uploaded again later.
func (d *cudaDevice) sweep() {
	d.deadMu.Lock()
	dead := d.dead
	d.dead = nil
	d.deadMu.Unlock()
	for _, h := range dead {
		if r, ok := d.weights[h.key]; ok {
			delete(r.holders, h.holder)
			if len(r.holders) == 0 {
				_ = d.freeResident(h.key, r)
			}
		}
	}
}

func (d *cudaDevice) release(w *Tensor) error {
	return d.do(func() error {
		k := keyOf(w)
		if r, ok := d.weights[k]; ok {
			return d.freeResident(k, r)
		}
		return nil
	})
}

func (d *cudaDevice) freeResident(k residentKey, r *resident) error {
	delete(d.weights, k)
	var errs []error
	for _, p := range []cu.DevicePtr{r.codes, r.absmax, r.q, r.nmap, r.nested} {
		if p != 0 {
			errs = append(errs, cu.MemFree(p))
		}
	}
	d.updateStats(func(s *DeviceStats) { s.Weights--; s.WeightBytes -= r.bytes })
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("freeing a weight: %w", err)
	}
	return nil
}

func (d *cudaDevice) freeBuf(b *devBuf) error {
	if b.ptr == 0 {
		return nil
	}
	err := cu.MemFree(b.ptr)
	size := b.size
	*b = devBuf{}
	d.updateStats(func(s *DeviceStats) { s.ScratchBytes -= size })
	if err != nil {
		return fmt.Errorf("freeing an activation buffer: %w", err)
	}
	return nil
}

// alloc allocates n bytes; out of memory, it hands back the activation
// buffers and tries once more before failing with ErrDeviceMemory.
func (d *cudaDevice) alloc(n int64, what string) (cu.DevicePtr, error) {
	return d.allocRetry(n, what, true)
}

// allocRetry is alloc that may or may not drop the activation buffers (not
// while the call that fills them is under way).
func (d *cudaDevice) allocRetry(n int64, what string, dropScratch bool) (cu.DevicePtr, error) {
	p, err := cu.MemAlloc(n)
	if errors.Is(err, cu.OutOfMemory) && dropScratch && (d.in.ptr != 0 || d.out.ptr != 0 || d.workspaceBuf.ptr != 0) {
		_, _, _ = d.freeBuf(&d.in), d.freeBuf(&d.out), d.freeBuf(&d.workspaceBuf)
		p, err = cu.MemAlloc(n)
	}
	switch {
	case errors.Is(err, cu.OutOfMemory):
		free, total, _ := cu.MemInfo()
		return 0, fmt.Errorf("%w: allocating %d bytes for %s on %s (%d of %d bytes free): %w",
			ErrDeviceMemory, n, what, d.label, free, total, err)
	case err != nil:
		return 0, fmt.Errorf("allocating %d bytes for %s on %s: %w", n, what, d.label, err)
	}
	return p, nil
}

// scratch makes b hold at least n bytes, rounded up to 1 MiB so that
// slowly growing batches do not reallocate at every call.
func (d *cudaDevice) scratch(b *devBuf, n int64, what string) error {
	if b.size >= n {
		return nil
	}
	if err := d.freeBuf(b); err != nil {
		return err
	}
	size := (n + 1<<20 - 1) &^ (1<<20 - 1)
	p, err := d.allocRetry(size, what, false)
	if err != nil {
		return err
	}
	*b = devBuf{ptr: p, size: size}
	d.updateStats(func(s *DeviceStats) { s.ScratchBytes += size })
	return nil
}

// resident returns w's device copy, uploading it on first use.
func (d *cudaDevice) resident(w *Tensor) (*resident, error) {
	k := keyOf(w)
	if r, ok := d.weights[k]; ok {
		d.adopt(r, w, k)
		return r, nil
	}
	r := &resident{host: w.w, holders: map[uintptr]struct{}{}}
	if err := d.upload(r, w); err != nil {
		for _, p := range []cu.DevicePtr{r.codes, r.absmax, r.q, r.nmap, r.nested} {
			if p != 0 {
				_ = cu.MemFree(p)
			}
		}
		return nil, fmt.Errorf("uploading weight [%d %d]: %w", w.w.Rows, w.w.Cols, err)
	}
	d.weights[k] = r
	d.adopt(r, w, k)
	d.updateStats(func(s *DeviceStats) { s.Weights++; s.WeightBytes += r.bytes })
	return r, nil
}

// adopt records w as a holder of r, once.
func (d *cudaDevice) adopt(r *resident, w *Tensor, k residentKey) {
	h := uintptr(unsafe.Pointer(w))
	if _, ok := r.holders[h]; ok {
		return
	}
	r.holders[h] = struct{}{}
	// A Tensor outside the heap (a global) gets no cleanup: its copy stays
	// until Release or Close.
	runtime.AddCleanup(w, d.noteDead, deadHolder{key: k, holder: h})
}

func (d *cudaDevice) upload(r *resident, w *Tensor) error {
	put := func(dst *cu.DevicePtr, src unsafe.Pointer, n int64, what string) error {
		if n == 0 {
			return nil
		}
		p, err := d.alloc(n, what)
		if err != nil {
			return err
		}
		*dst = p
		r.bytes += n
		if err := cu.MemcpyHtoD(p, src, n); err != nil {
			return fmt.Errorf("copying %s to %s: %w", what, d.label, err)
		}
		return nil
	}
	if err := put(&r.codes, unsafe.Pointer(unsafe.SliceData(w.w.Codes)), int64(len(w.w.Codes)), "codes"); err != nil {
		return err
	}
	s := &w.w.Scales
	if !s.Double() {
		return put(&r.absmax, unsafe.Pointer(unsafe.SliceData(s.Absmax)), 4*int64(len(s.Absmax)), "scales")
	}
	r.offset = s.Offset
	if err := put(&r.q, unsafe.Pointer(unsafe.SliceData(s.Q)), int64(len(s.Q)), "quantized scales"); err != nil {
		return err
	}
	if err := put(&r.nested, unsafe.Pointer(unsafe.SliceData(s.Nested)), 4*int64(len(s.Nested)), "nested scales"); err != nil {
		return err
	}
	return put(&r.nmap, unsafe.Pointer(&s.Map[0]), 4*int64(len(s.Map)), "scale map")
}

// function returns the loaded kernel for pl, loading its module on first
// use: from the disk cache when a binary for this PTX, target, device and
// driver is there, else compiled by the driver and then stored.
func (d *cudaDevice) function(pl cudaplan.Plan) (cu.Function, error) {
	name := pl.Kernel.Name()
	if fn, ok := d.kernels[name]; ok {
		return fn, nil
	}
	text, err := pl.Kernel.PTX(d.target)
	if err != nil {
		return cu.Function{}, fmt.Errorf("kernel %s: printing PTX for %v: %w", name, d.target, err)
	}
	path := cudaplan.CachePath(d.cfg.cacheDir, name, cudaplan.CacheKey(text, d.target, d.sm, d.driver))
	if bin, ok, _ := cudaplan.ReadCache(path); ok {
		if fn, err := d.load(name, bin); err == nil {
			d.updateStats(func(s *DeviceStats) { s.CacheHits++ })
			return fn, nil
		}
		// A binary the driver refuses (truncated, foreign) is replaced.
		cudaplan.RemoveCache(path)
	}
	bin, err := d.compile(name, text)
	if err != nil {
		return cu.Function{}, err
	}
	d.updateStats(func(s *DeviceStats) { s.Compiled++ })
	// A cache that cannot be written costs the next start a compile, no more.
	_ = cudaplan.WriteCache(path, bin)
	return d.load(name, bin)
}

// load loads a compiled module and looks its kernel up. cu.LoadData
// copies the whole string (C.CString keeps embedded NUL bytes), and the
// driver reads the binary's length from its ELF header.
func (d *cudaDevice) load(name string, bin []byte) (cu.Function, error) {
	mod, err := cu.LoadData(string(bin))
	if err != nil {
		return cu.Function{}, fmt.Errorf("kernel %s: loading the module on %s: %w", name, d.label, err)
	}
	fn, err := mod.Function(name)
	if err != nil {
		_ = mod.Unload()
		return cu.Function{}, fmt.Errorf("kernel %s: not found in its module on %s: %w", name, d.label, err)
	}
	d.modules = append(d.modules, mod)
	d.kernels[name] = fn
	return fn, nil
}

// compile JIT-compiles PTX for the context's device through the linker,
// which, unlike cuModuleLoadData, hands the binary back for the cache.
// The linker gets no options: the driver writes output options back into
// the option array until the link state is destroyed, and cu keeps that
// array only in Go memory the collector may reuse.
func (d *cudaDevice) compile(name, text string) ([]byte, error) {
	link, err := cu.NewLink()
	if err != nil {
		return nil, fmt.Errorf("kernel %s: starting the JIT on %s: %w", name, d.label, err)
	}
	defer link.Destroy()
	// The driver reads PTX up to its terminating NUL.
	if err := link.AddData(cu.JITInputPTX, text+"\x00", name+".ptx"); err != nil {
		return nil, d.jitErr(name, text, "JIT compile", err)
	}
	bin, err := link.Complete()
	if err != nil {
		return nil, d.jitErr(name, text, "JIT link", err)
	}
	return []byte(bin), nil
}

// jitErr reports a failed compile with the driver's log, which a second
// compile through cuModuleLoadDataEx writes: its options live only for
// the call.
func (d *cudaDevice) jitErr(name, text, step string, err error) error {
	logBuf := make([]byte, 16<<10)
	// The driver writes through a pointer held in Go memory passed to C;
	// pinning the buffer makes that legal under the cgo rules.
	var pin runtime.Pinner
	pin.Pin(&logBuf[0])
	defer pin.Unpin()
	if mod, lerr := cu.LoadDataEx(text, &cu.JITErrorLogBuffer{Buffer: logBuf}); lerr == nil {
		_ = mod.Unload()
	}
	log := string(logBuf[:indexNUL(logBuf)])
	if log == "" {
		log = "no log"
	}
	return fmt.Errorf("kernel %s: %s for %v on %s: %w: %s", name, step, d.target, d.label, err, log)
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// launch runs pl with args and waits for it, so that a fault is reported
// against the kernel that caused it.
func (d *cudaDevice) launch(pl cudaplan.Plan, fn cu.Function, args []cudaplan.Arg) error {
	p, err := packArgs(args, d.encoder)
	if err != nil {
		return d.kernelErr(pl, "arguments", err)
	}
	defer p.free()
	if err := launchPacked(fn, pl.Launch, p); err != nil {
		return d.kernelErr(pl, "launch", err)
	}
	d.updateStats(func(s *DeviceStats) { s.Launches++ })
	if err := cu.Synchronize(); err != nil {
		if pl.Launch.Workspace > 0 {
			// A kernel that stopped part-way may leave it dirty.
			_ = d.freeBuf(&d.workspaceBuf)
		}
		return d.kernelErr(pl, "run", err)
	}
	return nil
}

// workspace returns the zeroed scratch pl's kernel asks for (0 if none),
// grown when too small. Kernels leave it zero, so it is zeroed only when
// it is allocated.
func (d *cudaDevice) workspace(pl cudaplan.Plan) (uint64, error) {
	n := int64(pl.Launch.Workspace)
	if n == 0 {
		return 0, nil
	}
	if d.workspaceBuf.size < n {
		if err := d.scratch(&d.workspaceBuf, n, "kernel workspace"); err != nil {
			return 0, err
		}
		if err := cu.MemsetD8(d.workspaceBuf.ptr, 0, d.workspaceBuf.size); err != nil {
			return 0, fmt.Errorf("%v: zeroing the kernel workspace on %s: %w", pl.Problem, d.label, err)
		}
	}
	return uint64(d.workspaceBuf.ptr), nil
}

func (d *cudaDevice) kernelErr(pl cudaplan.Plan, step string, err error) error {
	l := pl.Launch
	return fmt.Errorf("kernel %s (%v): %s with grid %v block %v on %s: %w",
		pl.Kernel.Name(), pl.Problem, step, l.Grid, l.Block, d.label, err)
}

func (d *cudaDevice) problem(op cudaplan.Op, m int, w *Tensor) (cudaplan.Plan, error) {
	mode := cudaplan.Float32
	if d.cfg.mode == ComputeBF16 {
		mode = cudaplan.BF16
	}
	quant := kernels.NF4
	if w.w.Type == FP4 {
		quant = kernels.FP4
	}
	pl, err := cudaplan.Choose(d.onDevice(cudaplan.Problem{Op: op, Mode: mode, M: m, N: w.w.Rows, K: w.w.Cols,
		BlockSize: w.w.BlockSize, DoubleQuant: w.w.Scales.Double(), Quant: quant}))
	if err != nil {
		return pl, fmt.Errorf("%w: %w", errNotOnDevice, err)
	}
	return pl, nil
}

// onDevice fills in what the planner needs to know of the device: its
// multiprocessors, compute capability and whether its driver encodes
// tensor maps.
func (d *cudaDevice) onDevice(p cudaplan.Problem) cudaplan.Problem {
	p.SMs, p.Arch, p.TensorMaps = d.sms, d.sm, d.encoder != nil
	return p
}

func (d *cudaDevice) linear(op cudaplan.Op, out, in []float32, m int, w *Tensor) error {
	pl, err := d.problem(op, m, w)
	if err != nil {
		return err
	}
	p := pl.Problem
	if len(in) != p.InLen() || len(out) != p.OutLen() {
		return fmt.Errorf("%v: activation has %d values and output %d, want %d and %d", p, len(in), len(out), p.InLen(), p.OutLen())
	}
	return d.do(func() error {
		r, err := d.resident(w)
		if err != nil {
			return err
		}
		fn, err := d.function(pl)
		if err != nil {
			return err
		}
		inBytes, outBytes := 4*int64(len(in)), 4*int64(len(out))
		src := unsafe.Pointer(unsafe.SliceData(in))
		if pl.InBF16() {
			// Rounded once here, the kernel reading it many times over.
			h := make([]uint16, len(in))
			cudaplan.ToBF16(h, in)
			inBytes, src = 2*int64(len(h)), unsafe.Pointer(unsafe.SliceData(h))
		}
		if err := d.scratch(&d.in, inBytes, "activations"); err != nil {
			return err
		}
		if err := d.scratch(&d.out, outBytes, "results"); err != nil {
			return err
		}
		if err := cu.MemcpyHtoD(d.in.ptr, src, inBytes); err != nil {
			return fmt.Errorf("%v: copying activations to %s: %w", p, d.label, err)
		}
		b := r.buffers()
		b.In, b.Out = uint64(d.in.ptr), uint64(d.out.ptr)
		if b.Workspace, err = d.workspace(pl); err != nil {
			return err
		}
		args, err := pl.Args(b)
		if err != nil {
			return err
		}
		if err := d.launch(pl, fn, args); err != nil {
			return err
		}
		if err := cu.MemcpyDtoH(unsafe.Pointer(unsafe.SliceData(out)), d.out.ptr, outBytes); err != nil {
			return fmt.Errorf("%v: copying results from %s: %w", p, d.label, err)
		}
		return nil
	})
}

func (d *cudaDevice) dequantize(out []float32, w *Tensor) error {
	pl, err := d.problem(cudaplan.Dequantize, 1, w)
	if err != nil {
		return err
	}
	if len(out) != pl.Problem.OutLen() {
		return fmt.Errorf("%v: output has %d values, want %d", pl.Problem, len(out), pl.Problem.OutLen())
	}
	return d.do(func() error {
		r, err := d.resident(w)
		if err != nil {
			return err
		}
		fn, err := d.function(pl)
		if err != nil {
			return err
		}
		// A one-off buffer: a whole float32 matrix is too big to keep.
		n := 4 * int64(len(out))
		buf, err := d.alloc(n, "the dequantized weight")
		if err != nil {
			return err
		}
		err = d.dequantizeInto(out, buf, pl, fn, r)
		if ferr := cu.MemFree(buf); err == nil && ferr != nil {
			err = fmt.Errorf("%v: freeing the result buffer on %s: %w", pl.Problem, d.label, ferr)
		}
		return err
	})
}

func (d *cudaDevice) dequantizeInto(out []float32, buf cu.DevicePtr, pl cudaplan.Plan, fn cu.Function, r *resident) error {
	b := r.buffers()
	b.Out = uint64(buf)
	args, err := pl.Args(b)
	if err != nil {
		return err
	}
	if err := d.launch(pl, fn, args); err != nil {
		return err
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(unsafe.SliceData(out)), buf, 4*int64(len(out))); err != nil {
		return fmt.Errorf("%v: copying results from %s: %w", pl.Problem, d.label, err)
	}
	return nil
}
