// matmul times ggml's CPU product y[M, N] = x[M, K]·Wᵀ with W in the CPU
// backend's repack buffer, the layout llama.cpp loads weights into (for
// iq4_nl and q4_0 on x86 with AVX2 or AVX-512, 8×8 interleaved blocks and
// activations quantized to 8 bits), so that it is ggml's fastest CPU path
// for the type short of AMX. Copies of W rotate so that each call reads
// its weights from memory. Prints one line: type N K M, the median and
// minimum milliseconds over the repetitions, and the buffer type used.
//
//	matmul TYPE N K M [REPS]      TYPE: iq4_nl, q4_0 or f32
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

static double now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: matmul TYPE N K M [REPS]\n");
		return 2;
	}
	enum ggml_type type;
	if (strcmp(argv[1], "iq4_nl") == 0) {
		type = GGML_TYPE_IQ4_NL;
	} else if (strcmp(argv[1], "q4_0") == 0) {
		type = GGML_TYPE_Q4_0;
	} else if (strcmp(argv[1], "f32") == 0) {
		type = GGML_TYPE_F32;
	} else {
		fprintf(stderr, "matmul: unknown type %s\n", argv[1]);
		return 2;
	}
	long n = atol(argv[2]), k = atol(argv[3]), m = atol(argv[4]);
	int reps = argc > 5 ? atoi(argv[5]) : 15;
	if (n < 8 || k < 32 || m < 1 || reps < 1 || k % 32 != 0) {
		fprintf(stderr, "matmul: want N ≥ 8, K a multiple of 32, M ≥ 1, REPS ≥ 1\n");
		return 2;
	}

	ggml_backend_t backend = ggml_backend_cpu_init();
	int threads = 0;
	const char *env = getenv("GGML_THREADS");
	threads = env ? atoi(env) : 0;
	if (threads <= 0) {
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	}
	ggml_backend_cpu_set_n_threads(backend, threads);
	ggml_backend_dev_t dev = ggml_backend_get_device(backend);
	ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
	ggml_backend_dev_get_extra_bufts_t extra_fn =
		(ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
	ggml_backend_buffer_type_t wbuft = ggml_backend_get_default_buffer_type(backend);
	if (type != GGML_TYPE_F32 && extra_fn) {
		for (ggml_backend_buffer_type_t *b = extra_fn(dev); b && *b; b++) {
			if (strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) {
				wbuft = *b;
			}
		}
	}

	// Enough copies of W that together they are three times a 32 MiB cache.
	size_t wbytes = ggml_row_size(type, k) * n;
	int copies = (int)((96u << 20) / wbytes) + 1;
	if (copies < 2) {
		copies = 2;
	}
	struct ggml_init_params wp = {ggml_tensor_overhead() * copies + 1024, NULL, true};
	struct ggml_context *wctx = ggml_init(wp);
	struct ggml_tensor **w = calloc(copies, sizeof *w);
	for (int c = 0; c < copies; c++) {
		w[c] = ggml_new_tensor_2d(wctx, type, k, n);
	}
	ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, wbuft);
	if (!wbuf) {
		fprintf(stderr, "matmul: cannot allocate W in %s\n", ggml_backend_buft_name(wbuft));
		return 1;
	}
	ggml_backend_buffer_set_usage(wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
	float *src = malloc(sizeof(float) * n * k);
	srand(1);
	for (long i = 0; i < n * k; i++) {
		src[i] = (float)rand() / RAND_MAX * 2 - 1;
	}
	void *q = malloc(wbytes);
	if (type == GGML_TYPE_F32) {
		memcpy(q, src, wbytes);
	} else {
		ggml_quantize_chunk(type, src, q, 0, n, k, NULL);
	}
	for (int c = 0; c < copies; c++) {
		ggml_backend_tensor_set(w[c], q, 0, wbytes); // repacks into the buffer's layout
	}

	size_t meta = ggml_tensor_overhead() * (2 * copies + 8) + ggml_graph_overhead() * copies;
	struct ggml_init_params cp = {meta, NULL, true};
	struct ggml_context *ctx = ggml_init(cp);
	struct ggml_tensor *x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, m);
	struct ggml_cgraph **g = calloc(copies, sizeof *g);
	for (int c = 0; c < copies; c++) {
		g[c] = ggml_new_graph(ctx);
		ggml_build_forward_expand(g[c], ggml_mul_mat(ctx, w[c], x));
	}
	ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors(ctx, backend);
	float *xs = malloc(sizeof(float) * k * m);
	for (long i = 0; i < k * m; i++) {
		xs[i] = (float)rand() / RAND_MAX * 2 - 1;
	}
	ggml_backend_tensor_set(x, xs, 0, sizeof(float) * k * m);

	double *t = calloc(reps, sizeof *t);
	ggml_backend_graph_compute(backend, g[0]);
	for (int r = 0; r < reps; r++) {
		double t0 = now_ms();
		ggml_backend_graph_compute(backend, g[(r + 1) % copies]);
		t[r] = now_ms() - t0;
	}
	qsort(t, reps, sizeof *t, cmp);
	printf("ggml %s N=%ld K=%ld M=%ld: %.3f ms median, %.3f min, %d reps, %d threads, weights in %s, %d copies\n",
		argv[1], n, k, m, t[reps / 2], t[0], reps, threads, ggml_backend_buft_name(wbuft), copies);
	ggml_backend_buffer_free(buf);
	ggml_backend_buffer_free(wbuf);
	ggml_free(ctx);
	ggml_free(wctx);
	ggml_backend_free(backend);
	return 0;
}
