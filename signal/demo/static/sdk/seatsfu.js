// seatsfu.js — the browser client of seatsfu's signalling protocol.
//
// One Client is one WebSocket to /v1/rtc speaking JSON-RPC 2.0: call() returns
// a promise per request, and every server notification is dispatched as a DOM
// event named after its method (e.g. "seat.changed") with the params in
// event.detail. publish() and subscribe() do the WebRTC offer/answer of the
// media rules: a publisher sends one audio and one video track; a subscriber
// negotiates once, with one audio+video pair per seat, and learns from the
// answer's slots which seat each pair carries.
//
// Served by every seatsfu server at /sdk/seatsfu.js. No dependencies.

/** How long a request may wait for its response before it fails. */
export const DEFAULT_TIMEOUT_MS = 10000;

/** How long to wait for ICE gathering before sending the offer anyway. */
const GATHER_TIMEOUT_MS = 2000;

/**
 * RpcError is a refused or failed call. reason is the contract's snake_case
 * reason ("seat_locked", ...) or one of the client's own: "timeout" (no
 * response in time), "disconnected" (the socket closed first),
 * "not_connected".
 */
export class RpcError extends Error {
  constructor(method, code, message, reason, data) {
    super(message);
    this.name = 'RpcError';
    this.method = method;
    this.code = code;
    this.reason = reason;
    this.data = data;
  }
}

