package demo

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// PROTOCOL.md §9 in real browsers, through /sdk/adapt.js: the owner's
// Chromium publishes its camera as three simulcast layers; a viewer's
// Chromium showing seat 0 in a small tile asks for low, hears rtc.quality
// say low and decodes the low layer's resolution; the owner hears that only
// low is wanted.
func TestBrowserSimulcastSmallTileGetsLow(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)

	owner := b.newTab("owner")
	owner.do("open the page", chromedp.Navigate(env.URL+"/"))
	ownerJS := fmt.Sprintf(`(async () => {
		const { Client } = await import('/sdk/seatsfu.js');
		const A = await import('/sdk/adapt.js');
		const c = new Client({ token: %q });
		await c.connect();
		await c.join({ seatMode: 'free' });
		window.__layers = [];
		c.addEventListener('rtc.publisherLayers', (e) => window.__layers.push(e.detail));
		const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
		window.__pub = await A.publishSimulcast(c, stream);
		window.__rids = (window.__pub.pc.localDescription.sdp.match(/^a=rid:\S+ send/gm) || []).length;
		return true;
	})()`, env.Token("sim", "olive", proto.RoleOwner))
	if err := owner.eval(ownerJS, nil); err != nil {
		owner.fail("publishing simulcast: %v", err)
	}
	var rids int
	if err := owner.eval(`window.__rids`, &rids); err != nil || rids != 3 {
		owner.fail("the offer has %d send RIDs, want 3 (%v)", rids, err)
	}

	viewer := b.newTab("viewer")
	viewer.do("open the page", chromedp.Navigate(env.URL+"/"))
	viewerJS := fmt.Sprintf(`(async () => {
		const { Client } = await import('/sdk/seatsfu.js');
		const A = await import('/sdk/adapt.js');
		const c = new Client({ token: %q });
		await c.connect();
		await c.join();
		window.__quality = [];
		c.addEventListener('rtc.quality', (e) => window.__quality.push(...e.detail.slots));
		const v = document.createElement('video');
		v.muted = true; v.autoplay = true; v.playsInline = true;
		v.style.cssText = 'position:fixed;top:0;left:0;width:160px;height:90px;z-index:9';
		document.body.append(v);
		window.__v = v;
		const sub = await c.subscribe(2);
		const attach = () => { const s = sub.streams.get(0); if (s && v.srcObject !== s) v.srcObject = s; };
		sub.addEventListener('track', attach);
		attach();
		window.__stop = A.fitTiles(c, new Map([[0, v]]));
		return true;
	})()`, env.Token("sim", "vera", proto.RoleAudience))
	if err := viewer.eval(viewerJS, nil); err != nil {
		viewer.fail("subscribing: %v", err)
	}
	viewer.waitFor("rtc.quality: seat 0 on low",
		`(q => q.length > 0 && q[q.length-1].layer === 'low')(window.__quality.filter(s => s.seatIndex === 0))`, mediaWait)
	// The low layer is a quarter of the camera's size: at most 320 wide.
	viewer.waitFor("decoded video of the low layer's size",
		`window.__v.videoWidth > 0 && window.__v.videoWidth <= 320 && window.__v.currentTime > 0`, mediaWait)
	owner.waitFor("rtc.publisherLayers: only low wanted",
		`(l => l && l.low && !l.medium && !l.high)(window.__layers[window.__layers.length-1])`, 10*time.Second)
	var width int
	_ = viewer.eval(`window.__v.videoWidth`, &width)
	t.Logf("the small tile decodes %d px wide video", width)
}
