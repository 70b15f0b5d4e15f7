package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chartRows are the panels of the chart, in order.
var chartRows = []string{
	"bulk-download-1conn", "bulk-download-8conn", "bulk-upload-1conn", "bulk-upload-8conn",
	"bulk-download-1conn-cpu", "handshake-full-tls13", "handshake-full-tls13-cpu",
	"handshake-resumed-tls13", "rps-h1-1k-64conn", "rps-h2-1k-64conn", "latency-1k-p99",
	"idle-conns-mem",
}

const chartCols = 4

// writeChart draws one bar panel per main row, a bar per system at its
// median, with the system colours the same in every panel.
func writeChart(rep reportFile, systems []string, path string) error {
	byKey := map[[2]string]series{}
	for _, s := range rep.Scenarios {
		byKey[[2]string{s.Name, s.System}] = s
	}
	var panels []*plot.Plot
	for _, name := range chartRows {
		p, ok := chartPanel(name, systems, byKey)
		if ok {
			panels = append(panels, p)
		}
	}
	if len(panels) == 0 {
		return fmt.Errorf("no chart rows measured")
	}

	rows := (len(panels) + chartCols - 1) / chartCols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, chartCols)
	}
	for i, p := range panels {
		grid[i/chartCols][i%chartCols] = p
	}
	w, h := vg.Points(320*chartCols), vg.Points(250*float64(rows))
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: chartCols, PadX: vg.Points(12),
		PadY: vg.Points(12), PadTop: vg.Points(8), PadBottom: vg.Points(8),
		PadLeft: vg.Points(8), PadRight: vg.Points(8)}
	canvases := plot.Align(grid, tiles, dc)
	for j := range grid {
		for i, p := range grid[j] {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func chartPanel(name string, systems []string, byKey map[[2]string]series) (*plot.Plot, bool) {
	p := plot.New()
	var unit string
	var labels []string
	any := false
	for i, sys := range systems {
		labels = append(labels, shortName(sys))
		s, ok := byKey[[2]string{name, sys}]
		if !ok || len(s.Runs) == 0 {
			continue
		}
		unit = s.Unit
		if !s.HigherIsBetter {
			unit += " (lower is better)"
		}
		bar, err := plotter.NewBarChart(plotter.Values{s.Median}, vg.Points(28))
		if err != nil {
			continue
		}
		bar.XMin = float64(i)
		bar.Color = plotutil.Color(slices.Index(allSystems, sys))
		bar.LineStyle.Width = 0
		p.Add(bar)
		lbl, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    plotter.XYs{{X: float64(i), Y: s.Median}},
			Labels: []string{fmtNum(s.Median)},
		})
		if err == nil {
			lbl.TextStyle[0].XAlign = draw.XCenter
			lbl.TextStyle[0].Font.Size = vg.Points(8)
			p.Add(lbl)
		}
		any = true
	}
	if !any {
		return nil, false
	}
	p.Title.Text = name
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.Text = unit
	p.Y.Label.TextStyle.Font.Size = vg.Points(9)
	p.Y.Min = 0
	p.Y.Max *= 1.15 // room for the value labels
	p.NominalX(labels...)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	return p, true
}

// shortName fits a system's name under a bar.
func shortName(s string) string {
	return strings.NewReplacer("tlsstack-", "ts-", "plain-tcp", "iperf3").Replace(s)
}
