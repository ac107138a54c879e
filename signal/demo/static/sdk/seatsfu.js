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
// v2 (PROTOCOL.md §3.4, §12): a tokenSource answers session.expired with
// session.refresh; seatRequests()/allSeatRequests() page the pending
// requests the snapshot leaves out (requestsTotal counts them all); and a
// client given the cluster's nodes rejoins through the next one when its
// socket drops, within the reconnect grace.
//
// Served by every seatsfu server at /sdk/seatsfu.js. No dependencies.

/** How long a request may wait for its response before it fails. */
export const DEFAULT_TIMEOUT_MS = 10000;

/** How long to wait for ICE gathering before sending the offer anyway. */
const GATHER_TIMEOUT_MS = 2000;

/** The server's default reconnect grace: past it a dropped seat is gone. */
export const DEFAULT_GRACE_MS = 15000;

/** The first pause between two rounds over the nodes; doubles up to 2 s. */
const FAILOVER_BACKOFF_MS = 100;
const MAX_FAILOVER_BACKOFF_MS = 2000;

/**
 * Refusals no other node or later try would answer otherwise (as the Go
 * SDK's Failover). room_not_found is not one: while a dead node's room is
 * taken over, nodes answer it for a few seconds.
 */
const FINAL_REASONS = new Set(['banned', 'token_invalid', 'permission_denied', 'invalid_params', 'room_full']);

/** Notifications after which the server closes the socket on purpose. */
const ENDING_NOTES = new Set(['room.ended', 'room.kickedOut', 'session.replaced']);

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
 * name, "notification" for all of them ({method, params}), "close"
 * ({code, reason}) once the socket is gone for good, "refreshfailed"
 * ({error}) when tokenSource or session.refresh failed, and with nodes:
 * "reconnecting" ({code, reason}) on a drop and "failover" ({url,
 * snapshot}) once joined again through another node — peer connections do
 * not survive it: publish and subscribe again.
 */
