package ptxsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// Ptr is a device address in global memory.
type Ptr uint64

// Device holds global memory: buffers allocated by the caller, each with a
// guard gap after it so that overruns land outside every buffer. A Device is
// not safe for concurrent use.
type Device struct {
	bufs []*buffer // sorted by base
	next uint64
	last *buffer // most recently used, checked first
	// MaxSteps bounds the instructions one thread may execute in a launch,
	// turning an endless loop into an error. 0 means the default (1<<28).
	MaxSteps int64
	// NoRaceCheck turns off shared-memory race detection.
	NoRaceCheck bool
	// Executed counts the instructions run by all launches so far,
	// including those skipped by a false guard predicate.
	Executed int64
	// Profile, when set, collects memory and issue counters of every
	// launch (see Profile).
	Profile *Profile
}

type buffer struct {
	base uint64
	data []byte
	init []bool // byte written since allocation
	// A generated buffer (AllocGenerated) has no data or init: its pages
	// are made by gen on first touch and count as initialised.
	size  uint64
	gen   func(off int64, p []byte)
	pages map[uint64][]byte
}

// pageBytes is the granule of a generated buffer. Every simulated access is
// at most 16 bytes and aligned to its size, so none crosses a page.
const pageBytes = 64 << 10

func (b *buffer) len() uint64 {
	if b.gen != nil {
		return b.size
	}
	return uint64(len(b.data))
}

// page returns the generated page holding buffer offset off.
func (b *buffer) page(off uint64) []byte {
	i := off / pageBytes
	p, ok := b.pages[i]
	if !ok {
		n := min(uint64(pageBytes), b.size-i*pageBytes)
		p = make([]byte, n)
		b.gen(int64(i*pageBytes), p)
		b.pages[i] = p
	}
	return p
}

const (
	globalBase  = 0x1000_0000
	globalGuard = 4096
	// sharedWindow is where shared memory appears in the generic address
	// space (cvta.shared), far from any global buffer.
	sharedWindow = 0x7f00_0000_0000
	// paramWindow is where the kernel's parameters appear in the generic
	// address space (mov of a parameter's name, the operand of a tensor
	// copy).
	paramWindow = 0x7e00_0000_0000
)

// NewDevice returns an empty device.
func NewDevice() *Device { return &Device{next: globalBase} }

// Alloc returns a new buffer of n bytes, 256-byte aligned. Its bytes count
// as uninitialised until written.
func (d *Device) Alloc(n int) Ptr {
	if n < 0 {
		n = 0
	}
	b := &buffer{base: d.next, data: make([]byte, n), init: make([]bool, n)}
	d.bufs = append(d.bufs, b)
	d.next += (uint64(n) + globalGuard + 255) &^ 255
	return Ptr(b.base)
}

// AllocGenerated returns a buffer of n bytes whose contents gen makes on
// demand, 64 KiB at a time (gen fills p with the bytes at offset off), so a
// launch that runs only some blocks (LaunchBlocks) of a large problem
// touches only the memory those blocks use. Its bytes count as initialised;
// writes are kept.
func (d *Device) AllocGenerated(n int64, gen func(off int64, p []byte)) Ptr {
	if n < 0 {
		n = 0
	}
	b := &buffer{base: d.next, size: uint64(n), gen: gen, pages: map[uint64][]byte{}}
	d.bufs = append(d.bufs, b)
	d.next += (uint64(n) + globalGuard + 255) &^ 255
	return Ptr(b.base)
}

func (d *Device) find(addr uint64, n int) *buffer {
	if b := d.last; b != nil && addr >= b.base && addr+uint64(n) <= b.base+b.len() {
		return b
	}
	i := sort.Search(len(d.bufs), func(i int) bool { return d.bufs[i].base > addr }) - 1
	if i < 0 {
		return nil
	}
	b := d.bufs[i]
	if addr+uint64(n) > b.base+b.len() || addr+uint64(n) < addr {
		return nil
	}
	d.last = b
	return b
}

