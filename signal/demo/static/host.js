// The host panel (owner and admins): every seat with its lock and mute
// switches and a kick button, the pending applications with accept/reject,
// and the audience, paged through room.members, with invite and remove.

import { $, el, act, notice, displayName } from './ui.js';

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

  renderSeats() {
    const list = $('seat-list');
    const rows = this.s.seats.map((seat) => {
      const i = seat.index;
      const who = seat.user ? displayName(seat.user) : seat.locked ? 'locked' : 'empty';
      const lock = (fields, label) => () => act(label, () => this.s.client.call('seat.lock', { seatIndex: i, ...fields }));
      const buttons = [];
      if (i > 0) {
        buttons.push(el('button', {
          class: 'small', dataset: { action: 'lock' }, title: seat.locked ? 'Open this seat again' : 'Lock this seat (its guest leaves)',
          onclick: lock({ lockSeat: !seat.locked }, `Locking seat ${i}`),
        }, seat.locked ? 'Unlock' : 'Lock'));
      }
      if (seat.user && seat.user.userId !== this.s.self.userId) {
        buttons.push(
          el('button', {
            class: 'small', dataset: { action: 'lock-audio' }, title: seat.audioLocked ? 'Let this guest unmute' : "Mute this guest's microphone",
            onclick: lock({ lockAudio: !seat.audioLocked }, `Muting seat ${i}`),
          }, seat.audioLocked ? 'Unmute' : 'Mute'),
          el('button', {
            class: 'small', dataset: { action: 'lock-video' }, title: seat.videoLocked ? 'Let this guest turn the camera on' : "Stop this guest's camera",
            onclick: lock({ lockVideo: !seat.videoLocked }, `Stopping seat ${i}'s camera`),
          }, seat.videoLocked ? 'Cam on' : 'Cam off'),
        );
        if (i > 0) {
          const uid = seat.user.userId;
          buttons.push(el('button', { class: 'small danger', dataset: { action: 'kick' }, onclick: (ev) => act(`Kicking ${who}`, () => this.s.client.call('seat.kick', { userId: uid }), ev.target) }, 'Kick'));
        }
      }
      return el('li', { dataset: { seatRow: String(i), occupied: String(!!seat.user), locked: String(seat.locked) } },
        el('span', { class: 'who', text: who }), ...buttons);
    });
    list.replaceChildren(...rows);
  }

  renderApplicants() {
    const rows = [...this.applicants.values()].map((r) => {
      const uid = r.from.userId;
      const done = () => { this.applicants.delete(uid); this.renderApplicants(); };
      return el('li', { dataset: { userId: uid } },
        el('span', { class: 'who', text: `${displayName(r.from)} → ${r.seatIndex < 0 ? 'any seat' : 'seat ' + r.seatIndex}` }),
        el('button', {
          class: 'small', dataset: { action: 'accept' },
          onclick: (ev) => act(`Accepting ${displayName(r.from)}`, async () => {
            // A failure (seat taken, none free) leaves the request pending.
            await this.s.client.call('seat.acceptApplication', { userId: uid });
            done(); // seat.changed announces the new guest
          }, ev.target),
        }, 'Accept'),
        el('button', {
          class: 'small secondary', dataset: { action: 'reject' },
          onclick: (ev) => act(`Rejecting ${displayName(r.from)}`, async () => {
            await this.s.client.call('seat.rejectApplication', { userId: uid });
            done();
          }, ev.target),
        }, 'Reject'));
    });
    $('applicants').replaceChildren(...rows);
    $('applicant-count').textContent = String(rows.length);
  }

  renderMembers() {
    const seated = new Set(this.s.seats.filter((x) => x.user).map((x) => x.user.userId));
    const rows = [...this.members.values()].map((u) => {
      const me = u.userId === this.s.self.userId;
      const label = `${displayName(u)}${me ? ' (you)' : ''}${u.role !== 'audience' ? ' · ' + u.role : ''}${seated.has(u.userId) ? ' · on seat' : ''}`;
      const buttons = [];
      if (!me && !seated.has(u.userId) && u.role !== 'owner') {
        if (this.invited.has(u.userId)) {
          buttons.push(el('button', {
            class: 'small secondary', dataset: { action: 'cancel-invite' },
            onclick: (ev) => act('Cancelling the invitation', async () => {
              await this.s.client.call('seat.cancelInvitation', { userId: u.userId });
              this.invited.delete(u.userId);
              this.renderMembers();
            }, ev.target),
          }, 'Cancel invite'));
        } else {
          buttons.push(el('button', {
            class: 'small', dataset: { action: 'invite' },
            onclick: (ev) => act(`Inviting ${displayName(u)}`, async () => {
              const res = await this.s.client.call('seat.invite', { userId: u.userId, seatIndex: -1, timeout: INVITE_TIMEOUT_S });
              this.invited.set(u.userId, { requestId: res.requestId });
              this.renderMembers();
              notice(`Invited ${displayName(u)}; waiting for an answer`);
            }, ev.target),
          }, 'Invite'));
        }
      }
      if (!me && u.role === 'audience') {
        buttons.push(el('button', {
          class: 'small danger', dataset: { action: 'kick-out' },
          onclick: (ev) => act(`Removing ${displayName(u)}`, async () => {
            await this.s.client.call('room.kickOut', { userId: u.userId });
            this.members.delete(u.userId);
            this.renderMembers();
          }, ev.target),
        }, 'Remove'));
      }
      return el('li', { dataset: { userId: u.userId } }, el('span', { class: 'who', text: label }), ...buttons);
    });
    $('members').replaceChildren(...rows);
  }
}
