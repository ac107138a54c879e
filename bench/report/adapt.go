package report

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/seatsfu/seatsfu/bench/load"
)

// The adapt scenario's figure and table (PROTOCOL.md §9): per viewer and
// seat, the share of time each layer arrived, stacked.

var layerColors = [4]color.Color{
	color.RGBA{R: 0x9e, G: 0xca, B: 0xe1, A: 0xff}, // low
	color.RGBA{R: 0x42, G: 0x92, B: 0xc6, A: 0xff}, // medium
	color.RGBA{R: 0x08, G: 0x45, B: 0x94, A: 0xff}, // high
	color.RGBA{R: 0xd9, G: 0xd9, B: 0xd9, A: 0xff}, // none (paused or frozen)
}

var layerLabels = [4]string{"low", "medium", "high", "none"}

// PlotAdapt draws r's layer time shares as one stacked bar per viewer and
// seat, titled with label (e.g. "busy machine").
func PlotAdapt(path string, r *load.AdaptResult, label string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("layer time shares per viewer and seat (%s)", label)
	p.Y.Label.Text = "share of the window"
	p.Y.Min, p.Y.Max = 0, 1.45 // room above the bars for the legend
	p.Legend.Top = true
	p.Legend.Left = false
	var names []string
	var values [4]plotter.Values
	for _, v := range r.Viewers {
		for seat, s := range v.Shares {
			names = append(names, fmt.Sprintf("%s s%d", shortCap(v.CapMbps), seat))
			for l := range 4 {
				values[l] = append(values[l], s[l])
			}
		}
	}
	w := vg.Points(14)
	var prev *plotter.BarChart
	for l := range 4 {
		b, err := plotter.NewBarChart(values[l], w)
		if err != nil {
			return err
		}
		b.Color = layerColors[l]
		b.LineStyle.Width = 0
		if prev != nil {
			b.StackOn(prev)
		}
		prev = b
		p.Add(b)
		p.Legend.Add(layerLabels[l], b)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.8
	p.X.Tick.Label.XAlign = draw.XRight
	img := vgimg.New(vg.Points(float64(60+26*len(names))), vg.Points(320))
	p.Draw(draw.New(img))
	return saveImage(path, img)
}

func shortCap(mbps float64) string {
	if mbps == 0 {
		return "none"
	}
	return fmt.Sprintf("%g Mb", mbps)
}

// AdaptMarkdown is the table of one or two adapt runs: per viewer the
// received bitrate, layer shares (averaged over seats) and freezes; then
// the CPU per forwarded packet of each run.
func AdaptMarkdown(runs ...*load.AdaptResult) string {
	var b strings.Builder
	for _, r := range runs {
		kind := "simulcast (3 layers)"
		if r.Single {
			kind = "single layer"
		}
		fmt.Fprintf(&b, "### %d publishers, %s, %.0f s\n\n", r.Publishers, kind, r.Seconds)
		b.WriteString("| viewer cap | received Mbit/s | low | medium | high | none | freezes > 500 ms (per seat) | longest audio gap ms |\n|---|---|---|---|---|---|---|---|\n")
		for _, v := range r.Viewers {
			var avg [4]float64
			for _, s := range v.Shares {
				for l := range 4 {
					avg[l] += s[l] / float64(len(v.Shares))
				}
			}
			fmt.Fprintf(&b, "| %s | %.2f | %.0f %% | %.0f %% | %.0f %% | %.0f %% | %v | %.0f |\n", shortCap(v.CapMbps), v.RecvMbps,
				100*avg[0], 100*avg[1], 100*avg[2], 100*avg[3], v.Freezes, v.AudioGapMs)
		}
		fmt.Fprintf(&b, "\nserver CPU %.1f %%, %.0f forwarded pkt/s, %.2f µs CPU per forwarded packet, %.0f layer switches\n\n",
			r.ServerCPUPct, r.ForwardedPPS, r.CPUPerPacketUs, r.LayerSwitches)
	}
	if len(runs) == 2 && runs[1].CPUPerPacketUs > 0 {
		fmt.Fprintf(&b, "CPU per forwarded packet, simulcast / single layer: %.2f×\n", runs[0].CPUPerPacketUs/runs[1].CPUPerPacketUs)
	}
	return b.String()
}
