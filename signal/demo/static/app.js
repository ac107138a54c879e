// The demo page: one Session per visit to a room. The seat list the server
// sends (room.join's snapshot, then every seat.changed) is the only truth the
// page acts on: whenever it shows this user on a seat the page publishes its
// camera, and whenever it stops doing so the page stops publishing. Accepted
// applications, invitations, kicks and locks all follow from that one rule.

import { Client } from '/sdk/seatsfu.js';
import { $, el, act, notice, describe, displayName } from './ui.js';
import { Grid } from './grid.js';
import { HostPanel } from './host.js';
import { emit } from './modules.js';
import { CohostPanel, COHOST_SLOTS } from './cohost.js';

// How long an application waits for a host; ?applyTimeout=N (seconds,
// 0 = forever) changes it for demos and tests.
const APPLY_TIMEOUT_S = (() => {
  const v = Number(new URLSearchParams(location.search).get('applyTimeout') ?? 60);
  return Number.isInteger(v) && v >= 0 && v <= 86400 ? v : 60;
})();
// Retries after a dropped socket: about 8 s in all, inside the server's
// default 15 s reconnect grace.
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000];
// Refusals that another try cannot change.
const FINAL_REASONS = new Set(['banned', 'room_not_found', 'permission_denied', 'room_full']);
// A viewer who arrives before the host tries room.join again this often
// until the live starts (one socket at a time, each closed before the next).
const WAIT_FOR_HOST_MS = 2000;
const MEDIA = { audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 } } };

export class Session {
  constructor(token, create) {
    this.token = token;
    this.create = create;
    this.client = null;
    this.self = null;
    this.room = null;
    this.seats = [];
    this.local = null; // MediaStream of this user's camera and microphone
    this.publisher = null;
    this.subscriber = null;
    this.muted = { audio: false, video: false };
    this.toggling = { audio: false, video: false };
    this.application = null; // requestId of my pending application
    this.invitation = null; // the pending invitation I received
    this.ending = false; // we are leaving on purpose: a drop is not to be repaired
    this.closed = false; // torn down: the page is back at the form
    this.mediaChain = Promise.resolve(); // serialises publish/unpublish
    this.grid = new Grid($('grid'));
    this.grid.onSoundBlocked = () => { $('unmute-audio').hidden = false; };
    this.host = new HostPanel(this);
    this.cohost = new CohostPanel(this);
  }

  get isHost() { return this.self && (this.self.role === 'owner' || this.self.role === 'admin'); }
  get mySeat() { return this.seats.find((s) => s.user && s.user.userId === this.self?.userId) || null; }

  async start() {
    setConn('connecting', 'connecting…');
    this.grid.startAudio(); // we are inside the click that started us
    // The owner publishes from the first moment: ask for the camera before
    // opening the room, so a refusal leaves no empty live room behind.
    if (this.create) this.local = await navigator.mediaDevices.getUserMedia(MEDIA);
    await this.#connect();
  }

  /**
   * One signalling session: connect, join (which resumes us when we come
   * back within the reconnect grace), subscribe, and publish if seated.
   */
  async #connect() {
    const c = new Client({ token: this.token });
    this.client = c;
    this.#listen(c);
    let snap;
    try {
      await c.connect();
      snap = await c.join(this.create ? {} : undefined);
    } catch (e) {
      this.client = null; // so its close is not taken for a dropped session
      c.close();
      throw e;
    }
    this.self = snap.self;
    this.room = snap.room;
    this.seats = snap.seats;
    this.application = null;
    this.invitation = null;
    for (const r of snap.requests || []) {
      if (r.kind === 'apply' && r.from.userId === this.self.userId) this.application = r.requestId;
      if (r.kind === 'invite' && r.to?.userId === this.self.userId) this.invitation = r;
    }
    this.#followSeatMedia();
    setConn('live', 'live', this.self.role);
    $('room-label').textContent = `room ${this.room.roomId} · ${displayName(this.self)}`;
    $('viewer-count').textContent = String(this.room.memberCount);
    $('counters').hidden = false;
    $('join-form').hidden = true;
    $('live').hidden = false;
    if (this.isHost) await act('Loading the host panel', () => this.host.show(snap.requests));
    emit('joined', this, snap);
    this.cohost.attach(c, snap);
    this.#render();
    this.#showInvitation();
    await act('Watching the seats', () => this.#subscribe());
    this.#syncPublishing();
  }

