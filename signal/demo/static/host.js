// The host panel (owner and admins): every seat with its lock and mute
// switches and a kick button, the pending applications with accept/reject,
// and the audience — members on no seat, the owner and oneself left out —
// paged through room.members, with invite and remove.
//
// Rows are kept and updated in place (syncList), and every button acts on
// the state at the moment of the click, looked up by the row's key: a host
// clicking fast while notifications redraw the panel loses no click and
// never acts on a stale picture.

import { $, el, act, notice, displayName, syncList, show } from './ui.js';

const MEMBERS_PAGE = 20;
const INVITE_TIMEOUT_S = 60;

export class HostPanel {
  /** @param {import('./app.js').Session} session */
  constructor(session) {
    this.s = session;
    this.applicants = new Map(); // userId → Request
    this.invited = new Map(); // userId → Request I sent, still pending
    this.members = new Map(); // userId → User, in page order
    this.cursor = '';
    this.refreshTimer = null;
    $('members-more').onclick = () => act('Loading the audience', () => this.loadMembers(false));
    $('members-refresh').onclick = () => act('Loading the audience', () => this.loadMembers(true));
    // One listener per list: a row's buttons are found by their action.
    $('seat-list').onclick = (ev) => this.#seatAction(ev);
    $('applicants').onclick = (ev) => this.#applicantAction(ev);
    $('members').onclick = (ev) => this.#memberAction(ev);
  }

  show(requests) {
    $('host-panel').hidden = false;
    // A snapshot (first join or a reconnect) is the whole truth.
    this.applicants.clear();
    this.invited.clear();
    for (const r of requests || []) {
      if (r.kind === 'apply') this.applicants.set(r.from.userId, r);
      else if (r.kind === 'invite' && r.from.userId === this.s.self.userId && r.to) this.invited.set(r.to.userId, r);
    }
    this.renderApplicants();
    this.renderSeats();
    return this.loadMembers(true);
  }

  hide() {
    $('host-panel').hidden = true;
    clearTimeout(this.refreshTimer);
    this.applicants.clear();
    this.invited.clear();
    this.members.clear();
    $('seat-list').replaceChildren();
    $('applicants').replaceChildren();
    $('members').replaceChildren();
  }

