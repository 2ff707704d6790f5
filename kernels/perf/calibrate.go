package perf

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// NcuMetric is an Nsight Compute metric the calibration collects, and the
// model figure it is held against.
type NcuMetric struct {
	Name  string // ncu metric, e.g. dram__bytes_read.sum
	What  string // what it measures
	Model string // the Record field (JSON name) it is compared with, or ""
}

// NcuMetrics are the metrics scripts/gpu-check run asks ncu for (those the
// installed ncu does not know are dropped there, see its --query-metrics).
var NcuMetrics = []NcuMetric{
	{"gpu__time_duration.sum", "kernel time (ns)", "predicted_us"},
	{"dram__bytes_read.sum", "DRAM bytes read", "dram_bytes"},
	{"dram__bytes_write.sum", "DRAM bytes written", "dram_bytes"},
	{"lts__t_sectors_srcunit_tex.sum", "L2 sectors requested by L1", "l2_bytes"},
	{"l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum", "global load requests", "global_load_requests"},
	{"l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum", "global load sectors", "global_load_sectors"},
	{"l1tex__data_pipe_lsu_wavefronts_mem_global_op_ld.sum", "L1 data wavefronts of global loads", "global_load_wavefronts"},
	{"l1tex__data_pipe_lsu_wavefronts_mem_shared.sum", "shared-memory wavefronts", "shared_load_store_wavefronts"},
	{"l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum", "shared-memory bank conflicts", "bank_conflicts"},
	{"smsp__inst_executed.sum", "warp instructions executed", "warp_instructions"},
	{"launch__registers_per_thread", "registers per thread", "registers"},
	{"sm__warps_active.avg.pct_of_peak_sustained_active", "achieved occupancy (% of the SM's warps)", ""},
}

// NcuLaunch is one profiled kernel launch.
type NcuLaunch struct {
	Kernel  string
	Grid    [3]int
	Block   [3]int
	Metrics map[string]float64 // in the units ncu printed (bytes, ns, counts, %)
}

// ParseNcuCSV reads what `ncu --csv` prints, in either of its layouts: the
// default one row per metric ("Metric Name","Metric Unit","Metric Value"),
// or --page raw, one row per launch with a units row under the header.
// Lines before the header (the profiled program's output, ==PROF== lines)
// are skipped; numbers may carry thousands separators; "n/a" values are
// left out. Times in µs, ms or s are converted to ns, sizes in Kbyte,
// Mbyte, Gbyte to bytes.
func ParseNcuCSV(r io.Reader) ([]NcuLaunch, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, `"ID",`) {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, errors.New("perf: no ncu CSV header (a line starting with \"ID\",) in the input")
	}
	var body []string
	for _, l := range lines[start:] {
		if strings.HasPrefix(l, `"`) { // ncu's rows are quoted; program output interleaved is not
			body = append(body, l)
		}
	}
	cr := csv.NewReader(strings.NewReader(strings.Join(body, "\n")))
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("perf: ncu CSV: %w", err)
	}
	head := rows[0]
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, need := range []string{"ID", "Kernel Name", "Grid Size", "Block Size"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("perf: ncu CSV has no %q column", need)
		}
	}
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	byID := map[string]*NcuLaunch{}
	var order []string
	launch := func(row []string) (*NcuLaunch, error) {
		id := get(row, "ID")
		if l, ok := byID[id]; ok {
			return l, nil
		}
		g, err := parseDim3(get(row, "Grid Size"))
		if err != nil {
			return nil, fmt.Errorf("perf: ncu CSV launch %s: grid: %w", id, err)
		}
		bl, err := parseDim3(get(row, "Block Size"))
		if err != nil {
			return nil, fmt.Errorf("perf: ncu CSV launch %s: block: %w", id, err)
		}
		l := &NcuLaunch{Kernel: kernelName(get(row, "Kernel Name")), Grid: g, Block: bl, Metrics: map[string]float64{}}
		byID[id] = l
		order = append(order, id)
		return l, nil
	}
	if _, long := col["Metric Name"]; long {
		for _, row := range rows[1:] {
			l, err := launch(row)
			if err != nil {
				return nil, err
			}
			if v, ok := ncuValue(get(row, "Metric Value"), get(row, "Metric Unit")); ok {
				l.Metrics[get(row, "Metric Name")] = v
			}
		}
	} else {
		if len(rows) < 2 {
			return nil, errors.New("perf: ncu raw CSV has no units row")
		}
		units := rows[1]
		if units[col["ID"]] != "" {
			return nil, errors.New("perf: ncu raw CSV: the second row is not the units row")
		}
		for _, row := range rows[2:] {
			l, err := launch(row)
			if err != nil {
				return nil, err
			}
			for i, h := range head {
				if !strings.Contains(h, "__") || i >= len(row) {
					continue // identity columns; metrics have a __ in their name
				}
				u := ""
				if i < len(units) {
					u = units[i]
				}
				if v, ok := ncuValue(row[i], u); ok {
					l.Metrics[h] = v
				}
			}
		}
	}
	out := make([]NcuLaunch, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}

// kernelName drops a demangled signature's parameter list.
func kernelName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i > 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		s = s[i+1:]
	}
	return s
}

func parseDim3(s string) ([3]int, error) {
	var d [3]int
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '(' || r == ')' || r == ',' || r == ' ' })
	if len(f) != 3 {
		return d, fmt.Errorf("%q is not (x, y, z)", s)
	}
	for i, x := range f {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 {
			return d, fmt.Errorf("%q is not (x, y, z)", s)
		}
		d[i] = n
	}
	return d, nil
}

