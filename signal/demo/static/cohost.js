// Co-hosting and battles on the demo page (PROTOCOL.md §10): an owner
// connects its live with another one ("connect with another live"), answers
// requests, leaves, and runs battles; everyone in a connected room sees the
// other rooms' owners as extra tiles and the battle's score bar.
//
// The page subscribes with COHOST_SLOTS co-host slots after its seats; slot
// k carries the k-th other room of cohost.changed's list, so a tile per slot
// is all the media work there is.

import { $, el, act, notice, displayName, initials } from './ui.js';

// The server's default --max-cohosts is 4: three other rooms.
export const COHOST_SLOTS = 3;
const REQUEST_TIMEOUT_S = 30;
const BATTLE_S = 60;

export class CohostPanel {
  /** @param {import('./app.js').Session} session */
  constructor(session) {
    this.s = session;
    this.rooms = []; // the connection, this room included
    this.battle = null; // {battleId, rooms, endsAt, scores}
    this.received = new Map(); // requestId → request to this room
    this.sent = new Map(); // requestId → roomId this room asked
    this.tiles = new Map(); // cohostIndex → {node, video, stream}
    this.timer = null;
    this.#build();
  }

  #build() {
    this.stage = el('div', { id: 'cohost', 'data-testid': 'cohost', hidden: true });
    this.bar = el('div', { id: 'battle-bar', 'data-testid': 'battle-bar', hidden: true });
    this.clock = el('div', { id: 'battle-clock', 'data-testid': 'battle-clock' });
    this.grid = el('div', { id: 'cohost-grid', 'data-testid': 'cohost-grid' });
    this.stage.append(this.bar, this.clock, this.grid);
    $('grid').after(this.stage);

