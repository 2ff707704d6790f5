// Package perf predicts how fast an NF4 kernel runs on a GPU, without one.
// It is a model, not a measurement: scripts/gpu-check run measures the same
// quantities with Nsight Compute when a device is lent, to calibrate it.
//
// For a kernel, a problem shape and a device profile, Analyze
//
//   - assembles the kernel with CUDA 12.4's ptxas (registers, shared
//     memory) and reads its SASS: the main loop (the largest backward
//     branch) counted by pipe;
//
//   - simulates a few blocks of the full-size launch in kernels/ptxsim on
//     generated data (one of each kind, the rest of the grid is never
//     touched), with the profiler on: sectors and lines per global request,
//     L1 and shared-memory wavefronts, bank conflicts, cp.async and ldmatrix
//     traffic, L1 misses, the loop's trip count;
//
//   - and hands the counts (a Workload) to Predict, which computes
//     occupancy and waves, bytes in flight against Little's law, and the
//     time each resource needs (DRAM, L2, the L1/shared data path, issue,
//     each pipe, the tensor cores, memory latency per round trip); the
//     prediction is the largest, named; its fraction is the physical limit
//     (the problem's bytes at DRAM copy bandwidth, or its FLOPs at the FP32
//     or dense bf16 peak, whichever is longer) over the prediction.
//
//     k, _ := kernels.NewGemv(1, 64, false)
//     r, err := perf.Analyze(k, kernels.Shape{M: 1, N: 4096, K: 4096, BlockSize: 64}, perf.H200())
//     fmt.Println(r.Prediction.Binding, r.Prediction.Seconds, r.Prediction.Fraction)
//
// Device profiles (H100, H200) carry every number with its source, and
// say which are assumptions (Device.Assumptions); ModelAssumptions lists
// the model's own rules. Predict can be called on a hand-built Workload,
// which is how the model's bounds are tested.
//
// The CUDA 12.4 tools are found in the cache scripts/install-ptxas.sh 12.4
// fills (see kernels/internal/ptxas.CUDA12Dirs); without them Analyze
// returns an error wrapping ErrNoTools. The budgets in budget_test.go hold
// every kernel to its predicted fraction; go run ./kernels/cmd/ptxdump
// -perf prints the table.
package perf
