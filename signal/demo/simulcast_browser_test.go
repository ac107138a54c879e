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

// The demo page itself, through its simulcast module (simulcast.js): the
// owner going live publishes three layers; a viewer on a phone-sized
// screen, whose seat-0 tile is small, asks for low, hears rtc.quality say
// low (the tile's data-layer) and decodes the low layer's size, while a
// viewer on a desktop screen gets more than low; the owner's tile shows
// which layers it sends.
func TestBrowserDemoPagePublishesSimulcastAndFitsTiles(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)

	owner := b.newTab("owner")
	owner.join(env.URL, "simdemo", "Olivia", "#go-live")
	owner.waitFor("the owner's camera on seat 0", playingJS(0), mediaWait)
	owner.waitFor("a simulcast offer", `(p => p && (p.pc.localDescription.sdp.match(/^a=rid:\S+ send/gm) || []).length === 3)(window.seatsfuDemo.session.publisher)`, 10*time.Second)

	phone := b.newTab("phone")
	phone.atWidth(widths[1].width, widths[1].height)
	phone.join(env.URL, "simdemo", "Pia", "#join")
	phone.waitFor("seat 0 playing", playingJS(0), mediaWait)
	phone.waitExplained("rtc.quality: the small tile on low", tileJS(0)+`.dataset.layer === 'low'`, mediaWait, func() string {
		var p, o string
		_ = phone.eval(`(t => JSON.stringify({asked: t.dataset.asked, refused: t.dataset.refused, layer: t.dataset.layer, title: t.title,
			height: t.querySelector('video').getBoundingClientRect().height, dpr: devicePixelRatio,
			decoded: t.querySelector('video').videoWidth}))(`+tileJS(0)+`)`, &p)
		_ = owner.eval(`(async () => { const s = window.seatsfuDemo.session.publisher.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
			const out = {sending: `+tileJS(0)+`.dataset.sending, active: s.getParameters().encodings.map((e) => e.rid + ':' + e.active).join(' '), sent: {}};
			(await s.getStats()).forEach((r) => { if (r.type === 'outbound-rtp') out.sent[r.rid] = r.framesEncoded + ' frames, ' + r.frameWidth + ' px'; });
			return JSON.stringify(out); })()`, &o)
		return "the phone's tile: " + p + "; the owner's video sender: " + o
	})
	// The low layer is a quarter of the camera's width.
	var camera int
	if err := owner.eval(`window.seatsfuDemo.session.local.getVideoTracks()[0].getSettings().width`, &camera); err != nil || camera == 0 {
		owner.fail("the camera's width: %d, %v", camera, err)
	}
	lowWidth := fmt.Sprint(camera / 4)
	phone.waitFor("decoded video of the low layer's size",
		`(v => v.videoWidth > 0 && v.videoWidth <= `+lowWidth+`)(`+tileJS(0)+`.querySelector('video'))`, mediaWait)

	desk := b.newTab("desk")
	desk.join(env.URL, "simdemo", "Dora", "#join")
	desk.waitFor("rtc.quality: the big tile above low", `['medium', 'high'].includes(`+tileJS(0)+`.dataset.layer)`, mediaWait)
	desk.waitFor("decoded video wider than the low layer", `(v => v.videoWidth > `+lowWidth+`)(`+tileJS(0)+`.querySelector('video'))`, mediaWait)
	owner.waitFor("the owner's tile: sending low and more", `(s => s && s.startsWith('low,'))(`+tileJS(0)+`.dataset.sending)`, 10*time.Second)

	var report struct {
		Phone, Desk int
		Height      float64
		Sending     string
	}
	_ = phone.eval(`({phone: `+tileJS(0)+`.querySelector('video').videoWidth, height: `+tileJS(0)+`.querySelector('video').getBoundingClientRect().height})`, &report)
	_ = desk.eval(`({desk: `+tileJS(0)+`.querySelector('video').videoWidth})`, &report)
	_ = owner.eval(tileJS(0)+`.dataset.sending`, &report.Sending)
	t.Logf("camera %d px wide; phone tile %.0f css px high decodes %d px wide; desk decodes %d px; owner sends %s",
		camera, report.Height, report.Phone, report.Desk, report.Sending)
	phone.shot("small-tile-low")
	desk.shot("big-tile")
	for _, tb := range []*tab{owner, phone, desk} {
		if errs := tb.errors(); len(errs) > 0 {
			tb.fail("console errors: %v", errs)
		}
	}
}

// applyLayers, called again before the last call's setParameters is done
// (two rtc.publisherLayers 20 ms apart), ends on the latest set: overlapped,
// Chromium refused the second call and kept the first, so a layer a viewer
// waited for never started (the flake of the test above in a full CI run).
func TestBrowserApplyLayersLatestWins(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)
	owner := b.newTab("owner")
	owner.do("open the page", chromedp.Navigate(env.URL+"/"))
	js := fmt.Sprintf(`(async () => {
		const { Client } = await import('/sdk/seatsfu.js');
		const A = await import('/sdk/adapt.js');
		const c = new Client({ token: %q });
		await c.connect();
		await c.join({ seatMode: 'free' });
		const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
		const pub = await c.publish(stream, { sendEncodings: A.SIMULCAST_ENCODINGS.map((e) => ({ ...e })) });
		const errs = [];
		const calls = [{ high: true }, { low: true, high: true }, { low: true }]
			.map((l, i) => A.applyLayers(pub, l).catch((e) => errs.push(i + ': ' + e)));
		await Promise.all(calls);
		const s = pub.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
		return { errs, active: s.getParameters().encodings.map((e) => e.rid + ':' + e.active).join(' ') };
	})()`, env.Token("layers", "olive", proto.RoleOwner))
	var got struct {
		Errs   []string
		Active string
	}
	if err := owner.eval(js, &got); err != nil {
		owner.fail("applying layers: %v", err)
	}
	if len(got.Errs) > 0 || got.Active != "q:true h:false f:false" {
		owner.fail("after {high}, {low, high}, {low} at once: errors %q, encodings %s; want none and only q active", got.Errs, got.Active)
	}
}
