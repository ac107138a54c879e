package whip_test

// Interop with a third-party WHIP publisher: Debian's simple-whip-client
// (GStreamer's webrtcbin) publishes test audio and video as the owner, and
// a Pion viewer receives both through WHEP.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

const whipClient = "/usr/bin/whip-client"

const (
	interopAudio = "audiotestsrc is-live=true wave=red-noise ! audioconvert ! audioresample ! queue ! opusenc ! " +
		"rtpopuspay pt=111 ! queue ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111"
	interopVideo = "videotestsrc is-live=true pattern=ball ! videoconvert ! queue ! vp8enc deadline=1 ! " +
		"rtpvp8pay pt=96 ! queue ! application/x-rtp,media=video,encoding-name=VP8,payload=96"
)

// lockedBuffer collects the client's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestInteropSimpleWHIPClient(t *testing.T) {
	if _, err := os.Stat(whipClient); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", whipClient, err)
		}
		t.Skip("simple-whip-client is not installed (" + whipClient + ")")
	}
	shimDir, shim := t.TempDir(), ""
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"candidates in the offer", []string{"-n"}},
		{"trickle over PATCH", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if !runWHIPClient(t, mode.args, shim) {
				return
			}
			// The client aborted on the libsoup conflict: rerun it with
			// the stub that keeps libsoup 3 out of the process.
			if shim == "" {
				shim = buildIGDStub(t, shimDir)
			}
			if runWHIPClient(t, mode.args, shim) {
				t.Fatal("whip-client still aborts on the libsoup conflict with the stub")
			}
		})
	}
}

// runWHIPClient publishes with whip-client (LD_LIBRARY_PATH=libPath when
// set) and asserts a WHEP viewer receives its audio and video. It returns
// true, having asserted nothing, when the client aborted on the libsoup
// conflict before publishing.
func runWHIPClient(t *testing.T, extra []string, libPath string) (soupConflict bool) {
	env := signaltest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{
		"-u", env.URL + "/whip/live",
		"-t", env.Token("live", "host", proto.RoleOwner),
		"-A", interopAudio, "-V", interopVideo, "-l", "4", "-o",
	}, extra...)
	cmd := exec.CommandContext(ctx, whipClient, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if libPath != "" {
		cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+libPath)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", whipClient, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Kill()
		<-exited
	}
	defer stop()
	fail := func(format string, args ...any) {
		t.Helper()
		stop()
		t.Logf("whip-client output:\n%s", out.String())
		t.Fatalf(format, args...)
	}

	// The client's POST opens the room; wait for its session.
	deadline := time.Now().Add(20 * time.Second)
	for env.Server.MediaSessions() == 0 {
		select {
		case err := <-exited:
			stopped = true
			if strings.Contains(out.String(), libsoupConflict) {
				return true
			}
			fail("whip-client exited before publishing: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			fail("no WHIP session after 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	v := signaltest.NewViewer(t, 1)
	env.StartWHEP(t, "live", env.Token("live", "player", proto.RoleAudience), "", v)
	a, vid := v.Mid(t, webrtc.RTPCodecTypeAudio, 0), v.Mid(t, webrtc.RTPCodecTypeVideo, 0)
	deadline = time.Now().Add(30 * time.Second)
	for v.Count(a) < 50 || v.Count(vid) < 20 {
		select {
		case err := <-exited:
			stopped = true
			fail("whip-client exited while publishing: %v (audio %d, video %d packets)", err, v.Count(a), v.Count(vid))
		default:
		}
		if time.Now().After(deadline) {
			fail("the viewer got audio %d, video %d packets from whip-client in 30 s", v.Count(a), v.Count(vid))
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return false
	// The client was killed without a DELETE: its connection times out on
	// ICE and the server forgets the session; Shutdown at cleanup covers
	// the rest either way.
}

// libsoupConflict is how Debian bookworm's simple-whip-client dies: it links
// libsoup 2, while GStreamer's nice plugin pulls libsoup 3 in through
// libnice → gupnp-igd, and libsoup aborts when both are loaded. That is a
// broken client installation, not an answer from the server under test.
const libsoupConflict = "libsoup2 symbols detected"

// igdStub stands in for libgupnp-igd, the UPnP port-mapping library libnice
// links and the only way libsoup 3 enters whip-client's process. UPnP is
// useless on loopback; with no IGD (a NULL agent) libnice skips it.
const igdStub = `typedef unsigned long GType;
void *gupnp_simple_igd_thread_new(void) { return 0; }
GType gupnp_simple_igd_get_type(void) { return 0; }
void gupnp_simple_igd_add_port(void *a, const char *p, unsigned e, const char *l, unsigned lp, unsigned t, const char *d) {}
void gupnp_simple_igd_remove_port_local(void *a, const char *p, const char *l, unsigned lp) {}
`

// buildIGDStub compiles igdStub into dir and returns dir for
// LD_LIBRARY_PATH. Without a C compiler the test is skipped (failed under
// CI=true): the installed client cannot run here.
func buildIGDStub(t *testing.T, dir string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		unrunnable(t, "the installed whip-client aborts on a libsoup 2/3 conflict and no C compiler is here to build the stub that avoids it")
	}
	src := filepath.Join(dir, "igd.c")
	if err := os.WriteFile(src, []byte(igdStub), 0o600); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libgupnp-igd-1.0.so.4")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, "-Wl,-soname,libgupnp-igd-1.0.so.4", src).CombinedOutput(); err != nil {
		unrunnable(t, "building the libgupnp-igd stub failed: "+err.Error()+"\n"+string(out))
	}
	return dir
}

// unrunnable skips, or fails under CI=true, when whip-client cannot run.
func unrunnable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}