    this.input = el('input', { id: 'cohost-room', 'data-testid': 'cohost-room', placeholder: 'another live’s room', maxlength: '128' });
    this.requestBtn = el('button', { id: 'cohost-request', 'data-testid': 'cohost-request', text: 'Connect with another live',
      onclick: (e) => this.request(e.currentTarget) });
    this.requests = el('ul', { id: 'cohost-requests', 'data-testid': 'cohost-requests', class: 'people' });
    this.leaveBtn = el('button', { id: 'cohost-leave', 'data-testid': 'cohost-leave', class: 'secondary', hidden: true,
      text: 'Disconnect', onclick: (e) => act('Disconnecting', () => this.s.client.call('cohost.leave', {}), e.currentTarget) });
    this.startBtn = el('button', { id: 'battle-start', 'data-testid': 'battle-start', hidden: true, text: `Battle (${BATTLE_S} s)`,
      onclick: (e) => act('Starting a battle', () => this.s.client.call('battle.start', { duration: BATTLE_S }), e.currentTarget) });
    this.stopBtn = el('button', { id: 'battle-stop', 'data-testid': 'battle-stop', class: 'danger', hidden: true, text: 'Stop battle',
      onclick: (e) => act('Stopping the battle', () => this.s.client.call('battle.stop', {}), e.currentTarget) });
    this.panel = el('section', { id: 'cohost-panel', 'data-testid': 'cohost-panel', hidden: true },
      el('h2', { text: 'Co-host' }),
      el('div', { class: 'buttons' }, this.input, this.requestBtn),
      this.requests,
      el('div', { class: 'buttons' }, this.leaveBtn, this.startBtn, this.stopBtn));
    document.querySelector('#live aside').prepend(this.panel);
  }

  get isOwner() { return this.s.self?.role === 'owner'; }
  get roomId() { return this.s.room?.roomId; }

  /** attach starts from a join snapshot and follows client's notifications. */
  attach(client, snap) {
    this.rooms = snap.cohost || [];
    this.battle = snap.battle || null;
    this.received.clear();
    this.sent.clear();
    // The owner's pending requests, when it comes back within its grace.
    for (const r of snap.cohostRequests || []) this.received.set(r.requestId, r);
    for (const r of snap.cohostSent || []) this.sent.set(r.requestId, r.roomId);
    const on = (m, fn) => client.addEventListener(m, (e) => fn(e.detail));
    on('cohost.requestReceived', (d) => {
      this.received.set(d.request.requestId, d.request);
      notice(`${displayName(d.request.from.user)} (live ${d.request.from.roomId}) wants to connect`);
      this.render();
    });
    on('cohost.requestCancelled', (d) => {
      const to = this.sent.get(d.requestId);
      this.received.delete(d.requestId);
      this.sent.delete(d.requestId);
      if (to) notice(`Your request to ${to} ended: ${{ timeout: 'no answer in time', room_ended: 'that live ended' }[d.reason] || d.reason}`, 'warn');
      this.render();
    });
    on('cohost.requestResponded', (d) => {
      const to = this.sent.get(d.requestId);
      this.sent.delete(d.requestId);
      notice(d.accepted ? `${to} accepted: you are connected` : `${to} declined your request`, d.accepted ? 'info' : 'warn');
      this.render();
    });
    on('cohost.changed', (d) => {
      this.rooms = d.rooms;
      if (!d.rooms.length) this.battle = null;
      this.render();
    });
    on('battle.started', (d) => {
      this.battle = { battleId: d.battleId, rooms: d.rooms, endsAt: d.endsAt, scores: Object.fromEntries(d.rooms.map((r) => [r, 0])) };
      notice('A battle has started');
      this.render();
    });
    on('battle.scores', (d) => {
      if (this.battle?.battleId === d.battleId) this.battle.scores = d.scores;
      this.render();
    });
    on('battle.ended', (d) => {
      this.battle = null;
      const why = { timeout: 'time is up', stopped: 'a host stopped it', connection_ended: 'the connection ended' }[d.reason] || d.reason;
      notice(`Battle over (${why}); winner${d.winners.length > 1 ? 's' : ''}: ${d.winners.join(', ') || 'none'}`);
      this.render();
    });
    this.stage.hidden = false;
    this.panel.hidden = !this.isOwner;
    this.render();
  }

  hide() {
    clearInterval(this.timer);
    this.timer = null;
    this.stage.hidden = this.panel.hidden = true;
    for (const t of this.tiles.values()) t.node.remove();
    this.tiles.clear();
    this.rooms = [];
    this.battle = null;
  }

  /** others are the connection's rooms without ours: co-host slot k is others[k-1]. */
  get others() { return this.rooms.filter((r) => r.roomId !== this.roomId); }

  render() {
    if (!this.s.self) return;
    this.#renderTiles();
    this.#renderBattle();
    if (!this.isOwner) return;
    const connected = this.rooms.length > 0;
    this.leaveBtn.hidden = !connected;
    this.startBtn.hidden = !connected || !!this.battle;
    this.stopBtn.hidden = !this.battle;
    const rows = [];
    for (const r of this.received.values()) {
      rows.push(el('li', { 'data-request-id': r.requestId },
        el('span', { class: 'who', text: `${displayName(r.from.user)} · ${r.from.roomId}` }),
        el('button', { class: 'small', dataset: { action: 'cohost-accept' }, text: 'Accept',
          onclick: (e) => this.answer(r.requestId, true, e.currentTarget) }),
        el('button', { class: 'small secondary', dataset: { action: 'cohost-reject' }, text: 'Reject',
          onclick: (e) => this.answer(r.requestId, false, e.currentTarget) })));
    }
    for (const [id, to] of this.sent) {
      rows.push(el('li', { 'data-request-id': id },
        el('span', { class: 'who', text: `waiting for ${to}…` }),
        el('button', { class: 'small secondary', dataset: { action: 'cohost-cancel' }, text: 'Cancel',
          onclick: (e) => act('Cancelling the request', async () => {
            await this.s.client.call('cohost.cancel', { requestId: id });
            this.sent.delete(id);
            this.render();
          }, e.currentTarget) })));
    }
    this.requests.replaceChildren(...rows);
  }

  #renderTiles() {
    const others = this.others;
    for (const [k, t] of this.tiles) {
      if (k > others.length) {
        t.node.remove();
        this.tiles.delete(k);
      }
    }
    others.slice(0, COHOST_SLOTS).forEach((room, i) => {
      const k = i + 1;
      let t = this.tiles.get(k);
      if (!t) {
        const node = $('tile-template').content.firstElementChild.cloneNode(true);
        node.dataset.cohost = String(k);
        node.dataset.camera = 'on';
        node.classList.add('cohost');
        const video = node.querySelector('video');
        video.dataset.testid = 'video';
        t = { node, video, stream: null };
        this.tiles.set(k, t);
        this.grid.append(node);
      }
      t.node.dataset.roomId = room.roomId;
      t.node.querySelector('.name').textContent = `${displayName(room.owner)} · live ${room.roomId}`;
      t.node.querySelector('.initials').textContent = initials(displayName(room.owner));
      const stream = this.s.subscriber?.cohostStreams?.get(k) || null;
      if (t.stream !== stream) {
        t.stream = stream;
        t.video.srcObject = stream;
        if (stream) t.video.play().catch(() => { t.video.muted = true; t.video.play().catch(() => {}); });
      }
    });
    this.grid.dataset.count = String(this.tiles.size);
  }

  #renderBattle() {
    const b = this.battle;
    this.bar.hidden = !b;
    if (!b) {
      this.clock.textContent = '';
      clearInterval(this.timer);
      this.timer = null;
      return;
    }
    const total = b.rooms.reduce((n, r) => n + Math.max(0, b.scores[r] || 0), 0);
    const colors = ['#e5484d', '#4f8cff', '#3dd68c', '#f5a623', '#a76bff', '#2fc7c7', '#ff7ab6', '#c7c72f', '#9aa0ab'];
    // Segments are kept per room and updated in place: rebuilding them on
    // every score would pull a +1 button from under a pointer mid-click.
    const segs = [...this.bar.children];
    const same = this.bar.dataset.owner === String(this.isOwner) && segs.length === b.rooms.length &&
      segs.every((s, i) => s.dataset.roomId === b.rooms[i]);
    if (!same) {
      this.bar.dataset.owner = String(this.isOwner);
      this.bar.replaceChildren(...b.rooms.map((r, i) => {
        const seg = el('div', { 'data-room-id': r }, el('b'), el('span', { text: r === this.roomId ? `${r} (us)` : r }));
        seg.style.background = colors[i % colors.length];
        if (this.isOwner) {
          // Dev mode only: the demo endpoint stands in for an app backend. Each
          // tap is its own point, so the button is never disabled in between.
          seg.append(el('button', { class: 'small secondary', dataset: { action: 'score' }, text: '+1',
            onclick: () => this.battle && act('Scoring', () => demoScore(this.battle.battleId, r, 1)) }));
        }
        return seg;
      }));
    }
    b.rooms.forEach((r, i) => {
      const seg = this.bar.children[i];
      const score = b.scores[r] || 0;
      const share = total > 0 ? Math.max(0, score) / total : 1 / b.rooms.length;
      seg.dataset.score = String(score);
      seg.querySelector('b').textContent = String(score);
      // Through the CSSOM: the page's CSP refuses inline style attributes.
      seg.style.flexGrow = String(Math.max(share, 0.08));
    });
    const tick = () => {
      const left = Math.max(0, Math.round((b.endsAt - Date.now()) / 1000));
      this.clock.textContent = `battle: ${left} s left`;
    };
    tick();
    if (!this.timer) this.timer = setInterval(() => this.battle && tick(), 1000);
  }

  request(button) {
    const to = this.input.value.trim();
    if (!to) return Promise.resolve();
    return act('Connecting with another live', async () => {
      const res = await this.s.client.call('cohost.request', { roomId: to, timeout: REQUEST_TIMEOUT_S });
      this.sent.set(res.requestId, to);
      this.input.value = '';
      notice(`Asked ${to} to connect`);
      this.render();
    }, button);
  }

  answer(requestId, accept, button) {
    return act(accept ? 'Accepting' : 'Rejecting', async () => {
      try {
        await this.s.client.call(accept ? 'cohost.accept' : 'cohost.reject', { requestId });
      } finally {
        this.received.delete(requestId);
        this.render();
      }
    }, button);
  }
}

async function demoScore(battleId, roomId, delta) {
  const res = await fetch(`/demo/battles/${encodeURIComponent(battleId)}/score`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ roomId, delta }),
  });
  if (res.status === 404) throw new Error('scores come from the app backend here (the demo endpoint needs dev mode)');
  if (!res.ok) throw new Error(`the score endpoint answered ${res.status}`);
}