// bytes returns the n bytes at addr, or an error for an access outside
// every buffer.
func (d *Device) bytes(addr uint64, n int) ([]byte, *buffer, error) {
	b := d.find(addr, n)
	if b == nil {
		return nil, nil, fmt.Errorf("global access of %d bytes at 0x%x %s", n, addr, d.near(addr))
	}
	off := addr - b.base
	if b.gen != nil {
		p := b.page(off)
		po := off % pageBytes
		if po+uint64(n) > uint64(len(p)) {
			return nil, nil, fmt.Errorf("access of %d bytes at 0x%x crosses a 64 KiB page of a generated buffer", n, addr)
		}
		return p[po : po+uint64(n)], b, nil
	}
	return b.data[off : off+uint64(n)], b, nil
}

// near says where addr lies relative to the closest buffer below it, to make
// overruns obvious.
func (d *Device) near(addr uint64) string {
	i := sort.Search(len(d.bufs), func(i int) bool { return d.bufs[i].base > addr }) - 1
	if i < 0 {
		return "is outside every allocation"
	}
	b := d.bufs[i]
	where := "is outside every allocation"
	if addr < b.base+b.len() {
		where = "runs past the end of its buffer"
	}
	return fmt.Sprintf("%s (buffer 0x%x has %d bytes; access is at offset %d)", where, b.base, b.len(), addr-b.base)
}

// Write copies p into device memory at ptr.
func (d *Device) Write(ptr Ptr, p []byte) error {
	if b := d.find(uint64(ptr), len(p)); b != nil && b.gen != nil {
		b.span(uint64(ptr)-b.base, len(p), func(m []byte, i int) { copy(m, p[i:]) })
		return nil
	}
	m, b, err := d.bytes(uint64(ptr), len(p))
	if err != nil {
		return err
	}
	copy(m, p)
	off := uint64(ptr) - b.base
	for i := range p {
		b.init[off+uint64(i)] = true
	}
	return nil
}

// span calls f on each page piece of [off, off+n) of a generated buffer,
// with the index of its first byte within the span.
func (b *buffer) span(off uint64, n int, f func(m []byte, i int)) {
	for i := 0; i < n; {
		p := b.page(off + uint64(i))
		po := (off + uint64(i)) % pageBytes
		k := min(n-i, len(p)-int(po))
		f(p[po:po+uint64(k)], i)
		i += k
	}
}

// Read copies n bytes at ptr out of device memory.
func (d *Device) Read(ptr Ptr, n int) ([]byte, error) {
	if b := d.find(uint64(ptr), n); b != nil && b.gen != nil {
		out := make([]byte, n)
		b.span(uint64(ptr)-b.base, n, func(m []byte, i int) { copy(out[i:], m) })
		return out, nil
	}
	m, _, err := d.bytes(uint64(ptr), n)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), m...), nil
}

// WriteFloat32s stores v little-endian at ptr.
func (d *Device) WriteFloat32s(ptr Ptr, v []float32) error {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return d.Write(ptr, b)
}

// ReadFloat32s loads n float32 values from ptr.
func (d *Device) ReadFloat32s(ptr Ptr, n int) ([]float32, error) {
	b, err := d.Read(ptr, 4*n)
	if err != nil {
		return nil, err
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// WriteUint32s stores v little-endian at ptr.
func (d *Device) WriteUint32s(ptr Ptr, v []uint32) error {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return d.Write(ptr, b)
}

// ReadUint32s loads n uint32 values from ptr.
func (d *Device) ReadUint32s(ptr Ptr, n int) ([]uint32, error) {
	b, err := d.Read(ptr, 4*n)
	if err != nil {
		return nil, err
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return v, nil
}

// WriteUint16s stores v little-endian at ptr (f16 and bf16 data).
func (d *Device) WriteUint16s(ptr Ptr, v []uint16) error {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return d.Write(ptr, b)
}

// ReadUint16s loads n uint16 values from ptr.
func (d *Device) ReadUint16s(ptr Ptr, n int) ([]uint16, error) {
	b, err := d.Read(ptr, 2*n)
	if err != nil {
		return nil, err
	}
	v := make([]uint16, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return v, nil
}

func loadLE(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func storeLE(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}
