package proc

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Field 2 has a space and a parenthesis, as a renamed process may.
	line := "1234 (my (srv) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 100 123456789 2048 18446744073709551615"
	u, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU.Seconds() != 3.25 {
		t.Fatalf("CPU = %v, want 3.25s (325 ticks)", u.CPU)
	}
	if u.System.Seconds() != 0.75 {
		t.Fatalf("System = %v, want 0.75s (stime, 75 ticks)", u.System)
	}
	if u.RSS != 2048*int64(os.Getpagesize()) {
		t.Fatalf("RSS = %d", u.RSS)
	}
	if _, err := parseStat("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestReadUsageSelf(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS <= 0 {
		t.Fatalf("own RSS %d", u.RSS)
	}
}

func TestSumMetric(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
go_goroutines 42
go_goroutines_extra 7
seatsfu_forwarded_packets_total{kind="audio"} 10
seatsfu_forwarded_packets_total{kind="video"} 1.5e+06
`
	if v, err := SumMetric(strings.NewReader(text), "go_goroutines"); err != nil || v != 42 {
		t.Fatalf("go_goroutines = %v, %v", v, err)
	}
	if v, err := SumMetric(strings.NewReader(text), "seatsfu_forwarded_packets_total"); err != nil || v != 1500010 {
		t.Fatalf("forwarded = %v, %v", v, err)
	}
	if _, err := SumMetric(strings.NewReader(text), "nope"); err == nil {
		t.Fatal("missing metric found")
	}
}

func TestParseMachine(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	m, err := parseMachine("cpu  100 5 50 9000 40 3 2 4 77 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.Busy.Seconds() != 1.58 || m.SoftIRQ.Seconds() != 0.02 || m.Steal.Seconds() != 0.04 {
		t.Fatalf("busy %v softirq %v steal %v, want 1.58s, 0.02s and 0.04s", m.Busy, m.SoftIRQ, m.Steal)
	}
	if _, err := parseMachine("intr 1 2 3"); err == nil {
		t.Fatal("garbage parsed")
	}
	if _, err := ReadMachine(); err != nil {
		t.Fatal(err)
	}
}

func TestParseSoftnet(t *testing.T) {
	n, err := parseSoftnet("00211427 0000000a 00000000\n00b4ef4b 00000010 00000002\n")
	if err != nil || n != 26 {
		t.Fatalf("drops = %d, %v; want 26 (0xa + 0x10)", n, err)
	}
	if _, err := parseSoftnet("zz zz\n"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseSNMP(t *testing.T) {
	text := "Ip: Forwarding\nIp: 1\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\nUdp: 10 0 7 12 7\n"
	if n, err := parseSNMP(text, "Udp:", "RcvbufErrors"); err != nil || n != 7 {
		t.Fatalf("RcvbufErrors = %d, %v", n, err)
	}
	if _, err := parseSNMP(text, "Udp:", "Nope"); err == nil {
		t.Fatal("missing field found")
	}
	if _, err := UDPRcvbufErrors(); err != nil {
		t.Fatal(err)
	}
}

func TestParseUDPDrops(t *testing.T) {
	text := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 7328: 0100007F:BFF3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 626410 2 000000004f2149c0 12
 7329: 00000000:BFF3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 626411 2 000000004f2149c1 3
 7330: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 626412 2 000000004f2149c2 99
`
	if n, err := parseUDPDrops(text, 0xBFF3); err != nil || n != 15 {
		t.Fatalf("drops on 0xBFF3 = %d, %v; want 15", n, err)
	}
	if n, _ := parseUDPDrops(text, 1); n != 0 {
		t.Fatalf("drops on an unused port = %d", n)
	}
}

func TestParseCores(t *testing.T) {
	cs, err := parseCores("cpu  300 0 0 900 0 0 10 0 0 0\ncpu0 100 0 0 500 0 0 4 0 0 0\ncpu1 200 0 0 400 0 0 6 0 0 0\nintr 5\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs.Busy(0) != time.Second || cs.Busy(1) != 2*time.Second || cs[1].SoftIRQ != 60*time.Millisecond {
		t.Fatalf("cores %+v", cs)
	}
	if cs.Busy(2) != 0 || cs.Busy(-1) != 0 {
		t.Fatal("a core the machine lacks is busy")
	}
	if _, err := parseCores("cpu  1 2 3 4 5 6 7 8\n"); err == nil {
		t.Fatal("no per-core lines accepted")
	}
	if _, err := parseCores("cpu0 1 2 x 4 5 6 7 8\n"); err == nil {
		t.Fatal("bad number accepted")
	}
	live, err := ReadCores()
	if err != nil || len(live) == 0 {
		t.Fatalf("ReadCores: %v, %d cores", err, len(live))
	}
}

func TestBusiest(t *testing.T) {
	// utime stime are fields 14 and 15; the children's 16 and 17 are not counted.
	p, err := parseProcCPU(7, "7 (go build) S 1 1 1 0 -1 0 0 0 0 0 100 50 30 20 20 0 1 0")
	if err != nil || p.CPU != 1500*time.Millisecond || p.Comm != "go build" {
		t.Fatalf("parsed %+v, %v", p, err)
	}
	a := Procs{1: {1, "srv", time.Second}, 2: {2, "cc", time.Second}, 3: {3, "old", 5 * time.Second}, 4: {4, "idle", time.Second}}
	b := Procs{
		1: {1, "srv", 9 * time.Second},        // excluded: the server
		2: {2, "cc", 3 * time.Second},         // +2 s
		3: {3, "new", 500 * time.Millisecond}, // pid reused: all of it counts
		4: {4, "idle", time.Second},           // +0: left out
		5: {5, "go", 4 * time.Second},         // started in the window
	}
	got := Busiest(a, b, 2, 10*time.Millisecond, 1)
	want := []ProcCPU{{5, "go", 4 * time.Second}, {2, "cc", 2 * time.Second}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("busiest %+v, want %+v", got, want)
	}
	if all := Busiest(a, b, 10, 0, 1); len(all) != 3 || all[2].Comm != "new" {
		t.Fatalf("all %+v", all)
	}
	live, err := ReadProcs()
	if err != nil || live[os.Getpid()].Comm == "" {
		t.Fatalf("ReadProcs does not see this process: %v", err)
	}
}
