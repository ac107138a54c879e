// The demo's simulcast module (PROTOCOL.md §9), through /sdk/adapt.js: the
// owner and guests publish their camera as three layers and encode only
// the layers some viewer receives (rtc.publisherLayers); every tile —
// seats and co-host rooms — asks for the layer its size needs
// (rtc.setQuality), and shows what it gets (rtc.quality) as data-layer,
// with the reason as its title. One's own tile shows the layers one sends
// as data-sending.

import { register } from './modules.js';
import { SIMULCAST_ENCODINGS, TileFitter, applyLayers } from '/sdk/adapt.js';

const SEAT_TILES = '#grid [data-testid=tile][data-seat]';
const COHOST_TILES = '#cohost-grid [data-cohost]';

let fitter = null; // the current client's
const watched = new Set(); // tiles' <video> elements the fitter watches
const layers = new Map(); // slot key → the last rtc.quality slot
const refused = new Map(); // slot key → why its last rtc.setQuality was refused
let sending = '';

const keyOf = (s) => (s.cohostIndex > 0 ? `c${s.cohostIndex}` : `s${s.seatIndex}`);

function slotOf(tile) {
  return tile.dataset.cohost ? { cohostIndex: Number(tile.dataset.cohost) } : { seatIndex: Number(tile.dataset.seat) };
}

function tiles() {
  return [...document.querySelectorAll(`${SEAT_TILES}, ${COHOST_TILES}`)];
}

// show writes what each tile receives, and what one's own tile sends.
function show() {
  for (const tile of tiles()) {
    if (tile.dataset.self === 'true') {
      tile.dataset.sending = sending;
      delete tile.dataset.layer;
      continue;
    }
    const asked = fitter?.asked.get(keyOf(slotOf(tile)));
    if (asked) tile.dataset.asked = asked; // what the tile asked for (rtc.setQuality)
    const why = refused.get(keyOf(slotOf(tile)));
    if (why) tile.dataset.refused = why;
    else delete tile.dataset.refused;
    const q = layers.get(keyOf(slotOf(tile)));
    if (!q) continue;
    tile.dataset.layer = q.layer;
    tile.title = q.reason ? `${q.layer} (${q.reason})` : q.layer;
  }
}

function reset() {
  fitter?.stop();
  fitter = null;
  watched.clear();
  layers.clear();
  refused.clear();
  sending = '';
}

register({
  name: 'simulcast',

  publishOptions() {
    return { sendEncodings: SIMULCAST_ENCODINGS.map((e) => ({ ...e })) };
  },

  client(session, client) {
    reset(); // a new connection subscribes afresh: every slot is at high again
    // Each answer redraws: data-asked (and data-refused) then say what was
    // asked as soon as the server answered, not at the next rtc.quality —
    // which an ask that changes nothing never brings.
    const f = new TileFitter(client, {
      onAnswer: ({ slot, quality, error }) => {
        if (fitter !== f) return; // an answer to a connection since replaced
        if (error) refused.set(keyOf(slot), `${quality}: ${error.reason}: ${error.message}`);
        else refused.delete(keyOf(slot));
        show();
      },
    });
    fitter = f;
    client.addEventListener('rtc.quality', (e) => {
      for (const s of e.detail.slots) layers.set(keyOf(s), s);
      show();
    });
    client.addEventListener('rtc.publisherLayers', (e) => {
      const l = e.detail;
      sending = ['low', 'medium', 'high'].filter((k) => l[k]).join(',') || 'none';
      if (session.publisher) applyLayers(session.publisher, l).catch(() => {});
      show();
    });
  },

  render(session) {
    // Only once subscribed: rtc.setQuality needs the subscription.
    if (!fitter || !session.subscriber) return;
    for (const v of watched) {
      if (!v.isConnected) {
        fitter.unwatch(v);
        watched.delete(v);
      }
    }
    for (const tile of tiles()) {
      const v = tile.querySelector('video');
      if (tile.dataset.self === 'true') continue; // one's own camera: nothing to ask
      fitter.watch(v, slotOf(tile));
      watched.add(v);
    }
    show();
  },

  teardown() {
    reset();
  },
});
