// Package nb holds the small, non-generic helpers the example notebooks use
// from the gophernotes kernel: gorgonia tensors built from plain slices,
// gonum/plot charts rendered to PNG bytes for display, and variadic gorgonia
// calls taking one slice.
//
// The kernel's interpreter cannot import generic functions, unsafe code or
// packages whose API uses type aliases (gonum.org/v1/plot/vg), and importing
// gorgonia.org/tensor next to gorgonia trips its code generator; these
// helpers keep such packages behind plain functions.
package nb

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gorgonia.org/tensor"
)

// Matrix returns a rows×cols float32 tensor backed by data (not copied).
func Matrix(rows, cols int, data []float32) (*tensor.Dense, error) {
	if rows <= 0 || cols <= 0 || len(data) != rows*cols {
		return nil, fmt.Errorf("nb: Matrix: %d values for a %d×%d matrix", len(data), rows, cols)
	}
	return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data)), nil
}

// Vector returns a float32 vector tensor backed by data (not copied).
func Vector(data []float32) (*tensor.Dense, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("nb: Vector: no values")
	}
	return tensor.New(tensor.WithShape(len(data)), tensor.WithBacking(data)), nil
}

// Float32s returns the values of a float32 gorgonia value (a *tensor.Dense
// or a scalar), or an error for any other kind of value.
func Float32s(v any) ([]float32, error) {
	switch v := v.(type) {
	case tensor.Tensor:
		if d, ok := v.Data().([]float32); ok {
			return d, nil
		}
		if d, ok := v.Data().(float32); ok {
			return []float32{d}, nil
		}
		return nil, fmt.Errorf("nb: Float32s: %v tensor, want float32", v.Dtype())
	case interface{ Data() interface{} }:
		if d, ok := v.Data().(float32); ok {
			return []float32{d}, nil
		}
	}
	return nil, fmt.Errorf("nb: Float32s: unsupported value %T", v)
}

// Colors used by the charts.
var (
	blue    = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange  = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	green   = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	red     = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	palette = []color.Color{blue, orange, green, red}
)

// Chart size in inches; at vg's 96 dpi a 6.5×3.6 chart is 624×346 pixels.
const width, height = 6.5 * vg.Inch, 3.6 * vg.Inch

func render(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(width, height, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func values(v []float32) plotter.Values {
	out := make(plotter.Values, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Histogram draws a histogram of v with the given number of bins, normalised
// to a density, and a dashed vertical line at each of marks (e.g. the 16
// NF4 code values). marks may be nil.
func Histogram(title, xLabel string, v []float32, bins int, marks []float32) ([]byte, error) {
	if len(v) == 0 || bins <= 0 {
		return nil, fmt.Errorf("nb: Histogram: %d values, %d bins", len(v), bins)
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = "density"
	h, err := plotter.NewHist(values(v), bins)
	if err != nil {
		return nil, err
	}
	h.Normalize(1)
	h.FillColor = color.NRGBA{R: 31, G: 119, B: 180, A: 200}
	h.LineStyle.Width = 0
	p.Add(h)
	top := 0.0
	for _, b := range h.Bins {
		top = math.Max(top, b.Weight)
	}
	for _, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: float64(m), Y: 0}, {X: float64(m), Y: top * 1.05}})
		if err != nil {
			return nil, err
		}
		l.Color = red
		l.Width = vg.Points(0.8)
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		p.Add(l)
	}
	if len(marks) > 0 {
		l, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}})
		l.Color = red
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		p.Legend.Add("NF4 code values", l)
		p.Legend.Top = true
	}
	return render(p)
}

// Curves draws one line per series against its index (step 1, 2, …), and a
// dashed horizontal line for each reference value. names label the series
// and refNames the references; both go in the legend.
func Curves(title, xLabel, yLabel string, names []string, series [][]float64, refNames []string, refs []float64) ([]byte, error) {
	if len(names) != len(series) || len(refNames) != len(refs) {
		return nil, fmt.Errorf("nb: Curves: %d names for %d series, %d names for %d references",
			len(names), len(series), len(refNames), len(refs))
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	steps := 1
	for i, s := range series {
		xys := make(plotter.XYs, len(s))
		for j, y := range s {
			xys[j] = plotter.XY{X: float64(j + 1), Y: y}
		}
		steps = max(steps, len(s))
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(names[i], l)
	}
	for i, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: r}, {X: float64(steps), Y: r}})
		if err != nil {
			return nil, err
		}
		l.Color = palette[(len(series)+i)%len(palette)]
		l.Width = vg.Points(1.2)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(refNames[i], l)
	}
	return render(p)
}

// Scatter draws y against x as points, with the line y = x for reference.
func Scatter(title, xLabel, yLabel string, x, y []float32) ([]byte, error) {
	if len(x) != len(y) || len(x) == 0 {
		return nil, fmt.Errorf("nb: Scatter: %d x values, %d y values", len(x), len(y))
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	xys := make(plotter.XYs, len(x))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range x {
		xys[i] = plotter.XY{X: float64(x[i]), Y: float64(y[i])}
		lo = math.Min(lo, math.Min(xys[i].X, xys[i].Y))
		hi = math.Max(hi, math.Max(xys[i].X, xys[i].Y))
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return nil, err
	}
	diag.Color = color.Gray{Y: 150}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle.Color = blue
	s.GlyphStyle.Radius = vg.Points(1.6)
	p.Add(s)
	return render(p)
}