  /** on wires the host-only notifications. */
  on(client) {
    client.addEventListener('seat.applicationReceived', (e) => {
      const r = e.detail.request;
      this.applicants.set(r.from.userId, r);
      this.renderApplicants();
      notice(`${displayName(r.from)} asks for ${r.seatIndex < 0 ? 'a seat' : 'seat ' + r.seatIndex}`);
    });
    client.addEventListener('seat.applicationCancelled', (e) => {
      const { user, reason } = e.detail;
      this.applicants.delete(user.userId);
      this.renderApplicants();
      const why = { cancelled: 'cancelled it', timeout: 'timed out', left: 'left', alreadySeated: 'got a seat another way' }[reason] || reason;
      notice(`${displayName(user)}'s application ended: ${why}`);
    });
    client.addEventListener('seat.applicationProcessedByOtherHost', (e) => {
      const { user, host, accepted } = e.detail;
      this.applicants.delete(user.userId);
      this.renderApplicants();
      notice(`${displayName(host)} ${accepted ? 'accepted' : 'rejected'} ${displayName(user)}`);
    });
    client.addEventListener('seat.invitationResponded', (e) => {
      const { user, accepted } = e.detail;
      this.invited.delete(user.userId);
      this.renderMembers();
      notice(`${displayName(user)} ${accepted ? 'accepted' : 'declined'} your invitation`, accepted ? 'info' : 'warn');
    });
    client.addEventListener('seat.invitationNoResponse', (e) => {
      const { user, reason } = e.detail;
      this.invited.delete(user.userId);
      this.renderMembers();
      const why = { timeout: 'did not answer in time', alreadySeated: 'already got a seat', left: 'left the room' }[reason] || reason;
      notice(`Invitation to ${displayName(user)} ended: ${why}`, 'warn');
    });
    const refreshSoon = () => {
      // Bursts of joins collapse into one page reload.
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = null; // null: no reload waiting
        act('Loading the audience', () => this.loadMembers(true, true));
      }, 300);
    };
    client.addEventListener('room.memberJoined', refreshSoon);
    client.addEventListener('room.memberLeft', (e) => {
      this.applicants.delete(e.detail.user.userId);
      this.invited.delete(e.detail.user.userId);
      this.renderApplicants();
      refreshSoon();
    });
  }

  /**
   * loadMembers reads the first page again (fromStart) or the next one. With
   * keep, the first read covers what was showing and a page more: a reload
   * because someone joined or left must neither snap the list back to its
   * first page under the host's eyes nor drop rows that newcomers push down.
   */
  async loadMembers(fromStart, keep = false) {
    if (fromStart) this.cursor = '';
    const limit = fromStart && keep ? Math.min(100, this.members.size + MEMBERS_PAGE) : MEMBERS_PAGE;
    const res = await this.s.client.call('room.members', { cursor: this.cursor || undefined, limit });
    if (fromStart) this.members.clear();
    for (const u of res.members || []) this.members.set(u.userId, u);
    this.cursor = res.nextCursor || '';
    $('members-more').hidden = this.cursor === '';
    this.renderMembers();
  }

  // --- seats ---

  renderSeats() {
    syncList($('seat-list'), this.s.seats, (seat) => seat.index, (seat) => el('li', { dataset: { seatRow: String(seat.index) } },
      el('span', { class: 'who' }),
      el('button', { class: 'small', dataset: { action: 'lock' } }),
      el('button', { class: 'small', dataset: { action: 'lock-audio' } }),
      el('button', { class: 'small', dataset: { action: 'lock-video' } }),
      el('button', { class: 'small danger', dataset: { action: 'kick' } }, 'Kick'),
    ), (row, seat) => {
      const i = seat.index;
      const guest = seat.user && seat.user.userId !== this.s.self.userId;
      row.dataset.occupied = String(!!seat.user);
      row.dataset.locked = String(seat.locked);
      row.querySelector('.who').textContent = seat.user ? displayName(seat.user) : seat.locked ? 'locked' : 'empty';
      const b = (action) => row.querySelector(`[data-action=${action}]`);
      // The owner's seat 0 never offers any: its row gives the name the room.
      for (const button of row.querySelectorAll('button')) button.hidden = i === 0;
      show(b('lock'), i > 0, seat.locked ? 'Unlock' : 'Lock', seat.locked ? 'Open this seat again' : 'Lock this seat (its guest leaves)');
      show(b('lock-audio'), guest, seat.audioLocked ? 'Unmute' : 'Mute', seat.audioLocked ? 'Let this guest unmute' : "Mute this guest's microphone");
      show(b('lock-video'), guest, seat.videoLocked ? 'Cam on' : 'Cam off', seat.videoLocked ? 'Let this guest turn the camera on' : "Stop this guest's camera");
      show(b('kick'), guest && i > 0);
    });
  }

  #seatAction(ev) {
    const button = ev.target.closest('button[data-action]');
    if (!button) return;
    const i = Number(button.closest('li').dataset.seatRow);
    const seat = this.s.seats.find((x) => x.index === i); // as it is now, not as it was drawn
    if (!seat) return;
    const lock = (fields, label) => act(label, () => this.s.client.call('seat.lock', { seatIndex: i, ...fields }), button);
    switch (button.dataset.action) {
      case 'lock': return lock({ lockSeat: !seat.locked }, `Locking seat ${i}`);
      case 'lock-audio': return lock({ lockAudio: !seat.audioLocked }, `Muting seat ${i}`);
      case 'lock-video': return lock({ lockVideo: !seat.videoLocked }, `Stopping seat ${i}'s camera`);
      case 'kick': {
        if (!seat.user) return undefined;
        const uid = seat.user.userId;
        return act(`Kicking ${displayName(seat.user)}`, () => this.s.client.call('seat.kick', { userId: uid }), button);
      }
    }
    return undefined;
  }

  // --- applications ---

  renderApplicants() {
    const reqs = [...this.applicants.values()];
    syncList($('applicants'), reqs, (r) => r.from.userId, (r) => el('li', { dataset: { userId: r.from.userId } },
      el('span', { class: 'who' }),
      el('button', { class: 'small', dataset: { action: 'accept' } }, 'Accept'),
      el('button', { class: 'small secondary', dataset: { action: 'reject' } }, 'Reject'),
    ), (row, r) => {
      row.querySelector('.who').textContent = `${displayName(r.from)} → ${r.seatIndex < 0 ? 'any seat' : 'seat ' + r.seatIndex}`;
    });
    $('applicant-count').textContent = String(reqs.length);
    this.renderMembers(); // an applicant's audience row offers no invite
  }

  #applicantAction(ev) {
    const button = ev.target.closest('button[data-action]');
    if (!button) return undefined;
    const uid = button.closest('li').dataset.userId;
    const r = this.applicants.get(uid);
    if (!r) return undefined;
    const done = () => { this.applicants.delete(uid); this.renderApplicants(); };
    if (button.dataset.action === 'accept') {
      return act(`Accepting ${displayName(r.from)}`, async () => {
        // A failure (seat taken, none free) leaves the request pending.
        await this.s.client.call('seat.acceptApplication', { userId: uid });
        done(); // seat.changed announces the new guest
      }, button);
    }
    return act(`Rejecting ${displayName(r.from)}`, async () => {
      await this.s.client.call('seat.rejectApplication', { userId: uid });
      done();
    }, button);
  }

  // --- the audience ---

  /** audience is who may be invited up: not seated, not the owner, not me. */
  audience() {
    const seated = new Set(this.s.seats.filter((x) => x.user).map((x) => x.user.userId));
    return [...this.members.values()].filter((u) => u.role !== 'owner' && u.userId !== this.s.self.userId && !seated.has(u.userId));
  }

  renderMembers() {
    syncList($('members'), this.audience(), (u) => u.userId, (u) => el('li', { dataset: { userId: u.userId } },
      el('span', { class: 'who' }),
      el('span', { class: 'note' }),
      el('button', { class: 'small invite', dataset: { action: 'invite' } }, 'Invite'),
      el('button', { class: 'small danger', dataset: { action: 'kick-out' } }, 'Remove'),
    ), (row, u) => {
      row.querySelector('.who').textContent = `${displayName(u)}${u.role !== 'audience' ? ' · ' + u.role : ''}`;
      const applied = this.applicants.has(u.userId);
      const invited = this.invited.has(u.userId);
      // An applicant is answered in Applicants; inviting them too would only conflict.
      row.querySelector('.note').textContent = applied ? 'asks for a seat' : '';
      const invite = row.querySelector('.invite');
      show(invite, !applied, invited ? 'Cancel invite' : 'Invite');
      invite.classList.toggle('secondary', invited);
      invite.dataset.action = invited ? 'cancel-invite' : 'invite';
      show(row.querySelector('[data-action=kick-out]'), u.role === 'audience');
    });
  }

  #memberAction(ev) {
    const button = ev.target.closest('button[data-action]');
    if (!button) return undefined;
    const uid = button.closest('li').dataset.userId;
    const u = this.members.get(uid);
    if (!u) return undefined;
    if (button.dataset.action === 'kick-out') {
      return act(`Removing ${displayName(u)}`, async () => {
        await this.s.client.call('room.kickOut', { userId: uid });
        this.members.delete(uid);
        this.renderMembers();
      }, button);
    }
    if (this.invited.has(uid)) {
      return act('Cancelling the invitation', async () => {
        await this.s.client.call('seat.cancelInvitation', { userId: uid });
        this.invited.delete(uid);
        this.renderMembers();
      }, button);
    }
    return act(`Inviting ${displayName(u)}`, async () => {
      const res = await this.s.client.call('seat.invite', { userId: uid, seatIndex: -1, timeout: INVITE_TIMEOUT_S });
      this.invited.set(uid, { requestId: res.requestId });
      this.renderMembers();
      notice(`Invited ${displayName(u)}; waiting for an answer`);
    }, button);
  }
}