  /**
   * The socket dropped without anyone meaning it to: the server keeps our
   * seat and requests for its reconnect grace (15 s by default), so try to
   * come back a few times well inside it, then give up and say so.
   */
  async #reconnect(code) {
    notice(`Lost the connection to the server (code ${code}); reconnecting…`, 'warn');
    setConn('connecting', 'reconnecting…');
    this.publisher = null; // the old client closed both peer connections
    this.subscriber = null;
    let last = null;
    for (const delay of RECONNECT_DELAYS_MS) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.ending) return;
      try {
        await this.#connect();
        notice('Reconnected');
        return;
      } catch (e) {
        last = e;
        if (FINAL_REASONS.has(e.reason)) break;
      }
    }
    notice(`Could not reconnect: ${describe(last)}`, 'error');
    this.teardown();
  }

  async #subscribe() {
    this.subscriber = await this.client.subscribe(this.room.maxSeats, COHOST_SLOTS);
    this.subscriber.addEventListener('track', () => { this.#render(); this.cohost.render(); });
    this.subscriber.addEventListener('state', (e) => {
      if (e.detail === 'failed') notice('The media connection failed; try reloading the page.', 'error');
    });
    this.#render();
  }

  /** Queue a publish/unpublish step so two seat changes never race. */
  #syncPublishing() {
    this.mediaChain = this.mediaChain.then(() => this.#syncOnce()).catch((e) => {
      notice(`Publishing failed: ${describe(e)}`, 'error');
    });
  }

  async #syncOnce() {
    if (!this.client) return;
    const seat = this.mySeat;
    if (seat && !this.publisher) {
      if (!this.local) this.local = await navigator.mediaDevices.getUserMedia(MEDIA);
      if (!this.mySeat || !this.client) return; // lost the seat while the camera opened
      for (const t of this.local.getAudioTracks()) t.enabled = !this.muted.audio;
      for (const t of this.local.getVideoTracks()) t.enabled = !this.muted.video;
      this.publisher = await this.client.publish(this.local);
      this.publisher.addEventListener('state', (e) => {
        if (e.detail === 'failed') notice('Your camera connection failed.', 'error');
      });
      for (const kind of ['audio', 'video']) {
        if (this.muted[kind]) await this.client.call('media.setMuted', { kind, muted: true });
      }
      this.#render();
    } else if (!seat && this.publisher) {
      this.client.unpublish();
      this.publisher = null;
      this.#stopLocal();
      this.muted = { audio: false, video: false };
      this.#render();
    }
  }

  /**
   * The server keeps a kind muted after a host's lock is lifted, until the
   * guest unmutes it; so a lock counts as a mute here too, and "on" proves
   * the kind is not muted. ("off" says nothing: it is also what a seat shows
   * before its media starts flowing.)
   */
  #followSeatMedia() {
    const seat = this.mySeat;
    if (!seat) return;
    for (const [kind, state] of [['audio', seat.microphone], ['video', seat.camera]]) {
      if (state === 'closedByAdmin') this.muted[kind] = true;
      else if (state === 'on') this.muted[kind] = false;
      const tracks = kind === 'audio' ? this.local?.getAudioTracks() : this.local?.getVideoTracks();
      for (const t of tracks || []) t.enabled = !this.muted[kind];
    }
  }

  #stopLocal() {
    for (const t of this.local?.getTracks() || []) t.stop();
    this.local = null;
  }

  #listen(c) {
    const on = (m, fn) => c.addEventListener(m, (e) => fn(e.detail));
    on('seat.changed', (d) => {
      const wasSeated = !!this.mySeat;
      this.seats = d.seats;
      for (const l of d.left || []) {
        if (l.user.userId === this.self?.userId || l.reason === 'moved' || l.reason === 'room_ended') continue;
        const who = displayName(l.user);
        const n = l.seatIndex;
        notice({
          kicked: `${who} was removed from seat ${n}`,
          locked: `${who} lost seat ${n}: it was locked`,
          disconnected: `${who} lost the connection and left seat ${n}`,
        }[l.reason] || `${who} left seat ${n}`);
      }
      for (const j of d.joined || []) {
        if (j.user.userId === this.self?.userId) {
          this.application = null;
          notice(`You are on seat ${j.seatIndex}`);
        } else {
          notice(`${displayName(j.user)} took seat ${j.seatIndex}`);
        }
      }
      this.#followSeatMedia();
      if (wasSeated !== !!this.mySeat) this.#syncPublishing();
      this.#render();
    });
    on('room.stats', (d) => { $('viewer-count').textContent = String(d.memberCount); });
    on('room.message', (d) => addMessage(d.from, d.text ?? `[${d.cmd}] ${d.data}`, false));
    on('room.ended', (d) => {
      const why = { ended_by_owner: 'the host ended it', owner_timeout: 'the host lost connection', server_shutdown: 'the server is shutting down' }[d.reason] || d.reason;
      notice(`The live has ended: ${why}`, this.self?.role === 'owner' && d.reason === 'ended_by_owner' ? 'info' : 'warn');
      this.ending = true;
    });
    on('seat.applicationResponded', (d) => {
      this.application = null;
      if (d.accepted) notice(`${displayName(d.host)} accepted your application`);
      else notice(`${displayName(d.host)} declined your application`, 'warn');
      this.#render();
    });
    on('seat.applicationNoResponse', (d) => {
      this.application = null;
      notice(d.reason === 'timeout' ? 'No host answered your application in time' : 'Your application ended: you already have a seat', 'warn');
      this.#render();
    });
    on('seat.invitationReceived', (d) => { this.invitation = d.request; this.#showInvitation(); });
    on('seat.invitationCancelled', (d) => {
      this.invitation = null;
      this.#showInvitation();
      const why = { cancelled: 'withdrew it', timeout: 'it timed out', left: 'the host left', alreadySeated: 'you already have a seat' }[d.reason] || d.reason;
      notice(`Invitation from ${displayName(d.host)} ended: ${why}`, 'warn');
    });
    on('seat.kicked', (d) => notice(`${displayName(d.by)} removed you from seat ${d.seatIndex}`, 'warn'));
    on('room.kickedOut', (d) => { this.ending = true; notice(`${displayName(d.by)} removed you from the room`, 'error'); });
    on('session.replaced', () => { this.ending = true; notice('This room was opened in another tab or device; this one is now closed.', 'warn'); });
    this.host.on(c);
    emit('client', this, c);
    c.addEventListener('close', (e) => {
      if (this.client !== c) return; // a client we already let go of
      if (this.ending) this.teardown();
      else this.#reconnect(e.detail.code);
    });
  }

  #render() {
    if (!this.self) return;
    const seat = this.mySeat;
    this.grid.render(this.seats,
      (s) => (s.user.userId === this.self.userId ? this.local : this.subscriber?.streams.get(s.index) || null),
      (s) => s.user.userId === this.self.userId);
    $('seat-count').textContent = String(this.seats.filter((s) => s.user).length);
    const audience = !seat && this.self.role !== 'owner';
    $('apply').hidden = !audience || !!this.application || !!this.invitation;
    $('cancel-apply').hidden = !audience || !this.application;
    $('leave-seat').hidden = !seat || seat.index === 0;
    $('toggle-mic').hidden = !seat;
    $('toggle-cam').hidden = !seat;
    $('toggle-mic').textContent = seat?.audioLocked ? 'Mic muted by host' : this.muted.audio ? 'Unmute mic' : 'Mute mic';
    $('toggle-cam').textContent = seat?.videoLocked ? 'Camera stopped by host' : this.muted.video ? 'Turn camera on' : 'Turn camera off';
    $('toggle-mic').disabled = seat?.audioLocked ?? false;
    $('toggle-cam').disabled = seat?.videoLocked ?? false;
    $('end-live').hidden = this.self.role !== 'owner';
    $('leave-room').hidden = this.self.role === 'owner';
    if (this.isHost) {
      this.host.renderSeats();
      this.host.renderMembers();
    }
    emit('render', this);
  }

  #showInvitation() {
    const inv = this.invitation;
    $('invitation').hidden = !inv;
    if (inv) {
      $('invitation-text').textContent = `${displayName(inv.from)} invites you to ${inv.seatIndex < 0 ? 'a seat' : 'seat ' + inv.seatIndex}.`;
    }
    if (this.self) this.#render();
  }

  // --- the user's own actions ---

  apply(button) {
    return act('Applying for a seat', async () => {
      const res = await this.client.call('seat.apply', { seatIndex: -1, timeout: APPLY_TIMEOUT_S });
      this.application = res.requestId;
      notice('Application sent; waiting for a host');
      this.#render();
    }, button);
  }

  cancelApplication(button) {
    return act('Cancelling the application', async () => {
      await this.client.call('seat.cancelApplication', {});
      this.application = null;
      this.#render();
    }, button);
  }

  answerInvitation(accept, button) {
    const inv = this.invitation;
    if (!inv) return Promise.resolve();
    return act(accept ? 'Accepting the invitation' : 'Declining the invitation', async () => {
      try {
        await this.client.call(accept ? 'seat.acceptInvitation' : 'seat.rejectInvitation', { inviterId: inv.from.userId });
      } finally {
        // Whatever the answer, a refused one means the invitation is gone
        // (request_not_found) or unusable; the server tells us if not.
        this.invitation = null;
        this.#showInvitation();
      }
    }, button);
  }

  leaveSeat(button) { return act('Leaving the seat', () => this.client.call('seat.leave', {}), button); }

  toggle(kind) {
    // No button disabling here: the button's enabled state belongs to the
    // seat's lock, which render() keeps; a flag stops double clicks instead.
    if (this.toggling[kind]) return Promise.resolve();
    this.toggling[kind] = true;
    const muted = !this.muted[kind];
    const what = kind === 'audio' ? (muted ? 'Muting the microphone' : 'Unmuting the microphone') : (muted ? 'Turning the camera off' : 'Turning the camera on');
    return act(what, async () => {
      await this.client.call('media.setMuted', { kind, muted });
      this.muted[kind] = muted;
      const tracks = kind === 'audio' ? this.local?.getAudioTracks() : this.local?.getVideoTracks();
      for (const t of tracks || []) t.enabled = !muted;
      this.#render();
    }).finally(() => { this.toggling[kind] = false; });
  }

  end(button) {
    return act('Ending the live', async () => {
      this.ending = true;
      await this.client.call('room.end', {});
    }, button);
  }

  leaveRoom(button) {
    return act('Leaving the room', async () => {
      this.ending = true;
      await this.client.call('room.leave', {});
      notice('You left the room');
      this.teardown();
    }, button);
  }

  sendChat(text) {
    return act('Sending the message', async () => {
      await this.client.call('room.sendMessage', { text });
      addMessage(this.self, text, true); // the server never echoes our own
    });
  }

  /** teardown closes everything and puts the page back to the join form. */
  teardown() {
    if (this.closed) return;
    this.closed = true;
    this.ending = true;
    const c = this.client;
    this.client = null;
    c?.close();
    this.publisher = null;
    this.subscriber = null;
    this.#stopLocal();
    this.grid.clear();
    this.host.hide();
    this.cohost.hide();
    $('invitation').hidden = true;
    $('waiting').hidden = true;
    $('live').hidden = true;
    $('counters').hidden = true;
    $('join-form').hidden = false;
    $('room-label').textContent = '';
    setConn('closed', 'not connected');
    if (current === this) current = null;
    emit('teardown', this);
  }

  /**
   * startWhenLive is start() for a viewer who may be early: while the room
   * does not exist yet, it shows "waiting for the host" and tries again
   * every WAIT_FOR_HOST_MS until the host goes live (then the viewer is in,
   * with nothing to click) or the user stops waiting (teardown).
   */
  async startWhenLive(roomName) {
    for (;;) {
      try {
        await this.start();
        $('waiting').hidden = true;
        return;
      } catch (e) {
        if (this.create || e.reason !== 'room_not_found' || this.closed) throw e;
      }
      $('waiting-text').textContent = `Waiting for the host to start “${roomName}”…`;
      $('waiting').hidden = false;
      $('join-form').hidden = true;
      setConn('waiting', 'waiting for the host');
      await new Promise((r) => setTimeout(r, WAIT_FOR_HOST_MS));
      if (this.closed) return; // stopped waiting
    }
  }
}

