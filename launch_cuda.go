//go:build nf4cuda

package nf4

/*
#cgo LDFLAGS: -ldl
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// The driver's cuTensorMapEncodeTiled (CUDA 12.0 and later), looked up at
// run time: the cuda.h of older toolkits does not declare it, and a binary
// linked against it would not start on an older driver. Its enums travel
// as int.
typedef CUresult (*nf4EncodeTiledFn)(void *, int, cuuint32_t, void *, const cuuint64_t *,
	const cuuint64_t *, const cuuint32_t *, const cuuint32_t *, int, int, int, int);

static void *nf4DriverSymbol(const char *name) {
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
	return h ? dlsym(h, name) : NULL;
}

static CUresult nf4EncodeTiled(void *fn, void *out, int elem, uint64_t base, uint64_t cols, uint64_t rows,
	uint64_t stride, uint32_t boxCols, uint32_t boxRows, int swizzle) {
	cuuint64_t dim[2] = {cols, rows};
	cuuint64_t strides[1] = {stride};
	cuuint32_t box[2] = {boxCols, boxRows};
	cuuint32_t one[2] = {1, 1};
	// No interleave; L2 promotion of 128 B; elements outside read as zero.
	return ((nf4EncodeTiledFn)fn)(out, elem, 2, (void *)(uintptr_t)base, dim, strides, box, one, 0, swizzle, 2, 0);
}

static CUresult nf4Launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
	unsigned shared, char *blob, const uint32_t *offsets, int n) {
	void *params[64];
	if (n < 0 || n > 64) return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < n; i++) params[i] = blob + offsets[i];
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, NULL, params, NULL);
}

static const char *nf4ErrorName(CUresult r) {
	const char *s = NULL;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || !s) return "unknown CUDA error";
	return s;
}

static CUresult nf4SetDynamicShared(CUfunction f, int bytes) {
	return cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/nf4go/nf4/internal/cudaplan"
	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/tensormap"
	"gorgonia.org/cu"
)

// gorgonia.org/cu's Function.Launch copies exactly 8 bytes per parameter,
// and a tensor map is 128: kernels launch through cuLaunchKernel here, on
// the CUfunction that cu.Function holds unexported. The two arrays below
// fail to compile unless cu.Function is exactly that one handle.
var (
	_ [unsafe.Sizeof(cu.Function{}) - unsafe.Sizeof(C.CUfunction(nil))]struct{}
	_ [unsafe.Sizeof(C.CUfunction(nil)) - unsafe.Sizeof(cu.Function{})]struct{}
)

func rawFunction(fn cu.Function) C.CUfunction { return *(*C.CUfunction)(unsafe.Pointer(&fn)) }

// staticSharedLimit is the shared memory a block may use without opting in.
const staticSharedLimit = 48 << 10

// errNoTensorMaps is returned where the driver predates tensor maps.
var errNoTensorMaps = errors.New("the driver has no cuTensorMapEncodeTiled (CUDA 12.0 or later)")

// tensorMapEncoder finds the driver's encoder, or returns nil.
func tensorMapEncoder() unsafe.Pointer {
	name := C.CString("cuTensorMapEncodeTiled")
	defer C.free(unsafe.Pointer(name))
	return C.nf4DriverSymbol(name)
}

// packedArgs is a launch's parameters in C memory as cuLaunchKernel reads
// them: 8 bytes each, a tensor map as the driver's 128 bytes, 64-byte
// aligned. Free releases it.
type packedArgs struct {
	blob    unsafe.Pointer // 64 spare bytes in front for the alignment
	base    unsafe.Pointer // blob's first 64-byte boundary
	offsets *C.uint32_t
	n       int
}

// packArgs encodes args with the driver's encoder (nil: none).
func packArgs(args []cudaplan.Arg, encoder unsafe.Pointer) (*packedArgs, error) {
	if len(args) > 64 {
		return nil, fmt.Errorf("%d launch parameters, at most 64", len(args))
	}
	offs := make([]uint32, len(args))
	size := uintptr(0)
	for i, a := range args {
		if a.Map != nil {
			size = (size + 63) &^ 63
			offs[i] = uint32(size)
			size += tensormap.Size
			continue
		}
		offs[i] = uint32(size)
		size += 8
	}
	p := &packedArgs{n: len(args)}
	p.blob = C.calloc(1, C.size_t(size+64))
	p.offsets = (*C.uint32_t)(C.calloc(C.size_t(len(args)+1), 4))
	p.base = unsafe.Add(p.blob, -uintptr(p.blob)&63)
	offsets := unsafe.Slice((*uint32)(unsafe.Pointer(p.offsets)), len(args)+1)
	copy(offsets, offs)
	for i, a := range args {
		dst := unsafe.Add(p.base, offs[i])
		if a.Map == nil {
			*(*uint64)(dst) = a.Bits
			continue
		}
		if err := encodeTensorMap(encoder, *a.Map, dst); err != nil {
			p.free()
			return nil, fmt.Errorf("parameter %d: %w", i, err)
		}
	}
	return p, nil
}

func (p *packedArgs) free() {
	C.free(p.blob)
	C.free(unsafe.Pointer(p.offsets))
}

func encodeTensorMap(encoder unsafe.Pointer, m tensormap.Map2D, dst unsafe.Pointer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if encoder == nil {
		return errNoTensorMaps
	}
	r := C.nf4EncodeTiled(encoder, dst, C.int(m.Elem), C.uint64_t(m.Base), C.uint64_t(m.Cols), C.uint64_t(m.Rows),
		C.uint64_t(m.RowStride), C.uint32_t(m.BoxCols), C.uint32_t(m.BoxRows), C.int(m.Swizzle))
	if r != C.CUDA_SUCCESS {
		return fmt.Errorf("cuTensorMapEncodeTiled of the %v: %w", m, driverError(r))
	}
	return nil
}

// launchPacked launches fn with geometry l, first raising the function's
// dynamic shared memory limit when l passes more than a block may use
// without opting in.
func launchPacked(fn cu.Function, l kernels.Launch, p *packedArgs) error {
	f := rawFunction(fn)
	if l.DynamicShared > staticSharedLimit {
		if r := C.nf4SetDynamicShared(f, C.int(l.DynamicShared)); r != C.CUDA_SUCCESS {
			return fmt.Errorf("raising the dynamic shared memory limit to %d bytes: %w", l.DynamicShared, driverError(r))
		}
	}
	r := C.nf4Launch(f, C.uint(l.Grid[0]), C.uint(l.Grid[1]), C.uint(l.Grid[2]), C.uint(l.Block[0]), C.uint(l.Block[1]), C.uint(l.Block[2]),
		C.uint(l.DynamicShared), (*C.char)(p.base), p.offsets, C.int(p.n))
	if r != C.CUDA_SUCCESS {
		return driverError(r)
	}
	return nil
}

// driverError is a CUresult other than CUDA_SUCCESS.
type driverError C.CUresult

func (e driverError) Error() string {
	return fmt.Sprintf("%s (%d)", C.GoString(C.nf4ErrorName(C.CUresult(e))), int(e))
}
