package perf

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
)

// The fixtures follow the two layouts `ncu --csv` prints (Nsight Compute
// CLI documentation: --csv, --page details|raw, --print-units): the
// profiled program's output and ==PROF== lines around the table, quoted
// fields, thousands separators, "n/a" for a metric the GPU lacks, and in
// the raw page a units row under the header.
func TestParseNcuDetails(t *testing.T) {
	f, err := os.Open("testdata/ncu_details.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ls, err := ParseNcuCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Fatalf("%d launches", len(ls))
	}
	l := ls[0]
	if l.Kernel != "nf4_gemv_m1_b64" || l.Grid != [3]int{256, 1, 1} || l.Block != [3]int{128, 1, 1} {
		t.Errorf("launch 0: %+v", l)
	}
	if l.Metrics["dram__bytes_read.sum"] != 9502720 || l.Metrics["gpu__time_duration.sum"] != 21280 ||
		l.Metrics["launch__registers_per_thread"] != 47 || l.Metrics["sm__warps_active.avg.pct_of_peak_sustained_active"] != 46.52 {
		t.Errorf("values: %v", l.Metrics)
	}
	if _, ok := l.Metrics["lts__t_sectors_srcunit_tex.sum"]; ok {
		t.Error("an n/a value was kept")
	}
	if ls[1].Metrics["gpu__time_duration.sum"] != 21120 {
		t.Errorf("launch 1: %v", ls[1].Metrics)
	}
}

func TestParseNcuRaw(t *testing.T) {
	b, err := os.ReadFile("testdata/ncu_raw.csv")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := ParseNcuCSV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Kernel != "nf4_gemm_f32_b64" || ls[0].Grid != [3]int{64, 8, 1} {
		t.Fatalf("%+v", ls)
	}
	m := ls[0].Metrics
	if m["dram__bytes_read.sum"] != 25.31e6 || m["gpu__time_duration.sum"] != 0.71e6 || m["l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum"] != 41943040 {
		t.Errorf("raw values (units applied): %v", m)
	}
	if _, ok := m["Grid Size"]; ok {
		t.Error("an identity column was read as a metric")
	}
	if ls[1].Kernel != "nf4_dequantize_f32_b64" {
		t.Errorf("demangled signature not reduced to the kernel name: %q", ls[1].Kernel)
	}
	for _, bad := range []string{
		"no header here\n",
		`"ID","Kernel Name"` + "\n" + `"0","k"` + "\n",
		`"ID","Kernel Name","Grid Size","Block Size","x__y"` + "\n" + `"0","k","(1, 1, 1)","(32, 1, 1)","5"` + "\n",
		`"ID","Kernel Name","Grid Size","Block Size","Metric Name","Metric Unit","Metric Value"` + "\n" + `"0","k","(1,x,1)","(32, 1, 1)","m","","1"` + "\n",
	} {
		if _, err := ParseNcuCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseNcuCSV(f *testing.F) {
	for _, name := range []string{"testdata/ncu_details.csv", "testdata/ncu_raw.csv"} {
		b, _ := os.ReadFile(name)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseNcuCSV(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, l := range ls {
			for _, v := range l.Metrics {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite value in %+v", l)
				}
			}
		}
	})
}

func TestCompareWithModel(t *testing.T) {
	f, _ := os.Open("testdata/ncu_details.csv")
	defer f.Close()
	ls, err := ParseNcuCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	model := []Record{
		{Kernel: "nf4_gemv_m1_b64", Device: "h200", M: 1, N: 4096, K: 4096, Grid: [3]int{256, 1, 1}, PredictedUS: 19.04,
			DRAMBytes: 9.47e6, LoadWaves: 4280320, WarpInstrs: 2.67e6, Registers: 47, Bound: "L1/shared data path", Fraction: 0.116, Limit: "DRAM copy bandwidth"},
		{Kernel: "nf4_gemv_m1_b64", Device: "h100", Grid: [3]int{256, 1, 1}},
		{Kernel: "nf4_gemm_f32_b64", Device: "h200", Grid: [3]int{64, 8, 1}},
	}
	cs, err := Compare(model, "h200", ls)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Launches != 2 || cs[0].Measured["gpu__time_duration.sum"] != 21200 {
		t.Fatalf("%+v", cs)
	}
	var out strings.Builder
	WriteCalibration(&out, cs)
	for _, want := range []string{
		"| nf4_gemv_m1_b64 | 1 | 4096×4096 | time (µs) | 21.2 | 19.04 | 0.898 |",
		"| DRAM bytes | 9.517e+06 | 9.47e+06 | 0.995 |",
		"| L1 data wavefronts of global loads | 1.262e+06 | 4.28e+06 | 3.39 |",
		"| registers per thread | 47 | 47 | 1 |",
		"model's bound | | L1/shared data path (11.6% of DRAM copy bandwidth)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("calibration table lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := Compare(model, "a100", ls); err == nil {
		t.Error("compared against a device with no records")
	}
	if _, err := Compare(model[1:2], "h100", ls); err != nil {
		t.Errorf("h100 records: %v", err)
	}
	ls = append(ls, NcuLaunch{Kernel: "other", Grid: [3]int{1, 1, 1}})
	if cs, err := Compare(model, "h200", ls); err == nil || len(cs) != 1 || !strings.Contains(err.Error(), "other") {
		t.Errorf("a launch without a record: %v", err)
	}
}

func TestReadRecords(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"kernel":"k","device":"h200","m":1,"n":2,"k":3,"grid":[4,1,1],"predicted_us":5,"fraction":0.5}` + "\n")
	b.WriteString(`{"kernel":"j","device":"h100"}` + "\n")
	rs, err := ReadRecords(&b)
	if err != nil || len(rs) != 2 || rs[0].Grid != [3]int{4, 1, 1} || rs[0].PredictedUS != 5 {
		t.Fatalf("%+v %v", rs, err)
	}
	if _, err := ReadRecords(strings.NewReader("{not json")); err == nil {
		t.Error("read broken JSON")
	}
}
