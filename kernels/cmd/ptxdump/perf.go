package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/nf4go/nf4/kernels/perf"
)

type perfOptions struct {
	on, json, profile bool
	lines             int
	device            string
	shapes, ms, run   string
}

// runPerf prints the model's table (or JSON lines) for the chosen cases.
func runPerf(w io.Writer, o perfOptions) error {
	d, err := perf.DeviceByName(o.device)
	if err != nil {
		return err
	}
	shapes, err := parseShapes(o.shapes)
	if err != nil {
		return err
	}
	ms, err := parseInts(o.ms, perf.StandardMs)
	if err != nil {
		return err
	}
	cases := perf.CasesFor(d, shapes, ms)
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		var keep []perf.Case
		for _, c := range cases {
			if re.MatchString(c.Kernel.Name()) {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	if len(cases) == 0 {
		return fmt.Errorf("no kernel × shape to model")
	}
	rs, err := perf.AnalyzeAll(cases, d)
	if err != nil {
		return err
	}
	if o.json {
		return perf.WriteJSON(w, rs)
	}
	fmt.Fprintf(w, "Performance model of the NF4 kernels on %s (%s): a prediction, not a measurement.\n\n", d.Name, rs[0].Target)
	perf.WriteTable(w, rs)
	fmt.Fprintln(w)
	if o.lines > 0 {
		fmt.Fprintln(w, "Costliest memory instructions (per launch):")
		perf.WriteHotLines(w, rs, o.lines)
		fmt.Fprintln(w)
	}
	perf.WriteAssumptions(w, d)
	if o.profile {
		fmt.Fprintf(w, "\nDevice profile %s:\n", d.Key)
		for _, f := range d.Facts() {
			fmt.Fprintf(w, "- %s = %.4g (%s): %s\n", f.Name, f.V, f.Kind, f.Source)
		}
	}
	return nil
}

func parseShapes(s string) ([][2]int, error) {
	if s == "" {
		return perf.StandardShapes, nil
	}
	var out [][2]int
	for _, f := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(f), "x")
		n, err1 := strconv.Atoi(a)
		k, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 {
			return nil, fmt.Errorf("-shapes: %q is not NxK", f)
		}
		out = append(out, [2]int{n, k})
	}
	return out, nil
}

func parseInts(s string, def []int) ([]int, error) {
	if s == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-m: %q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runCalibrate prints ncu's measurements beside the model's predictions.
func runCalibrate(w io.Writer, ncuCSV, modelJSON, device string) error {
	if modelJSON == "" {
		return fmt.Errorf("-calibrate needs -model (the JSON lines of -perf -json)")
	}
	f, err := os.Open(ncuCSV)
	if err != nil {
		return err
	}
	defer f.Close()
	launches, err := perf.ParseNcuCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", ncuCSV, err)
	}
	mf, err := os.Open(modelJSON)
	if err != nil {
		return err
	}
	defer mf.Close()
	recs, err := perf.ReadRecords(mf)
	if err != nil {
		return fmt.Errorf("%s: %w", modelJSON, err)
	}
	cs, cerr := perf.Compare(recs, device, launches)
	if len(cs) > 0 {
		fmt.Fprintf(w, "Nsight Compute against the performance model (%s, %d kernel × shape pairs):\n\n", device, len(cs))
		perf.WriteCalibration(w, cs)
	}
	return cerr
}

// ncuMetricList is the --metrics argument of the calibration's ncu run.
func ncuMetricList() string {
	var names []string
	for _, m := range perf.NcuMetrics {
		names = append(names, m.Name)
	}
	return strings.Join(names, ",")
}
