// Command ptxdump prints, for every NF4 kernel and target, what ptxas makes
// of it: registers (and the kernel's budget), shared memory, stack frame,
// spills and the SASS instruction mix. With -o DIR it also writes each
// kernel's PTX as DIR/<kernel>.<target>.ptx so it can be assembled by hand.
//
//	go run ./kernels/cmd/ptxdump [-o DIR] [-targets sm_80,sm_90] [-mix N]
//
// ptxas and cuobjdump are found through $NF4_PTXAS or PATH
// (scripts/install-ptxas.sh installs them).
//
// With -perf it prints the performance model instead (package
// kernels/perf): per kernel and shape, the bytes moved, sectors and
// wavefronts of the costliest memory instruction, bank conflicts, SASS
// instructions per weight in the main loop, occupancy, waves, the binding
// resource, the predicted time and its fraction of the physical limit. It
// is a model, not a measurement.
//
//	go run ./kernels/cmd/ptxdump -perf -device h200 [-json] [-shapes 4096x4096,...] [-m 1,8,512] [-run REGEXP] [-lines N] [-profile]
//
// The CUDA 12.4 tools it needs are found in the cache
// scripts/install-ptxas.sh 12.4 fills, without any setting.
//
// With -calibrate it reads what Nsight Compute measured (ncu --csv, either
// page) and prints each measured quantity beside the model's prediction of
// it, from the JSON lines -perf -json wrote (scripts/gpu-check run does
// this on a GPU machine):
//
//	ptxdump -calibrate ncu.csv -model model.jsonl -device h200
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nf4go/nf4/kernels"
	"github.com/nf4go/nf4/kernels/internal/ptxas"
	"github.com/nf4go/nf4/kernels/ptx"
)

func main() {
	out := flag.String("o", "", "write <kernel>.<target>.ptx files into this folder")
	targets := flag.String("targets", "sm_80,sm_90", "comma-separated targets")
	mixN := flag.Int("mix", 8, "SASS opcodes to list per kernel")
	var po perfOptions
	flag.BoolVar(&po.on, "perf", false, "print the performance model's prediction per kernel and shape")
	flag.StringVar(&po.device, "device", "h200", "with -perf: device profile (h100, h200)")
	flag.BoolVar(&po.json, "json", false, "with -perf: one JSON object per kernel × shape × device")
	flag.StringVar(&po.shapes, "shapes", "", "with -perf: comma-separated NxK weight shapes (default: the standard five)")
	flag.StringVar(&po.ms, "m", "", "with -perf: comma-separated batch sizes M (default 1,2,4,8,16,64,512,4096)")
	flag.StringVar(&po.run, "run", "", "with -perf: only kernels whose name matches this regular expression")
	flag.BoolVar(&po.profile, "profile", false, "with -perf: also print the device profile, every number with its source")
	flag.IntVar(&po.lines, "lines", 0, "with -perf: also list each kernel's N costliest memory instructions with their PTX line")
	calib := flag.String("calibrate", "", "compare this ncu --csv output with the model (-model, -device)")
	model := flag.String("model", "", "with -calibrate: the model's JSON lines (from -perf -json)")
	metrics := flag.Bool("ncu-metrics", false, "print the Nsight Compute metrics the calibration collects, comma-separated")
	flag.Parse()
	var err error
	switch {
	case *metrics:
		fmt.Println(ncuMetricList())
	case *calib != "":
		err = runCalibrate(os.Stdout, *calib, *model, po.device)
	case po.on:
		err = runPerf(os.Stdout, po)
	default:
		err = run(os.Stdout, *out, *targets, *mixN)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ptxdump:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, out, targetList string, mixN int) error {
	var tgs []ptx.Target
	for _, s := range strings.Split(targetList, ",") {
		t, err := ptx.ParseTarget(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		tgs = append(tgs, t)
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
	}
	as, err := ptxas.Find()
	var objdump string
	if err == nil {
		objdump, err = ptxas.FindCuobjdump(as)
	}
	if err != nil {
		fmt.Fprintf(w, "no table: %v\n", err)
		as = ""
	} else {
		fmt.Fprintln(w, "| kernel | target | regs (budget) | smem B | stack B | spill st/ld B | SASS mix |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	}
	for _, k := range kernels.All() {
		for _, t := range tgs {
			if t.SM < k.MinSM() {
				continue // not printed for an older architecture
			}
			src, err := k.PTX(t)
			if err != nil {
				return fmt.Errorf("%s %s: %w", k.Name(), t, err)
			}
			// An sm_90a kernel prints sm_90a code for sm_90: the file is
			// named by the target it holds.
			printed := t
			if strings.Contains(src, "\n.target sm_90a\n") {
				printed = ptx.SM90a
			}
			if out != "" {
				if err := os.WriteFile(filepath.Join(out, k.Name()+"."+printed.String()+".ptx"), []byte(src), 0o644); err != nil {
					return err
				}
			}
			if as == "" || printed.Accel {
				continue // CUDA 11.8's ptxas cannot assemble sm_90a
			}
			if err := row(w, as, objdump, k, t, src, mixN); err != nil {
				return err
			}
		}
	}
	return nil
}

func row(w io.Writer, as, objdump string, k kernels.Kernel, t ptx.Target, src string, mixN int) error {
	r, err := ptxas.Assemble(as, src, t.String())
	if err != nil {
		return err
	}
	f := r.Functions[k.Name()]
	if f == nil {
		return fmt.Errorf("%s: ptxas reported no function", k.Name())
	}
	sass, err := ptxas.SASS(objdump, r.Cubin)
	if err != nil {
		return err
	}
	mix := ptxas.Mix(sass)
	var parts []string
	total := 0
	for _, n := range mix {
		total += n
	}
	for i, op := range ptxas.Opcodes(mix) {
		if i == mixN {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", op, mix[op]))
	}
	fmt.Fprintf(w, "| %s | %s | %d (%d) | %d | %d | %d/%d | %d instrs: %s |\n",
		k.Name(), t, f.Registers, k.RegBudget(), f.SharedBytes, f.StackFrame, f.SpillStores, f.SpillLoads,
		total, strings.Join(parts, ", "))
	return nil
}
