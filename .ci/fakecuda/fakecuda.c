// fakecuda: a stand-in libcuda.so.1 that lets CI run the nf4cuda test
// binary without a GPU. Device memory is host memory; "compiling" PTX wraps
// the text; a launch runs a plain C reference of the NF4 kernel named, after
// checking that the grid covers the problem. It checks what a driver would
// refuse: calls from a thread without a current context, PTX without its
// terminating NUL, images that are neither PTX nor its own binaries,
// allocations past FAKE_CUDA_MEMORY bytes (default 1 GiB). The numbers say
// nothing about the real kernels: the simulator tests and scripts/gpu-check
// cover those.
#include <cuda.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static size_t used;
static __thread CUcontext current;

static size_t limit(void) {
	const char *s = getenv("FAKE_CUDA_MEMORY");
	return s ? (size_t)strtoull(s, NULL, 10) : (size_t)1 << 30;
}

#define NEED_CTX() \
	do { \
		if (!current) return CUDA_ERROR_INVALID_CONTEXT; \
	} while (0)

CUresult cuInit(unsigned int flags) { return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int *v) { *v = 12040; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) {
	if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
	*d = 0;
	return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 4; break;
	default: *v = 0;
	}
	return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
	snprintf(name, len, "Fake CUDA device");
	return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem(size_t *b, CUdevice d) { *b = limit(); return CUDA_SUCCESS; }

CUresult cuCtxCreate(CUcontext *c, unsigned int flags, CUdevice d) {
	*c = (CUcontext)malloc(16);
	current = *c;
	return CUDA_SUCCESS;
}
CUresult cuCtxDestroy(CUcontext c) {
	if (c != current) return CUDA_ERROR_INVALID_CONTEXT; // destroyed off its thread
	free(c);
	current = NULL;
	return CUDA_SUCCESS;
}
CUresult cuCtxSynchronize(void) { NEED_CTX(); return CUDA_SUCCESS; }

CUresult cuMemGetInfo(size_t *free_, size_t *total) {
	pthread_mutex_lock(&mu);
	*total = limit();
	*free_ = *total - used;
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}
CUresult cuMemAlloc(CUdeviceptr *p, size_t n) {
	NEED_CTX();
	if (n == 0) return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&mu);
	if (used + n > limit()) {
		pthread_mutex_unlock(&mu);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	used += n;
	pthread_mutex_unlock(&mu);
	char *b = malloc(n + 256);
	if (!b) return CUDA_ERROR_OUT_OF_MEMORY;
	*(size_t *)b = n;
	memset(b + 256, 0xff, n); // uninitialised device memory reads as NaN
	*p = (CUdeviceptr)(b + 256);
	return CUDA_SUCCESS;
}
CUresult cuMemFree(CUdeviceptr p) {
	NEED_CTX();
	if (!p) return CUDA_ERROR_INVALID_VALUE;
	char *b = (char *)p - 256;
	pthread_mutex_lock(&mu);
	used -= *(size_t *)b;
	pthread_mutex_unlock(&mu);
	free(b);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD(CUdeviceptr d, const void *s, size_t n) { NEED_CTX(); memcpy((void *)d, s, n); return CUDA_SUCCESS; }
CUresult cuMemcpyDtoH(void *d, CUdeviceptr s, size_t n) { NEED_CTX(); memcpy(d, (void *)s, n); return CUDA_SUCCESS; }
CUresult cuMemcpyDtoD(CUdeviceptr d, CUdeviceptr s, size_t n) { NEED_CTX(); memmove((void *)d, (void *)s, n); return CUDA_SUCCESS; }
CUresult cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) { NEED_CTX(); memset((void *)d, v, n); return CUDA_SUCCESS; }

// Modules: a "binary" is the PTX text behind a magic line.
static const char magic[] = "FAKECUBIN\n";

struct link { char *data; size_t n; };

