// The seat grid: one tile per occupied seat, in seat order, with the
// occupant's name, an avatar/initials placeholder while the seat's camera is
// not "on", and a small cue while the seat's audio is loud enough to be
// speech.

import { $, initials, displayName } from './ui.js';

const SPEAKING_RMS = 0.015; // a quiet voice at normal gain is well above this
// The analyser's window (2048 samples ≈ 43 ms at 48 kHz) is a little longer
// than the sampling interval, so no sound slips between two looks; the cue
// then holds for a moment so it does not flicker between syllables.
const FFT_SIZE = 2048;
const LEVEL_INTERVAL_MS = 40;
const SPEAKING_HOLD_MS = 400;

export class Grid {
  constructor(root) {
    this.root = root;
    this.tiles = new Map(); // seatIndex → {node, video, stream, self, analyser, audioTrackId, loudAt}
    this.audio = null; // AudioContext, made on the first user gesture
    this.timer = null;
    this.soundBlocked = false;
    this.onSoundBlocked = () => {};
  }

  /** startAudio must be called from a user gesture (autoplay rules). */
  startAudio() {
    if (!this.audio) {
      try {
        this.audio = new AudioContext();
      } catch {
        this.audio = null; // no WebAudio: no speaker cue, nothing else lost
      }
    }
    this.audio?.resume().catch(() => {});
    if (!this.timer) this.timer = setInterval(() => this.#measure(), LEVEL_INTERVAL_MS);
  }

  /**
   * render makes the tiles match the seats. streamFor(seat) gives the
   * MediaStream to show for an occupied seat (remote, or the local camera on
   * one's own seat); isSelf(seat) says whether to mute it locally.
   */
  render(seats, streamFor, isSelf) {
    const occupied = seats.filter((s) => s.user);
    const keep = new Set(occupied.map((s) => s.index));
    for (const [idx, t] of this.tiles) {
      if (!keep.has(idx)) {
        this.#dropAnalyser(t);
        t.node.remove();
        this.tiles.delete(idx);
      }
    }
    let prev = null;
    for (const seat of occupied) {
      let t = this.tiles.get(seat.index);
      if (!t) {
        t = this.#newTile(seat.index);
        this.tiles.set(seat.index, t);
      }
      this.#fill(t, seat, streamFor(seat), isSelf(seat));
      // Keep seat order, moving a tile only when it is out of place: a
      // moved <video> may stutter.
      const want = prev ? prev.nextSibling : this.root.firstChild;
      if (want !== t.node) this.root.insertBefore(t.node, want);
      prev = t.node;
    }
    this.root.dataset.count = String(occupied.length);
    // More than a row of guests: the host's tile gives them some of the height.
    this.root.dataset.crowded = String(occupied.length > 5);
  }

  /** unmuteAll is the answer to a "click to hear" gesture. */
  unmuteAll() {
    this.soundBlocked = false;
    for (const t of this.tiles.values()) {
      if (!t.self) {
        t.video.muted = false;
        t.video.play().catch(() => {});
      }
    }
    this.audio?.resume().catch(() => {});
  }

  clear() {
    for (const t of this.tiles.values()) {
      this.#dropAnalyser(t);
      t.node.remove();
    }
    this.tiles.clear();
    clearInterval(this.timer);
    this.timer = null;
    this.audio?.close().catch(() => {});
    this.audio = null;
  }

  #newTile(index) {
    const node = $('tile-template').content.firstElementChild.cloneNode(true);
    node.dataset.seat = String(index);
    node.id = `tile-${index}`;
    const video = node.querySelector('video');
    video.dataset.testid = 'video';
    node.querySelector('.placeholder').dataset.testid = 'placeholder';
    return { node, video, stream: null, self: false, analyser: null, audioTrackId: '', loudAt: -Infinity };
  }

  #fill(t, seat, stream, self) {
    const u = seat.user;
    const n = t.node;
    n.dataset.userId = u.userId;
    n.dataset.camera = seat.camera;
    n.dataset.microphone = seat.microphone;
    n.dataset.self = String(self);
    n.classList.toggle('host', seat.index === 0);
    n.querySelector('.name').textContent = displayName(u) + (self ? ' (you)' : '');
    n.querySelector('.state').textContent =
      (seat.microphone === 'on' ? '' : seat.microphone === 'closedByAdmin' ? 'mic muted by host' : 'mic off') +
      (seat.camera === 'closedByAdmin' ? ' · camera off by host' : '');
    const img = n.querySelector('.placeholder img');
    if (u.avatar && /^https:\/\//.test(u.avatar)) {
      if (img.getAttribute('src') !== u.avatar) img.src = u.avatar;
      img.hidden = false;
    } else {
      img.hidden = true;
      img.removeAttribute('src');
    }
    n.querySelector('.initials').textContent = initials(displayName(u));

    if (t.stream !== stream || t.self !== self) {
      t.stream = stream;
      t.self = self;
      t.video.muted = self || this.soundBlocked; // never play one's own voice back
      t.video.srcObject = stream;
      if (stream) this.#play(t);
    }
    this.#attachAnalyser(t);
  }

  #play(t) {
    t.video.play().catch((e) => {
      if (e.name !== 'NotAllowedError' || t.video.muted) return;
      // Autoplay with sound refused: play muted and offer a click to hear.
      this.soundBlocked = true;
      t.video.muted = true;
      t.video.play().catch(() => {});
      this.onSoundBlocked();
    });
  }

  #attachAnalyser(t) {
    const track = t.stream?.getAudioTracks()[0];
    if (!this.audio || !track) return;
    if (t.audioTrackId === track.id) return;
    this.#dropAnalyser(t);
    try {
      const src = this.audio.createMediaStreamSource(new MediaStream([track]));
      const analyser = this.audio.createAnalyser();
      analyser.fftSize = FFT_SIZE;
      src.connect(analyser); // not to the destination: the <video> plays the sound
      t.analyser = { src, analyser, buf: new Float32Array(analyser.fftSize) };
      t.audioTrackId = track.id;
    } catch {
      t.analyser = null;
    }
  }

  #dropAnalyser(t) {
    if (t.analyser) t.analyser.src.disconnect();
    t.analyser = null;
    t.audioTrackId = '';
  }

  #measure() {
    const now = performance.now();
    for (const t of this.tiles.values()) {
      if (t.analyser && t.node.dataset.microphone === 'on') {
        const { analyser, buf } = t.analyser;
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        if (Math.sqrt(sum / buf.length) > SPEAKING_RMS) t.loudAt = now;
      } else {
        t.loudAt = -Infinity;
      }
      const speaking = now - t.loudAt < SPEAKING_HOLD_MS;
      if (t.node.dataset.speaking !== String(speaking)) t.node.dataset.speaking = String(speaking);
    }
  }
}