var unitScale = map[string]float64{
	"ns": 1, "nsecond": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6, "second": 1e9, "s": 1e9,
	"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9,
}

// ncuValue reads one value ("9,437,184", "4.0e-05", "n/a") in unit u.
func ncuValue(s, u string) (float64, bool) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	if s == "" || s == "n/a" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	if f, ok := unitScale[u]; ok {
		v *= f
	}
	return v, true
}

// ReadRecords reads the JSON lines of ptxdump -perf -json.
func ReadRecords(r io.Reader) ([]Record, error) {
	dec := json.NewDecoder(r)
	var out []Record
	for {
		var rec Record
		if err := dec.Decode(&rec); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("perf: model records: %w", err)
		}
		out = append(out, rec)
	}
}

// Calibration is one kernel × shape measured by ncu beside the model.
type Calibration struct {
	Model    Record
	Launches int                // profiled launches averaged
	Measured map[string]float64 // mean per launch, by ncu metric
}

// Compare pairs every model record of device with the profiled launches of
// the same kernel and grid, averaging their metrics. Records without a
// launch are left out; launches without a record are reported in the
// error, as is a comparison with nothing to compare.
func Compare(model []Record, device string, launches []NcuLaunch) ([]Calibration, error) {
	type key struct {
		kernel string
		grid   [3]int
	}
	sum := map[key]map[string]float64{}
	n := map[key]map[string]int{}
	count := map[key]int{}
	for _, l := range launches {
		k := key{l.Kernel, l.Grid}
		if sum[k] == nil {
			sum[k], n[k] = map[string]float64{}, map[string]int{}
		}
		count[k]++
		for m, v := range l.Metrics {
			sum[k][m] += v
			n[k][m]++
		}
	}
	var out []Calibration
	used := map[key]bool{}
	for _, rec := range model {
		if rec.Device != device {
			continue
		}
		k := key{rec.Kernel, rec.Grid}
		if count[k] == 0 {
			continue
		}
		used[k] = true
		c := Calibration{Model: rec, Launches: count[k], Measured: map[string]float64{}}
		for m, v := range sum[k] {
			c.Measured[m] = v / float64(n[k][m])
		}
		out = append(out, c)
	}
	var stray []string
	for k := range count {
		if !used[k] {
			stray = append(stray, fmt.Sprintf("%s grid %v", k.kernel, k.grid))
		}
	}
	sort.Strings(stray)
	if len(out) == 0 {
		return nil, fmt.Errorf("perf: no profiled launch matches a %s model record (launches: %s)", device, strings.Join(stray, "; "))
	}
	if len(stray) > 0 {
		return out, fmt.Errorf("perf: profiled launches without a model record: %s", strings.Join(stray, "; "))
	}
	return out, nil
}

// modelValue is the model's figure for an ncu metric, in ncu's unit.
func modelValue(r Record, metric string) (float64, bool) {
	switch metric {
	case "gpu__time_duration.sum":
		return r.PredictedUS * 1e3, true
	case "dram__bytes":
		return r.DRAMBytes, true
	case "lts__t_sectors_srcunit_tex.sum":
		return r.L2Bytes / 32, true
	case "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum":
		return float64(r.LoadRequests), true
	case "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum":
		return float64(r.LoadSectors), true
	case "l1tex__data_pipe_lsu_wavefronts_mem_global_op_ld.sum":
		return float64(r.LoadWaves), true
	case "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum":
		return float64(r.SharedOnlyWaves), true
	case "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum":
		return float64(r.BankConflicts), true
	case "smsp__inst_executed.sum":
		return r.WarpInstrs, true
	case "launch__registers_per_thread":
		return float64(r.Registers), true
	}
	return 0, false
}

// WriteCalibration prints, per kernel × shape, each measured quantity beside
// the model's, and their ratio (model ÷ measured).
func WriteCalibration(w io.Writer, cs []Calibration) {
	fmt.Fprintln(w, "| kernel | M | N×K | quantity | measured (ncu) | model | model ÷ measured |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, c := range cs {
		r := c.Model
		m := c.Measured
		// DRAM: read + write against the model's total.
		if rd, ok := m["dram__bytes_read.sum"]; ok {
			m["dram__bytes"] = rd + m["dram__bytes_write.sum"]
		}
		rows := []struct{ metric, what string }{
			{"gpu__time_duration.sum", "time (µs)"},
			{"dram__bytes", "DRAM bytes"},
		}
		for _, nm := range NcuMetrics[3:] {
			rows = append(rows, struct{ metric, what string }{nm.Name, nm.What})
		}
		for _, row := range rows {
			got, ok := m[row.metric]
			if !ok {
				continue
			}
			want, has := modelValue(r, row.metric)
			scale := 1.0
			if row.metric == "gpu__time_duration.sum" {
				scale = 1e-3 // ns → µs
			}
			ratio := "-"
			if has && got != 0 {
				ratio = fmt.Sprintf("%.3g", want/got)
			}
			mv := "-"
			if has {
				mv = fmt.Sprintf("%.4g", want*scale)
			}
			fmt.Fprintf(w, "| %s | %d | %d×%d | %s | %.4g | %s | %s |\n", r.Kernel, r.M, r.N, r.K, row.what, got*scale, mv, ratio)
		}
		fmt.Fprintf(w, "| %s | %d | %d×%d | model's bound | | %s (%.1f%% of %s) | |\n", r.Kernel, r.M, r.N, r.K, r.Bound, 100*r.Fraction, r.Limit)
	}
}