/**
 * joinFailure is the sentence for a refused go-live or join. Server
 * messages name users by id (random in dev mode), so the cases a person
 * meets here are said in words of the page instead.
 */
function joinFailure(e, owner, room) {
  if (owner && e?.reason === 'permission_denied') {
    return `Room “${room}” is already live with another host. Join it as a viewer, or choose another room name.`;
  }
  if (e?.reason === 'banned') return `You were removed from room “${room}” and cannot come back.`;
  if (e?.reason === 'room_full') return `Room “${room}” is full.`;
  return `Could not ${owner ? 'go live' : 'join'}: ${describe(e)}`;
}

/** setConn shows the connection's state; detail (the role) gives way on phones. */
function setConn(state, text, detail = '') {
  const n = $('conn');
  n.dataset.state = state;
  n.replaceChildren(text, ...(detail ? [el('span', { class: 'detail', text: ` · ${detail}` })] : []));
}

function addMessage(from, text, mine) {
  const list = $('messages');
  const li = document.createElement('li');
  li.dataset.testid = 'message';
  li.classList.toggle('mine', mine);
  const b = document.createElement('b');
  b.textContent = displayName(from) + ': ';
  li.append(b, text);
  list.append(li);
  while (list.children.length > 200) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

// --- the page ---

let current = null;

/** userId derives a valid user id (PROTOCOL.md §2 charset) from a display name. */
function userId(name) {
  const base = name.trim().replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'guest';
  return `${base}-${Math.random().toString(36).slice(2, 7)}`;
}

/** tokenClaims reads (without verifying) a JWT's claims, for display only. */
function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

async function devToken(room, name, role) {
  const q = new URLSearchParams({ room, user: userId(name), role, name });
  const res = await fetch(`/demo/token?${q}`);
  if (res.status === 404) throw new Error('this server is not in dev mode: open the page with ?token=<a token from `seatsfu token`>');
  if (!res.ok) throw new Error(`the token endpoint answered ${res.status}: ${(await res.text()).trim()}`);
  const body = await res.json();
  if (!body.token) throw new Error('the token endpoint answered without a token');
  return body.token;
}

function setup() {
  const params = new URLSearchParams(location.search);
  const given = params.get('token');
  if (params.get('room')) $('room').value = params.get('room');
  if (params.get('name')) $('name').value = params.get('name');
  if (given) {
    // The token decides room, user and role; the form only starts things.
    const claims = tokenClaims(given) || {};
    $('room').value = claims.room || '';
    $('name').value = claims.name || claims.sub || '';
    $('room').disabled = $('name').disabled = true;
    $('go-live').hidden = claims.role !== 'owner';
    $('join').hidden = claims.role === 'owner';
  }

  $('join-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (current) return;
    const role = ev.submitter?.value === 'owner' ? 'owner' : 'audience';
    const buttons = [$('go-live'), $('join')];
    buttons.forEach((b) => { b.disabled = true; });
    const room = $('room').value.trim();
    try {
      const token = given || (await devToken(room, $('name').value.trim(), role));
      const s = new Session(token, role === 'owner');
      current = s;
      try {
        await s.startWhenLive(room);
      } catch (e) {
        s.teardown();
        throw e;
      }
    } catch (e) {
      current = null;
      notice(joinFailure(e, role === 'owner', room), 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  const click = (id, fn) => $(id).addEventListener('click', (ev) => current && fn(current, ev.currentTarget));
  click('apply', (s, b) => s.apply(b));
  click('cancel-apply', (s, b) => s.cancelApplication(b));
  click('invitation-accept', (s, b) => s.answerInvitation(true, b));
  click('invitation-reject', (s, b) => s.answerInvitation(false, b));
  click('leave-seat', (s, b) => s.leaveSeat(b));
  click('toggle-mic', (s) => s.toggle('audio'));
  click('toggle-cam', (s) => s.toggle('video'));
  click('end-live', (s, b) => s.end(b));
  click('leave-room', (s, b) => s.leaveRoom(b));
  click('unmute-audio', (s, b) => { s.grid.unmuteAll(); b.hidden = true; });
  click('stop-waiting', (s) => s.teardown());
  $('chat-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text || !current) return;
    $('chat-input').value = '';
    current.sendChat(text);
  });
  // A handle for the browser console (and tests): seatsfuDemo.session is
  // the live Session, with its client, seats and peers.
  window.seatsfuDemo = { get session() { return current; } };
  document.body.dataset.ready = 'true';
}

setup();