CUresult cuLinkCreate(unsigned int n, CUjit_option *o, void **v, CUlinkState *s) {
	NEED_CTX();
	*s = (CUlinkState)calloc(1, sizeof(struct link));
	return CUDA_SUCCESS;
}
CUresult cuLinkAddData(CUlinkState s, CUjitInputType t, void *data, size_t size, const char *name,
		       unsigned int n, CUjit_option *o, void **v) {
	NEED_CTX();
	const char *text = data;
	if (t != CU_JIT_INPUT_PTX || size == 0 || text[size - 1] != 0) return CUDA_ERROR_INVALID_PTX;
	if (!strstr(text, ".version") || !strstr(text, ".entry")) return CUDA_ERROR_INVALID_PTX;
	struct link *l = (struct link *)s;
	free(l->data);
	l->n = strlen(magic) + size;
	l->data = malloc(l->n);
	memcpy(l->data, magic, strlen(magic));
	memcpy(l->data + strlen(magic), text, size);
	return CUDA_SUCCESS;
}
CUresult cuLinkComplete(CUlinkState s, void **bin, size_t *size) {
	NEED_CTX();
	struct link *l = (struct link *)s;
	if (!l->data) return CUDA_ERROR_INVALID_VALUE;
	*bin = l->data;
	*size = l->n;
	return CUDA_SUCCESS;
}
CUresult cuLinkDestroy(CUlinkState s) {
	struct link *l = (struct link *)s;
	free(l->data);
	free(l);
	return CUDA_SUCCESS;
}

struct module { char *text; };
struct function { char name[256]; int maxDynamicShared; };

