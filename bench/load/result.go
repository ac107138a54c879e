package load

import (
	"time"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/stats"
)

// Result is one scenario run against one target: everything the report
// prints. Durations are in milliseconds, CPU per packet in microseconds.
type Result struct {
	Scenario  string  `json:"scenario"`
	Target    string  `json:"target"`
	Viewers   int     `json:"viewers"`
	Guests    int     `json:"guests"`
	Connected int     `json:"viewersConnected"`
	Seconds   float64 `json:"seconds"`
	Pinned    string  `json:"pinned"`
	InProcess bool    `json:"inProcess,omitempty"`
	// ViewerNACK says the viewers NACKed lost packets: loss figures are
	// then after the server's repair.
	ViewerNACK bool `json:"viewerNack,omitempty"`

	// ExpectedPPS is what a lossless forwarder delivers: viewers × the
	// publishers' packet rate.
	ExpectedPPS   float64 `json:"expectedPktPerSec"`
	ForwardedPPS  float64 `json:"forwardedPktPerSec"`
	ForwardedMbps float64 `json:"forwardedMbitPerSec"`

	ServerCPUPct float64 `json:"serverCpuPercentOfOneCore"`
	// JoinWaitMs is how long the window waited past the warm-up for the
	// joins' keyframe replays to end (awaitJoinsDone; at most 10 s).
	JoinWaitMs float64 `json:"joinWaitMs,omitempty"`
	// SpeedProbeUs is proc.SpeedProbe on the server's core just before and
	// just after the window (their mean, µs; 0 unpinned): the same fixed
	// work each time, so it moves with the machine's speed, not with the
	// server. Lower is faster.
	SpeedProbeUs float64 `json:"serverCoreSpeedProbeUs,omitempty"`
	// ServerKernelPct is the kernel's share of the server's CPU (stime
	// over utime+stime, percent): a window dearer in the kernel alone
	// points at the sends and the machine, not the server's own code.
	ServerKernelPct float64 `json:"serverKernelPercentOfCpu"`
	// GeneratorCPUPct is the load generator's own CPU (publishers and
	// viewers): near 100 % of its core means the generator, not the
	// server, is the limit.
	GeneratorCPUPct float64 `json:"generatorCpuPercent"`
	// OtherCPUPct is what every other process on the machine used
	// meanwhile (percent of one core, all cores summed), and
	// OtherServerCorePct the part of it on the server's own core — the
	// time that competed with the server directly (-1 when the server is
	// not pinned, or runs in the generator's process). OtherBusiest names
	// the busiest other processes ("go 35%"). A window is never discarded
	// for its noise: the noise is reported beside it.
	OtherCPUPct        float64  `json:"otherCpuPercent"`
	OtherServerCorePct float64  `json:"otherCpuPercentOnServerCore"`
	OtherBusiest       []string `json:"otherBusiest,omitempty"`
	// SoftIRQPct is the kernel's softirq time (percent of one core),
	// mostly loopback delivery of the forwarded packets.
	SoftIRQPct float64 `json:"softirqCpuPercent"`
	// ServerCoreSoftIRQPct is the part of it on the server's own core (-1
	// unknown): loopback delivery runs on the sending core and is charged
	// to no process, so the server's CPU per packet leaves it out.
	ServerCoreSoftIRQPct float64 `json:"softirqCpuPercentOnServerCore"`
	// Repeat numbers this measurement among -repeat runs of the same
	// step (1-based; 0 when the step ran once).
	Repeat int `json:"repeat,omitempty"`

	CPUPerPacketUs float64 `json:"cpuMicrosPerPacket"`
	// Slices is how many alternating slices made the window (0: one
	// window of its own; alternate.go), SliceCPUPerPacketUs each slice's
	// CPU per packet, in the order they were taken.
	Slices              int       `json:"slices,omitempty"`
	SliceCPUPerPacketUs []float64 `json:"sliceCpuMicrosPerPacket,omitempty"`
	// AlternatedWith names the targets measured in the same run of
	// slices: a ratio is only taken between results that alternated
	// together, or between two that did not alternate at all.
	AlternatedWith []string `json:"alternatedWith,omitempty"`
	// IdleCPUPct is, when alternating, the server's CPU (percent of one
	// core) while the other targets' slices ran: its viewers connected,
	// no media. Part of every slice's CPU too, so a server with a dearer
	// idle pays it per packet.
	IdleCPUPct float64 `json:"idleCpuPercent,omitempty"`
	// PPSPerCore extrapolates forwarded packets to one fully busy core.
	PPSPerCore float64 `json:"pktPerSecPerCore"`

	RSSBytes            int64   `json:"rssBytes"`
	RSSPerViewerBytes   float64 `json:"rssPerViewerBytes"`
	Goroutines          float64 `json:"goroutines"`
	GoroutinesPerViewer float64 `json:"goroutinesPerViewer"`
	// Memory splits RSS per viewer by what the Go runtime holds.
	Memory *MemSplit `json:"memoryPerViewer,omitempty"`

	LatencyP50Ms float64 `json:"latencyP50Ms"`
	LatencyP95Ms float64 `json:"latencyP95Ms"`
	LatencyP99Ms float64 `json:"latencyP99Ms"`

	// LossPct counts every packet of the viewers' lifetimes, joins
	// included; WindowLossPct only the measuring window's.
	LossPct        float64 `json:"lossPct"`
	WindowLossPct  float64 `json:"windowLossPct"`
	LossVideoPct   float64 `json:"lossVideoPct"`
	LossAudioPct   float64 `json:"lossAudioPct"`
	UnrecoveredPct float64 `json:"unrecoveredLossPct"`
	// ServerDrops is what seatsfu says it dropped for full viewer queues
	// in the window (seatsfu_dropped_packets_total; 0 for the baselines,
	// which do not count); KernelDrops is the kernel's input-backlog
	// drops (softnet_stat) machine-wide. Together they tell where lost
	// packets went.
	ServerDrops float64 `json:"serverQueueDrops"`
	KernelDrops uint64  `json:"kernelBacklogDrops"`
	// SocketDrops is UDP datagrams the kernel dropped on full socket
	// receive buffers in the window, machine-wide (server and viewers).
	SocketDrops uint64 `json:"udpRcvbufDrops"`
	// JoinSocketDrops is the same count while viewers connected and warmed
	// up: a keyframe replay burst larger than a viewer's socket buffer
	// lands here.
	JoinSocketDrops uint64 `json:"udpRcvbufDropsDuringJoin"`
	// ServerSocketDrops is the part of all rcvbuf drops, joins and window
	// together, that hit the server's own media socket (seatsfu's UDP mux:
	// ingress from publishers and every viewer's RTCP); the rest hit
	// viewers' sockets.
	ServerSocketDrops uint64 `json:"serverSocketDrops"`
	// ForcedKeyframesPerSec is how often the server's PLI/FIR made the
	// publishers send an early keyframe (all publishers together). An SFU
	// that asks on every viewer-queue overflow can feed its own overload:
	// a keyframe is about five delta frames.
	ForcedKeyframesPerSec float64 `json:"forcedKeyframesPerSec"`
	WireDupPct            float64 `json:"wireDuplicatePct"`
	WireLatePct           float64 `json:"wireReorderPct"`

	JoinKeyframeP50Ms float64 `json:"joinToKeyframeP50Ms"`
	JoinKeyframeP95Ms float64 `json:"joinToKeyframeP95Ms"`
	JoinNoKeyframe    int     `json:"viewersWithoutKeyframe"`
	// JoinPhases breaks join → keyframe down (nil for raw viewers).
	JoinPhases *JoinPhases `json:"joinPhases,omitempty"`

	HandoverCount int     `json:"handovers,omitempty"`
	HandoverP50Ms float64 `json:"handoverToFirstPacketP50Ms,omitempty"`
	HandoverP95Ms float64 `json:"handoverToFirstPacketP95Ms,omitempty"`
	HandoverMaxMs float64 `json:"handoverToFirstPacketMaxMs,omitempty"`

	SeatOps     int     `json:"seatRoundTrips,omitempty"`
	SeatOpP50Ms float64 `json:"seatApplyToAcceptP50Ms,omitempty"`
	SeatOpP95Ms float64 `json:"seatApplyToAcceptP95Ms,omitempty"`

	// MetricsScrapes counts the /metrics scrapes made through the window
	// (Config.ProbeMetrics), MetricsFailures those that failed or did not
	// answer in time; MetricsP95Ms and MetricsMaxMs are the answer times.
	MetricsScrapes  int     `json:"metricsScrapes,omitempty"`
	MetricsFailures int     `json:"metricsFailures,omitempty"`
	MetricsP95Ms    float64 `json:"metricsP95Ms,omitempty"`
	MetricsMaxMs    float64 `json:"metricsMaxMs,omitempty"`

	// Window is the server's own counters over the measuring window
	// (window.go); nil for targets without them.
	Window *ServerWindow `json:"serverWindow,omitempty"`

	Errors []string `json:"errors,omitempty"`

	// Latency is kept for the CDF plot.
	Latency *stats.Histogram `json:"-"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tallyViewers fills loss, wire counts and join→keyframe from viewer reports.
func (r *Result) tallyViewers(reports [][]peer.TrackReport, subscribed []int64) {
	var expected, unrecovered, gaps, packets, dups, late uint64
	var join stats.Histogram
	kindExp, kindGaps := map[string]uint64{}, map[string]uint64{}
	for i, rep := range reports {
		first := int64(0)
		for _, t := range rep {
			expected += t.Expected
			unrecovered += t.Unrecovered
			gaps += t.Source.Gaps
			kindExp[t.Kind] += t.Expected
			kindGaps[t.Kind] += t.Source.Gaps
			packets += t.Wire.Packets
			dups += t.Wire.Duplicates
			late += t.Wire.Late
			if t.FirstKeyNs != 0 && (first == 0 || t.FirstKeyNs < first) {
				first = t.FirstKeyNs
			}
		}
		if first == 0 {
			r.JoinNoKeyframe++
			continue
		}
		join.Record(time.Duration(first - subscribed[i]))
	}
	if expected > 0 {
		r.LossPct = 100 * float64(gaps) / float64(expected)
		r.UnrecoveredPct = 100 * float64(unrecovered) / float64(expected)
	}
	if e := kindExp["video"]; e > 0 {
		r.LossVideoPct = 100 * float64(kindGaps["video"]) / float64(e)
	}
	if e := kindExp["audio"]; e > 0 {
		r.LossAudioPct = 100 * float64(kindGaps["audio"]) / float64(e)
	}
	if packets > 0 {
		r.WireDupPct = 100 * float64(dups) / float64(packets)
		r.WireLatePct = 100 * float64(late) / float64(packets)
	}
	r.JoinKeyframeP50Ms = ms(join.Quantile(0.5))
	r.JoinKeyframeP95Ms = ms(join.Quantile(0.95))
}
