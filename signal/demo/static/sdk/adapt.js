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

/** Turns the publisher's encodings on or off as {high, medium, low} says. */
export async function applyLayers(pub, wanted) {
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
  const asked = new Map();
  const seatOf = new Map();
  const ask = (seatIndex, height) => {
    const quality = qualityForHeight(height);
    if (asked.get(seatIndex) === quality) return;
    asked.set(seatIndex, quality);
    client.call('rtc.setQuality', { seatIndex, quality }).catch(() => asked.delete(seatIndex));
  };
  const ro = new ResizeObserver((entries) => {
    for (const e of entries) ask(seatOf.get(e.target), e.contentRect.height);
  });
  for (const [seatIndex, el] of tiles) {
    seatOf.set(el, seatIndex);
    ro.observe(el);
  }
  return () => ro.disconnect();
}
