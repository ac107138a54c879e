package report

import (
	"fmt"
	"image/color"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/seatsfu/seatsfu/bench/load"
)

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// Plot draws two panels side by side: each target's latency CDF at the
// largest viewer count every target held (steady-state loss ≤ 0.1 %; the
// largest step if none did), and µs of server CPU per forwarded packet
// against viewers for every target.
func Plot(path string, run *Run) error {
	byTarget := map[string][]*load.Result{}
	var names []string
	for _, r := range run.Results {
		if r.Scenario != "fanout" {
			continue
		}
		if _, ok := byTarget[r.Target]; !ok {
			names = append(names, r.Target)
		}
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	sort.Strings(names)

	cdfV := commonHeldViewers(byTarget)
	cdf := plot.New()
	cdf.Title.Text = fmt.Sprintf("latency CDF at V=%d", cdfV)
	if cdfV == 0 {
		cdf.Title.Text = "latency CDF (largest V per target)"
	}
	cdf.X.Label.Text = "latency (ms)"
	cdf.Y.Label.Text = "fraction ≤ x"
	cdf.Legend.Top = false
	cdf.Legend.Left = false
	cpu := plot.New()
	cpu.Title.Text = "server CPU per forwarded packet"
	cpu.X.Label.Text = "viewers"
	cpu.Y.Label.Text = "µs CPU / packet"
	cpu.Legend.Top = true

	for i, name := range names {
		rs := byTarget[name]
		sort.Slice(rs, func(a, b int) bool { return rs[a].Viewers < rs[b].Viewers })
		col := palette[i%len(palette)]
		big := rs[len(rs)-1]
		for _, r := range rs {
			if r.Viewers == cdfV {
				big = r
			}
		}
		if big.Latency != nil {
			vals, fracs := big.Latency.CDF()
			pts := make(plotter.XYs, len(vals))
			for j := range vals {
				pts[j] = plotter.XY{X: float64(vals[j]) / float64(time.Millisecond), Y: fracs[j]}
			}
			if len(pts) > 0 {
				l, err := plotter.NewLine(pts)
				if err != nil {
					return err
				}
				l.Color = col
				l.Width = vg.Points(1.5)
				cdf.Add(l)
				cdf.Legend.Add(fmt.Sprintf("%s V=%d", name, big.Connected), l)
			}
		}
		// Every repeat is a point; the line joins each step's median.
		all := make(plotter.XYs, 0, len(rs))
		for _, r := range rs {
			all = append(all, plotter.XY{X: float64(r.Connected), Y: r.CPUPerPacketUs})
		}
		l, err := plotter.NewLine(medians(rs))
		if err != nil {
			return err
		}
		sc, err := plotter.NewScatter(all)
		if err != nil {
			return err
		}
		l.Color, sc.Color = col, col
		cpu.Add(l, sc)
		cpu.Legend.Add(name, l, sc)
	}
	cpu.Y.Min = 0

	const w, h = 12 * vg.Inch, 4.5 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{cdf, cpu}}, tiles, dc)
	cdf.Draw(canvases[0][0])
	cpu.Draw(canvases[0][1])
	return saveImage(path, img)
}

// medians is one point per step, sorted by viewers: the median CPU per
// packet of the step's repeats (rs sorted by viewers).
func medians(rs []*load.Result) plotter.XYs {
	var pts plotter.XYs
	for i := 0; i < len(rs); {
		j := i
		var ys []float64
		for ; j < len(rs) && rs[j].Viewers == rs[i].Viewers; j++ {
			ys = append(ys, rs[j].CPUPerPacketUs)
		}
		sort.Float64s(ys)
		m := ys[len(ys)/2]
		if len(ys)%2 == 0 {
			m = (ys[len(ys)/2-1] + ys[len(ys)/2]) / 2
		}
		pts = append(pts, plotter.XY{X: float64(rs[i].Viewers), Y: m})
		i = j
	}
	return pts
}

// commonHeldViewers is the largest viewer count at which every target's
// fan-out kept steady-state loss ≤ 0.1 % (in some repeat), or 0.
func commonHeldViewers(byTarget map[string][]*load.Result) int {
	best := 0
	counts := map[int]int{}
	for _, rs := range byTarget {
		held := map[int]bool{}
		for _, r := range rs {
			if r.WindowLossPct <= 0.1 && r.Connected == r.Viewers && !held[r.Viewers] {
				held[r.Viewers] = true
				counts[r.Viewers]++
			}
		}
	}
	for v, n := range counts {
		if n == len(byTarget) && v > best {
			best = v
		}
	}
	return best
}