// A block may use 48 KB of shared memory unless its function opts in.
CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
	NEED_CTX();
	if (a != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) return CUDA_ERROR_NOT_SUPPORTED;
	if (v < 0 || v > 227 * 1024) return CUDA_ERROR_INVALID_VALUE;
	((struct function *)f)->maxDynamicShared = v;
	return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult r, const char **s) {
	switch (r) {
	case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
	case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
	case CUDA_ERROR_NOT_SUPPORTED: *s = "CUDA_ERROR_NOT_SUPPORTED"; break;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

// cuTensorMapEncodeTiled (CUDA 12; not in this cuda.h, so its enums are
// ints here) checks what the driver documents for a tiled map and writes
// the layout of kernels/tensormap's Encode, which the launch reads back.
// Only the forms the engine uses are accepted: rank 2, element strides 1,
// no interleave, zero fill.
CUresult cuTensorMapEncodeTiled(void *out, int elem, cuuint32_t rank, void *addr, const cuuint64_t *dim,
				const cuuint64_t *stride, const cuuint32_t *box, const cuuint32_t *estride,
				int interleave, int swizzle, int l2, int oob) {
	int eb = elem == 0 ? 1 : elem == 1 || elem == 9 ? 2 : elem == 2 || elem == 7 ? 4 : 0;
	uintptr_t base = (uintptr_t)addr;
	int span = swizzle == 1 ? 32 : swizzle == 2 ? 64 : swizzle == 3 ? 128 : 0;
	if (!out || ((uintptr_t)out & 63) || rank != 2 || !eb || !base || base % 16 || interleave || oob || l2 < 0 || l2 > 3 ||
	    swizzle < 0 || swizzle > 3 || estride[0] != 1 || estride[1] != 1)
		return CUDA_ERROR_INVALID_VALUE;
	if (!dim[0] || !dim[1] || dim[0] > (1ull << 32) || dim[1] > (1ull << 32) || stride[0] % 16 || stride[0] >= (1ull << 40) ||
	    stride[0] < dim[0] * eb || !box[0] || !box[1] || box[0] > 256 || box[1] > 256 || box[0] * eb % 16 ||
	    (span && box[0] * eb > (cuuint32_t)span))
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t *b = out;
	memset(b, 0, 128);
	uint32_t head[4] = {0x50414d54, 1, (uint32_t)elem, (uint32_t)swizzle};
	uint64_t body[4] = {base, dim[0], dim[1], stride[0]};
	memcpy(b, head, 16);
	memcpy(b + 16, body, 32);
	memcpy(b + 48, box, 8);
	return CUDA_SUCCESS;
}

static CUresult load(CUmodule *m, const void *image) {
	NEED_CTX();
	const char *text = image;
	if (strncmp(text, magic, strlen(magic)) != 0 && !(strstr(text, ".version") && strstr(text, ".entry")))
		return CUDA_ERROR_INVALID_IMAGE;
	struct module *mod = malloc(sizeof *mod);
	mod->text = strdup(text);
	*m = (CUmodule)mod;
	return CUDA_SUCCESS;
}
CUresult cuModuleLoadData(CUmodule *m, const void *image) { return load(m, image); }
CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, CUjit_option *o, void **v) {
	CUresult r = load(m, image);
	for (unsigned i = 0; r != CUDA_SUCCESS && i + 1 < n; i++)
		if (o[i] == CU_JIT_ERROR_LOG_BUFFER && o[i + 1] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
			snprintf((char *)v[i], (size_t)(uintptr_t)v[i + 1], "fakecuda: not PTX");
	return r;
}
CUresult cuModuleUnload(CUmodule m) {
	NEED_CTX();
	struct module *mod = (struct module *)m;
	free(mod->text);
	free(mod);
	return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
	NEED_CTX();
	char want[300];
	snprintf(want, sizeof want, ".entry %s(", name);
	if (!strstr(((struct module *)m)->text, want)) return CUDA_ERROR_NOT_FOUND;
	struct function *fn = calloc(1, sizeof *fn);
	snprintf(fn->name, sizeof fn->name, "%s", name);
	*f = (CUfunction)fn;
	return CUDA_SUCCESS;
}

// The reference kernels.
static const float codebook[16] = {
	-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
	-0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
	0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
	0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

struct weights {
	const uint8_t *codes;
	int dq;
	const float *absmax;
	const uint8_t *q;
	const float *map, *nested;
	float offset;
	uint64_t n, k, b;
};

static float scale(const struct weights *w, uint64_t i) {
	if (!w->dq) return w->absmax[i];
	float p = w->map[w->q[i]] * w->nested[i / 256];
	return p + w->offset;
}

static float at(const struct weights *w, uint64_t n, uint64_t k) {
	uint64_t e = n * w->k + k;
	int c = (w->codes[e / 2] >> (4 * (e & 1))) & 15;
	return codebook[c] * scale(w, e / w->b);
}

// take reads the scale arguments from a and returns how many it used.
static int take(struct weights *w, const uint64_t *a) {
	if (!w->dq) {
		w->absmax = (const float *)a[0];
		return 1;
	}
	w->q = (const uint8_t *)a[0];
	w->map = (const float *)a[1];
	w->nested = (const float *)a[2];
	uint32_t bits = (uint32_t)a[3];
	memcpy(&w->offset, &bits, 4);
	return 4;
}

static double bf16(uint16_t h) {
	uint32_t b = (uint32_t)h << 16;
	float f;
	memcpy(&f, &b, 4);
	return f;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
			unsigned shared, CUstream s, void **params, void **extra) {
	NEED_CTX();
	const char *name = ((struct function *)f)->name;
	if (shared > 48 * 1024 && (int)shared > ((struct function *)f)->maxDynamicShared) return CUDA_ERROR_INVALID_VALUE;
	uint64_t a[16];
	int np = 0;
	struct weights w = {0};
	w.dq = strstr(name, "_dq") != NULL;
	const char *bp = NULL; // the last "_b<digits>": "bf16tc" also starts with _b
	for (const char *p = strstr(name, "_b"); p; p = strstr(p + 1, "_b"))
		if (p[2] >= '0' && p[2] <= '9') bp = p;
	int mgemv = 0;
	// A split tensor-core or warpgroup GEMM (_sk) splits K grid.z ways
	// and takes a workspace after its output.
	int split = strstr(name, "bf16tc_sk_") != NULL || strstr(name, "bf16wg_sk_") != NULL;
	if (!bp || sscanf(bp, "_b%lu", &w.b) != 1 || (gz != 1 && !split) || by != 1 || bz != 1) return CUDA_ERROR_INVALID_VALUE;
	int gemvTC = sscanf(name, "nf4_gemv_tc_m%d", &mgemv) == 1;
	int gemv = gemvTC || sscanf(name, "nf4_gemv_m%d", &mgemv) == 1;
	int deq = strncmp(name, "nf4_dequantize_f32", 18) == 0;
	int gemmT = strncmp(name, "nf4_gemm_t_f32", 14) == 0 || strncmp(name, "nf4_gemm_t_bf16tc", 17) == 0;
	// The sm_90a warpgroup GEMM reads x through a tensor map (its first
	// parameter, 128 bytes by value) into dynamic shared memory.
	int wg = strncmp(name, "nf4_gemm_bf16wg", 15) == 0;
	int gemm = strncmp(name, "nf4_gemm_f32", 12) == 0 || strncmp(name, "nf4_gemm_bf16tc", 15) == 0 || wg;
	np = (w.dq ? 4 : 1) + (deq ? 3 : gemv ? 5 : 6) + split;
	for (int i = 0; i < np; i++) a[i] = *(uint64_t *)params[i];
	int compute = getenv("FAKE_CUDA_NOCOMPUTE") == NULL;
	if (deq) {
		w.codes = (const uint8_t *)a[0];
		int j = 1 + take(&w, a + 1);
		float *out = (float *)a[j];
		uint64_t n = a[j + 1];
		if (bx != 256 || gy != 1 || (uint64_t)gx * 256 * 32 < n || n % w.b) return CUDA_ERROR_INVALID_VALUE;
		w.k = n; // one row
		for (uint64_t i = 0; compute && i < n; i++) out[i] = at(&w, 0, i);
		return CUDA_SUCCESS;
	}
	const float *x = (const float *)a[0];
	// The tensor-core gemv and forward GEMM read x as bf16 (the host
	// rounds it).
	const uint16_t *xh = (const uint16_t *)a[0];
	int xbf = gemvTC || wg || strncmp(name, "nf4_gemm_bf16tc", 15) == 0;
	w.codes = (const uint8_t *)a[1];
	int j = 2 + take(&w, a + 2);
	float *y = (float *)a[j];
	const uint32_t *work = NULL;
	if (split) work = (const uint32_t *)a[++j];
	uint64_t m, n, k;
	if (gemv) {
		m = mgemv, n = a[j + 1], k = a[j + 2];
		// Output rows per block for M = 1…8: gemvConfigs in kernels/gemv.go,
		// unless the name gives them (nf4_gemv_m<M>_r<rows>_…).
		static const uint64_t rows[9] = {0, 16, 16, 8, 8, 16, 16, 16, 16};
		int named = 0;
		uint64_t r = 0;
		if (mgemv >= 1 && mgemv <= 8) r = rows[mgemv];
		if (gemvTC) {
			// 16-row tiles per block unless named (nf4_gemv_tc_m<M>_t<tiles>_…),
			// for M = 2…16: GemvTC's default of 2, or 1 at M > 8 where the
			// block size's scales leave registers for one (GemvTCMaxTilesM).
			int tiles = 2;
			if (mgemv > 8 && (w.b < 64 || w.b > 128)) tiles = 1;
			if (sscanf(name, "nf4_gemv_tc_m%d_t%d", &mgemv, &named) == 2) tiles = named;
			r = mgemv >= 2 && mgemv <= 16 && tiles >= 1 && tiles <= 4 ? 16 * (uint64_t)tiles : 0;
		} else if (sscanf(name, "nf4_gemv_m%d_r%d", &mgemv, &named) == 2) {
			if (named < 1 || (uint64_t)named > r) return CUDA_ERROR_INVALID_VALUE;
			r = named;
		}
		if (!r || bx != 128 || gy != 1 || (uint64_t)gx * r < n) return CUDA_ERROR_INVALID_VALUE;
	} else {
		m = a[j + 1], n = a[j + 2], k = a[j + 3];
		// Tiles: 64×64 for the float32 GEMMs, 128×128 (256 threads) for bf16tc,
		// 128 W rows × 128 or 256 x rows (_n256) for bf16wg.
		int tc = strstr(name, "bf16tc") != NULL;
		uint64_t tile = tc || wg ? 128 : 64, mtile = strstr(name, "_n256") ? 256 : tile;
		uint64_t cols = gemmT ? k : n;
		if (!(gemm || gemmT) || ((tc || wg) && bx != 256) || (uint64_t)gx * tile < cols || (uint64_t)gy * mtile < m) return CUDA_ERROR_INVALID_VALUE;
		if (split) {
			// The workspace (4·(S·M·cols + tiles) bytes) must come zeroed,
			// as the kernel leaves it: partial sums and arrival counters.
			uint64_t words = (uint64_t)gz * m * cols + (uint64_t)gx * gy;
			if (gz < 2 || !work) return CUDA_ERROR_INVALID_VALUE;
			for (uint64_t i = 0; i < words; i++)
				if (work[i]) return CUDA_ERROR_ILLEGAL_ADDRESS;
		}
		if (wg) {
			// The map kernels/tensormap's Encode describes, as this
			// driver's cuTensorMapEncodeTiled wrote it: x as bf16 [m][k],
			// boxes of 64 k × the block's x rows, 128-byte swizzle.
			const uint8_t *map = params[0];
			uint32_t head[4], box[2];
			uint64_t body[4];
			memcpy(head, map, 16);
			memcpy(body, map + 16, 32);
			memcpy(box, map + 48, 8);
			if (((uintptr_t)map & 63) || head[0] != 0x50414d54 || head[1] != 1 || head[2] != 9 || head[3] != 3 ||
			    body[1] != k || body[2] != m || body[3] != 2 * k || box[0] != 64 || box[1] != mtile || shared <= 48 * 1024)
				return CUDA_ERROR_INVALID_VALUE;
			x = (const float *)body[0];
			xh = (const uint16_t *)body[0];
		}
	}
	w.n = n, w.k = k;
	if (!m || !n || !k || k % w.b) return CUDA_ERROR_INVALID_VALUE;
	for (uint64_t i = 0; compute && i < m; i++) {
		if (gemmT) {
			for (uint64_t l = 0; l < k; l++) {
				double s = 0;
				for (uint64_t r = 0; r < n; r++) s += (double)x[i * n + r] * at(&w, r, l);
				y[i * k + l] = (float)s;
			}
		} else {
			for (uint64_t r = 0; r < n; r++) {
				double s = 0;
				for (uint64_t l = 0; l < k; l++) s += (xbf ? bf16(xh[i * k + l]) : (double)x[i * k + l]) * at(&w, r, l);
				y[i * n + r] = (float)s;
			}
		}
	}
	return CUDA_SUCCESS;
}

// Events time with the host clock.
struct event { double t; };
static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
CUresult cuEventCreate(CUevent *e, unsigned int flags) { NEED_CTX(); *e = (CUevent)calloc(1, sizeof(struct event)); return CUDA_SUCCESS; }
CUresult cuEventRecord(CUevent e, CUstream s) { NEED_CTX(); ((struct event *)e)->t = now(); return CUDA_SUCCESS; }
CUresult cuEventSynchronize(CUevent e) { NEED_CTX(); return CUDA_SUCCESS; }
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
	NEED_CTX();
	*ms = (float)((((struct event *)b)->t - ((struct event *)a)->t) * 1e3);
	if (*ms <= 0) *ms = 1e-3f;
	return CUDA_SUCCESS;
}
CUresult cuEventDestroy(CUevent e) { NEED_CTX(); free(e); return CUDA_SUCCESS; }