/** The WebSocket URL of the server that served this page. */
export function defaultURL(loc = globalThis.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/v1/rtc`;
}

/**
 * Client is one signalling session. Events: every notification by method
 * name, "notification" for all of them ({method, params}), and "close"
 * ({code, reason}) once the socket is gone.
 */
export class Client extends EventTarget {
  /**
   * @param {{url?: string, token: string, timeoutMs?: number,
   *          iceServers?: RTCIceServer[]}} opts
   */
  constructor({ url = defaultURL(), token, timeoutMs = DEFAULT_TIMEOUT_MS, iceServers = [] } = {}) {
    super();
    if (!token) throw new TypeError('seatsfu: a token is required');
    this.url = url;
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.iceServers = iceServers;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject, timer, method}
    this.peers = { publish: null, subscribe: null };
  }

  /** Opens the socket; resolves once it is open. */
  connect() {
    if (this.ws) return Promise.reject(new Error('seatsfu: already connected'));
    const u = new URL(this.url);
    u.searchParams.set('token', this.token);
    const ws = new WebSocket(u);
    this.ws = ws;
    return new Promise((resolve, reject) => {
      let opened = false;
      ws.onopen = () => { opened = true; resolve(); };
      ws.onmessage = (e) => this.#onFrame(e.data);
      ws.onclose = (e) => {
        this.#failPending('disconnected', `connection closed (${e.code}${e.reason ? ': ' + e.reason : ''})`);
        this.ws = null;
        this.#closePeers();
        if (!opened) {
          // A refused upgrade (401 for a bad token) surfaces only as a
          // close before open; browsers hide the status code.
          reject(new RpcError('connect', e.code, 'could not connect to the server (bad token or server down)', 'connect_failed'));
          return;
        }
        this.dispatchEvent(new CustomEvent('close', { detail: { code: e.code, reason: e.reason } }));
      };
    });
  }

  /** Closes the socket and every peer connection. */
  close() {
    this.#closePeers();
    if (this.ws) this.ws.close(1000, 'bye');
  }

  get connected() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  /**
   * Sends one request; resolves with its result, rejects with an RpcError.
   * @returns {Promise<any>}
   */
  call(method, params = {}, { timeoutMs = this.timeoutMs } = {}) {
    if (!this.connected) {
      return Promise.reject(new RpcError(method, 0, 'not connected to the server', 'not_connected'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(method, 0, `no response to ${method} within ${timeoutMs / 1000} s`, 'timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, method });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  #onFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      console.warn('seatsfu: unparsable frame from server', text);
      return;
    }
    if (msg.id !== undefined && msg.id !== null && (msg.result !== undefined || msg.error !== undefined)) {
      const p = this.pending.get(msg.id);
      if (!p) return; // answered after its timeout: already reported
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) {
        const e = msg.error;
        p.reject(new RpcError(p.method, e.code, e.message || 'error', e.data?.reason || 'error', e.data));
      } else {
        p.resolve(msg.result);
      }
      return;
    }
    if (typeof msg.method === 'string') {
      const params = msg.params ?? {};
      this.dispatchEvent(new CustomEvent(msg.method, { detail: params }));
      this.dispatchEvent(new CustomEvent('notification', { detail: { method: msg.method, params } }));
    }
  }

  #failPending(reason, message) {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RpcError(p.method, 0, message, reason));
      this.pending.delete(id);
    }
  }

  #closePeers() {
    for (const k of Object.keys(this.peers)) {
      this.peers[k]?.close();
      this.peers[k] = null;
    }
  }

  // --- convenience wrappers for the common methods ---

  /**
   * room.join; pass create ({maxSeats?, seatMode?}) to open the room as its
   * owner. The snapshot's rtc.iceServers (the server's TURN, PROTOCOL.md §9)
   * become this client's, unless the page gave its own.
   */
  async join(create) {
    const snap = await this.call('room.join', create ? { create } : {});
    if (!this.iceServers.length && snap?.rtc?.iceServers?.length) this.iceServers = snap.rtc.iceServers;
    return snap;
  }

  /**
   * Publishes a camera/microphone stream (rtc.publish): one sendonly audio and
   * one sendonly video m-line. Replaces this client's previous publisher.
   * opts.sendEncodings makes the video simulcast (see adapt.js).
   * @param {MediaStream} stream
   * @param {{sendEncodings?: RTCRtpEncodingParameters[]}} [opts]
   * @returns {Promise<Publisher>}
   */
  async publish(stream, { sendEncodings } = {}) {
    this.peers.publish?.close();
    this.peers.publish = null;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    const audio = stream.getAudioTracks()[0] || 'audio';
    const video = stream.getVideoTracks()[0] || 'video';
    pc.addTransceiver(audio, { direction: 'sendonly', streams: [stream] });
    pc.addTransceiver(video, { direction: 'sendonly', streams: [stream], ...(sendEncodings ? { sendEncodings } : {}) });
    const pub = new Publisher(pc, stream);
    this.peers.publish = pub;
    try {
      const answer = await this.#negotiate(pc, 'publish', (sdp) => this.call('rtc.publish', { sdp }));
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (e) {
      pub.close();
      if (this.peers.publish === pub) this.peers.publish = null;
      throw e;
    }
    return pub;
  }

  /** Stops publishing (the seat stays; its media turns off). */
  unpublish() {
    this.peers.publish?.close();
    this.peers.publish = null;
  }

  /**
   * Subscribes to a room's seats (rtc.subscribe): maxSeats recvonly
   * audio+video pairs, negotiated once, then cohostSlots more for the owners
   * of co-hosting rooms (PROTOCOL.md §10). The returned Subscriber emits
   * "track" ({seatIndex, cohostIndex, kind, track}) and holds one MediaStream
   * per seat (streams) and per co-host slot (cohostStreams).
   * @returns {Promise<Subscriber>}
   */
  async subscribe(maxSeats, cohostSlots = 0) {
    if (!Number.isInteger(maxSeats) || maxSeats < 1) throw new TypeError('seatsfu: maxSeats must be a positive integer');
    this.peers.subscribe?.close();
    this.peers.subscribe = null;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    const audioCodecs = roomCodecs('audio');
    const videoCodecs = roomCodecs('video');
    for (let k = 0; k < maxSeats + cohostSlots; k++) {
      const a = pc.addTransceiver('audio', { direction: 'recvonly' });
      const v = pc.addTransceiver('video', { direction: 'recvonly' });
      if (audioCodecs) a.setCodecPreferences(audioCodecs);
      if (videoCodecs) v.setCodecPreferences(videoCodecs);
    }
    const sub = new Subscriber(pc);
    this.peers.subscribe = sub;
    try {
      const answer = await this.#negotiate(pc, 'subscribe', (sdp) => this.call('rtc.subscribe', { sdp }));
      sub.setSlots(answer.slots || []);
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (e) {
      sub.close();
      if (this.peers.subscribe === sub) this.peers.subscribe = null;
      throw e;
    }
    return sub;
  }

  /**
   * Creates the offer, waits (briefly) for ICE gathering so the offer carries
   * our candidates, sends it, and trickles any candidate found later with
   * rtc.candidate. The server does not trickle: its answer has them all.
   */
  async #negotiate(pc, which, send) {
    const late = [];
    let answered = false;
    pc.addEventListener('icecandidate', (e) => {
      if (!e.candidate || !e.candidate.candidate) return;
      if (answered) this.#sendCandidate(which, e.candidate);
      else late.push(e.candidate);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc, GATHER_TIMEOUT_MS);
    const answer = await send(pc.localDescription.sdp);
    if (!answer || typeof answer.sdp !== 'string') {
      throw new RpcError(`rtc.${which}`, 0, 'the server answered without an SDP', 'bad_answer');
    }
    answered = true;
    // Candidates found after the offer was taken are not in it.
    const inOffer = pc.localDescription.sdp;
    for (const c of late) if (!inOffer.includes(c.candidate)) this.#sendCandidate(which, c);
    return answer;
  }

  #sendCandidate(which, candidate) {
    this.call('rtc.candidate', { pc: which, candidate: candidate.toJSON() }).catch((e) => {
      console.warn(`seatsfu: rtc.candidate (${which}) refused: ${e.message}`);
    });
  }
}

/**
 * roomCodecs lists the receive codecs a seatsfu room can use: Opus, and the
 * VP8, VP9 (profile 0) and H264 (constrained baseline, packetization mode 1)
 * that --video-codec chooses from, with their retransmission format. Chrome
 * offers every codec it has on every m-line: about 6 KB per seat, so a
 * 16-seat subscribe offer (95 KB) would break the server's 64 KiB frame
 * limit; trimmed, it is about 40 KB. null where the browser cannot trim.
 */
function roomCodecs(kind) {
  if (typeof RTCRtpTransceiver === 'undefined' || !('setCodecPreferences' in RTCRtpTransceiver.prototype)) return null;
  const caps = RTCRtpReceiver.getCapabilities?.(kind)?.codecs;
  if (!caps) return null;
  const fmtp = (c) => c.sdpFmtpLine || '';
  const keep = caps.filter((c) => {
    const mime = c.mimeType.toLowerCase();
    if (kind === 'audio') return mime === 'audio/opus';
    return mime === 'video/vp8' || mime === 'video/rtx' ||
      (mime === 'video/vp9' && /profile-id=0/.test(fmtp(c))) ||
      (mime === 'video/h264' && /packetization-mode=1/.test(fmtp(c)) && /profile-level-id=42e01f/.test(fmtp(c)));
  });
  // Never offer nothing: if this browser names its codecs differently, keep
  // its own list and let the server say what it cannot take.
  return keep.some((c) => c.mimeType.toLowerCase() !== 'video/rtx') ? keep : null;
}

function waitForGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Publisher is one publish peer connection. */
export class Publisher extends EventTarget {
  constructor(pc, stream) {
    super();
    this.pc = pc;
    this.stream = stream;
    pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
  }

  get state() { return this.pc.connectionState; }

  close() {
    if (this.pc.signalingState !== 'closed') this.pc.close();
  }
}

/**
 * Subscriber is one subscribe peer connection. streams.get(seatIndex) is that
 * seat's MediaStream (its audio and video track), stable for the
 * connection's life: when the seat changes hands the server switches the
 * source, never the track.
 */
export class Subscriber extends EventTarget {
  constructor(pc) {
    super();
    this.pc = pc;
    this.slots = new Map(); // mid → {kind, seatIndex, cohostIndex}
    this.streams = new Map(); // seatIndex → MediaStream
    this.cohostStreams = new Map(); // cohostIndex → MediaStream (§10)
    pc.addEventListener('track', (e) => this.#onTrack(e));
    pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
  }

  setSlots(slots) {
    for (const s of slots) this.slots.set(String(s.mid), { kind: s.kind, seatIndex: s.seatIndex, cohostIndex: s.cohostIndex || 0 });
  }

  #onTrack(e) {
    const slot = this.slots.get(String(e.transceiver?.mid));
    if (!slot) return; // an inactive m-line beyond the room's seats
    const [map, key] = slot.cohostIndex > 0 ? [this.cohostStreams, slot.cohostIndex] : [this.streams, slot.seatIndex];
    let stream = map.get(key);
    if (!stream) {
      stream = new MediaStream();
      map.set(key, stream);
    }
    stream.addTrack(e.track);
    this.dispatchEvent(new CustomEvent('track', { detail: { seatIndex: slot.seatIndex, cohostIndex: slot.cohostIndex, kind: slot.kind, track: e.track, stream } }));
  }

  get state() { return this.pc.connectionState; }

  close() {
    if (this.pc.signalingState !== 'closed') this.pc.close();
  }
}