export class Client extends EventTarget {
  /**
   * nodes makes the client fail over (PROTOCOL.md §12): the cluster's node
   * base URLs (http://host:port), or a function resolving to them (e.g.
   * () => listNodes()), called on connect and before each round of
   * reconnects. tokenSource resolves to a fresh token when the session's
   * expires (PROTOCOL.md §3.4). graceMs bounds reconnecting: the server's
   * reconnect grace.
   * @param {{url?: string, token: string, timeoutMs?: number,
   *          iceServers?: RTCIceServer[],
   *          nodes?: string[] | (() => Promise<string[]>),
   *          tokenSource?: () => Promise<string>, graceMs?: number}} opts
   */
  constructor({ url = defaultURL(), token, timeoutMs = DEFAULT_TIMEOUT_MS, iceServers = [], nodes = null, tokenSource = null, graceMs = DEFAULT_GRACE_MS } = {}) {
    super();
    if (!token) throw new TypeError('seatsfu: a token is required');
    this.url = url;
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.iceServers = iceServers;
    this.nodes = nodes;
    this.tokenSource = tokenSource;
    this.graceMs = graceMs;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject, timer, method}
    this.peers = { publish: null, subscribe: null };
    /** The last snapshot's count of all pending requests (hosts only). */
    this.requestsTotal = undefined;
    this.urls = [url]; // signalling URLs to fail over between
    this.at = 0; // index in urls of the node in use
    this.joined = false; // a room.join succeeded on this socket
    this.ending = false; // close() was called or the server said why it ends us
    this.failingOver = false;
  }

  /**
   * Opens the socket, through the first node that lets it in when nodes
   * are given; resolves once it is open.
   */
  async connect() {
    if (this.ws) throw new Error('seatsfu: already connected');
    this.ending = false;
    if (this.nodes) this.urls = await this.#nodeURLs(this.urls);
    let last;
    for (let i = 0; i < this.urls.length; i++) {
      try {
        await this.#open(this.urls[i]);
        this.at = i;
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  /** Opens one socket to url; rejects with connect_failed if it never opens. */
  #open(url) {
    const u = new URL(url);
    u.searchParams.set('token', this.token);
    const ws = new WebSocket(u);
    this.ws = ws;
    this.url = url;
    this.joined = false;
    return new Promise((resolve, reject) => {
      let opened = false;
      ws.onopen = () => { opened = true; resolve(); };
      ws.onmessage = (e) => this.#onFrame(e.data);
      ws.onclose = (e) => {
        if (this.ws !== ws) {
          // A failover try given up: nothing of today's session is its.
          if (!opened) reject(new RpcError('connect', e.code, 'gave up', 'connect_failed'));
          return;
        }
        this.ws = null;
        this.#failPending('disconnected', `connection closed (${e.code}${e.reason ? ': ' + e.reason : ''})`);
        this.#closePeers();
        if (!opened) {
          // A refused upgrade (401 for a bad token) surfaces only as a
          // close before open; browsers hide the status code.
          reject(new RpcError('connect', e.code, 'could not connect to the server (bad token or server down)', 'connect_failed'));
          return;
        }
        if (this.failingOver) return; // a try of #failover: it reports
        const detail = { code: e.code, reason: e.reason };
        if (this.#lost(e)) {
          this.#failover(detail);
          return;
        }
        this.dispatchEvent(new CustomEvent('close', { detail }));
      };
    });
  }

  /**
   * A drop worth failing over: nodes known, joined, and neither we nor the
   * server ended the session on purpose (1000 is ours, 1008 a join timeout
   * or an expired token).
   */
  #lost(e) {
    return this.nodes !== null && this.joined && !this.ending && e.code !== 1000 && e.code !== 1008;
  }

  /**
   * Rejoins (a resume of the same seat and requests) through the next
   * node, round after round with a growing pause, until one lets us in or
   * the grace is over; then "failover", else "close" with the drop's code.
   */
  async #failover(detail) {
    this.dispatchEvent(new CustomEvent('reconnecting', { detail }));
    this.failingOver = true;
    const deadline = Date.now() + this.graceMs;
    let pause = FAILOVER_BACKOFF_MS;
    try {
      while (!this.ending && Date.now() < deadline) {
        this.urls = await this.#nodeURLs(this.urls);
        const start = this.at;
        for (let k = 1; k <= this.urls.length && !this.ending; k++) {
          const at = (start + k) % this.urls.length;
          try {
            await this.#open(this.urls[at]);
            const snapshot = await this.join();
            this.at = at;
            this.failingOver = false;
            this.dispatchEvent(new CustomEvent('failover', { detail: { url: this.urls[at], snapshot } }));
            return;
          } catch (e) {
            this.#abandon();
            if (FINAL_REASONS.has(e.reason)) {
              detail = { code: detail.code, reason: e.reason };
              this.ending = true;
            }
          }
        }
        await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
        pause = Math.min(2 * pause, MAX_FAILOVER_BACKOFF_MS);
      }
    } finally {
      this.failingOver = false;
    }
    this.dispatchEvent(new CustomEvent('close', { detail }));
  }

  /** Drops the current socket without a word: its close is no event. */
  #abandon() {
    const ws = this.ws;
    this.ws = null;
    this.#failPending('disconnected', 'failover try given up');
    ws?.close(1000, 'failover try');
  }

  /** The nodes' signalling URLs; prev when the list cannot be had or is empty. */
  async #nodeURLs(prev) {
    let bases = this.nodes;
    if (typeof bases === 'function') {
      try { bases = await bases(); } catch { return prev; }
    }
    const urls = (bases || []).map(rtcURL).filter(Boolean);
    return urls.length ? urls : prev;
  }

  /** Closes the socket and every peer connection. */
  close() {
    this.ending = true;
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
      if (ENDING_NOTES.has(msg.method)) this.ending = true;
      if (msg.method === 'session.expired' && this.tokenSource) this.#refreshFromSource();
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

  /**
   * Answers session.expired: a fresh token from tokenSource, handed over
   * with session.refresh before the server's grace closes the socket.
   */
  async #refreshFromSource() {
    try {
      await this.refreshSession(await this.tokenSource());
    } catch (error) {
      this.dispatchEvent(new CustomEvent('refreshfailed', { detail: { error } }));
    }
  }

  // --- convenience wrappers for the common methods ---

  /**
   * room.join; pass create ({maxSeats?, seatMode?}) to open the room as its
   * owner. The snapshot's rtc.iceServers (the server's TURN, PROTOCOL.md §9)
   * become this client's, unless the page gave its own. requestsTotal
   * counts every pending request of a host's snapshot, which lists only
   * the oldest 100 (PROTOCOL.md §3.4).
   */
  async join(create) {
    const snap = await this.call('room.join', create ? { create } : {});
    if (!this.iceServers.length && snap?.rtc?.iceServers?.length) this.iceServers = snap.rtc.iceServers;
    this.requestsTotal = snap?.requestsTotal;
    this.joined = true;
    return snap;
  }

  /**
   * session.refresh: moves the session's expiry to token's, which must be
   * for the same room, user and role. Later reconnects use it too.
   */
  async refreshSession(token) {
    await this.call('session.refresh', { token });
    this.token = token;
  }

  /**
   * One page of seat.requests (owner and admins): pending requests in
   * creation order. cursor '' starts; nextCursor '' is the end.
   * @returns {Promise<{requests: object[], nextCursor: string}>}
   */
  async seatRequests({ cursor = '', limit } = {}) {
    const res = await this.call('seat.requests', limit ? { cursor, limit } : { cursor });
    return { requests: res?.requests || [], nextCursor: res?.nextCursor || '' };
  }

  /** Every pending request, paging seat.requests to the end. */
  async allSeatRequests({ pageSize = 100 } = {}) {
    const all = [];
    let cursor = '';
    do {
      const page = await this.seatRequests({ cursor, limit: pageSize });
      all.push(...page.requests);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
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
 * listNodes asks one node (its base URL; default this page's) for the
 * cluster's live nodes (GET /v1/nodes, PROTOCOL.md §12) and resolves to
 * their base URLs, for the Client's nodes option.
 */
export async function listNodes(base = globalThis.location.origin) {
  const res = await fetch(new URL('/v1/nodes', base));
  if (!res.ok) throw new Error(`seatsfu: GET /v1/nodes: HTTP ${res.status}`);
  const body = await res.json();
  return (body.nodes || []).map((n) => n.url).filter(Boolean);
}

/** A node's signalling URL from its base URL (a ws URL stays as it is). */
function rtcURL(base) {
  try {
    const u = new URL(base);
    if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.href;
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = u.pathname.replace(/\/$/, '') + '/v1/rtc';
    return u.href;
  } catch {
    return null;
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
