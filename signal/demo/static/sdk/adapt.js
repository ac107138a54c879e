// seatsfu adaptation helpers (PROTOCOL.md §9): publish a simulcast camera,
// follow the server's rtc.publisherLayers so the encoder skips layers nobody
// watches, and ask for the layer that fits each tile's size.
//
//   import { Client } from '/sdk/seatsfu.js';
//   import { publishSimulcast, fitTiles } from '/sdk/adapt.js';
//   const pub = await publishSimulcast(client, stream);
//   const stop = fitTiles(client, new Map([[0, videoElement0], [1, videoElement1]]));

/** The three encodings of PROTOCOL.md §9: q (low), h (medium), f (high). */
export const SIMULCAST_ENCODINGS = Object.freeze([
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
]);

const LAYER_OF_RID = { q: 'low', h: 'medium', f: 'high' };

/**
 * Publishes stream with three simulcast layers and keeps the encoder to the
 * layers some viewer receives (rtc.publisherLayers).
 * @returns {Promise<import('./seatsfu.js').Publisher>}
 */
export async function publishSimulcast(client, stream) {
  const pub = await client.publish(stream, { sendEncodings: SIMULCAST_ENCODINGS.map((e) => ({ ...e })) });
  const onLayers = (e) => { applyLayers(pub, e.detail).catch(() => {}); };
  client.addEventListener('rtc.publisherLayers', onLayers);
  pub.addEventListener('state', (e) => {
    if (e.detail === 'closed' || e.detail === 'failed') client.removeEventListener('rtc.publisherLayers', onLayers);
  });
  return pub;
}

/**
 * Turns the publisher's encodings on or off as {high, medium, low} says.
 * Calls for one publisher are applied one at a time, the latest last: a
 * sender refuses a setParameters that overlaps another (its getParameters
 * is spent), so two notifications in quick succession — a viewer asking
 * for low just after another switched — would otherwise leave the encoder
 * on the older set, and a layer that viewers wait for would never start.
 * Resolves once the latest set is applied.
 */
export function applyLayers(pub, wanted) {
  let q = applying.get(pub);
  if (!q) {
    q = { wanted: null, running: null };
    applying.set(pub, q);
  }
  q.wanted = wanted;
  q.running ??= drainLayers(pub, q).finally(() => { q.running = null; });
  return q.running;
}

const applying = new WeakMap(); // publisher → {wanted: the latest set not yet applied, running}

async function drainLayers(pub, q) {
  while (q.wanted) {
    const wanted = q.wanted;
    q.wanted = null;
    try {
      await setLayers(pub, wanted);
    } catch (e) {
      if (!q.wanted) throw e; // else a newer set follows: apply that one
    }
  }
}

async function setLayers(pub, wanted) {
  const sender = pub.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
  if (!sender) return;
  const params = sender.getParameters();
  if (!params.encodings) return;
  let changed = false;
  for (const enc of params.encodings) {
    const layer = LAYER_OF_RID[enc.rid];
    if (!layer) continue;
    const active = Boolean(wanted[layer]);
    if (enc.active !== active) {
      enc.active = active;
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
}

/**
 * The quality a tile of that many CSS pixels' height should ask for: off
 * when hidden, low up to 240, medium up to 480, high above (with the
 * device's pixel ratio).
 */
export function qualityForHeight(cssPixels, pixelRatio = globalThis.devicePixelRatio || 1) {
  const px = cssPixels * pixelRatio;
  if (px <= 0) return 'off';
  if (px <= 240) return 'low';
  if (px <= 480) return 'medium';
  return 'high';
}

/**
 * Asks, per seat, for the layer that fits its element (rtc.setQuality),
 * again whenever the element's size changes. tiles maps seatIndex to an
 * element. Returns a function that stops watching.
 */
export function fitTiles(client, tiles) {
  const fitter = new TileFitter(client);
  for (const [seatIndex, el] of tiles) fitter.watch(el, { seatIndex });
  return () => fitter.stop();
}

/**
 * TileFitter asks, per slot, for the layer that fits the element showing
 * it, as elements come, go and change size: a page whose tiles change
 * watches each new one. A slot is {seatIndex} or, for a co-host slot
 * (PROTOCOL.md §10), {cohostIndex}. One fitter per subscription: a new
 * subscription starts every slot at high again.
 */
export class TileFitter {
  /**
   * onAnswer, when given, hears every ask's answer: ({slot, quality,
   * error}), error an RpcError when refused, else null — so a page can
   * show an ask when it is answered rather than at its next redraw.
   */
  constructor(client, { onAnswer } = {}) {
    this.client = client;
    this.onAnswer = onAnswer;
    this.asked = new Map(); // slot key → quality asked for
    this.slotOf = new Map(); // element → slot
    this.ro = new ResizeObserver((entries) => {
      for (const e of entries) {
        const slot = this.slotOf.get(e.target);
        if (slot) this.#ask(e.target, slot, e.contentRect.height, 0);
      }
    });
  }

  /** watch asks for el's layer now and whenever its size changes. */
  watch(el, slot) {
    const had = this.slotOf.get(el);
    if (had && keyOf(had) === keyOf(slot)) return;
    this.slotOf.set(el, slot);
    this.ro.observe(el); // reports the current size at once
  }

  /** unwatch forgets el; its slot keeps the layer last asked for. */
  unwatch(el) {
    this.slotOf.delete(el);
    this.ro.unobserve(el);
  }

  stop() {
    this.ro.disconnect();
    this.slotOf.clear();
  }

  // #ask asks for the quality el's height needs. A refused ask (a dropped
  // socket, a timeout, the rate limit) is asked again, up to askRetries
  // times, a little later each time: the element's size may never change
  // again to prompt it. (Not the subscription unknown to the server: a
  // fitter asks once the subscribe is answered, and the server handles a
  // socket's requests in order, PROTOCOL.md §3.)
  #ask(el, slot, height, tries) {
    const quality = qualityForHeight(height);
    const key = keyOf(slot);
    if (this.asked.get(key) === quality) return;
    this.asked.set(key, quality);
    this.client.call('rtc.setQuality', { ...slot, quality }).then(() => {
      this.onAnswer?.({ slot, quality, error: null });
    }, (error) => {
      this.onAnswer?.({ slot, quality, error });
      if (this.asked.get(key) !== quality) return; // asked again since
      this.asked.delete(key);
      if (tries >= askRetries) return;
      setTimeout(() => {
        if (this.slotOf.get(el) === slot) this.#ask(el, slot, el.getBoundingClientRect().height, tries + 1);
      }, 250 * 2 ** tries);
    });
  }
}

const askRetries = 5; // 250 ms, doubling: about 8 s in all

const keyOf = (slot) => ('cohostIndex' in slot ? `c${slot.cohostIndex}` : `s${slot.seatIndex}`);
