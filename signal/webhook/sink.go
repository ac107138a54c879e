package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// pending is one event on its way to one receiver.
type pending struct {
	env       Envelope
	body      []byte    // encoded on the first attempt, reused by retries
	attempts  int       // failed attempts so far
	firstFail time.Time // when the first attempt failed
	// hold, until the first attempt, is what must be durable before the
	// event goes out (hold.go); nil for nothing.
	hold func(context.Context)
}

func (p *pending) clone() *pending { c := *p; return &c }

// roomQueue is one room's FIFO at one receiver. It is in the ready channel,
// in flight, or waiting for a retry timer — never two at once — which is
// what serialises a room's deliveries.
type roomQueue struct {
	id     string
	events []*pending
	timer  Timer
}

// sink is one receiver: its per-room queues, the ready list its workers
// take rooms from, and the bound on what it holds.
type sink struct {
	d   *Dispatcher
	url string

	mu    sync.Mutex
	rooms map[string]*roomQueue // rooms with at least one event
	total int                   // events held, all rooms
	idle  chan struct{}         // closed and replaced whenever total drops to 0
	// ready holds rooms whose head may be sent now. A room is in it at most
	// once and only while it has events, so it never holds more than
	// QueueSize rooms and a send to it never blocks.
	ready chan *roomQueue
}

func newSink(d *Dispatcher, url string) *sink {
	return &sink{
		d: d, url: url,
		rooms: make(map[string]*roomQueue),
		idle:  make(chan struct{}),
		ready: make(chan *roomQueue, d.cfg.QueueSize),
	}
}

func (s *sink) enqueue(p *pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.rooms[p.env.RoomID]
	if s.total >= s.d.cfg.QueueSize || (q != nil && len(q.events) >= s.d.cfg.RoomQueueSize) {
		s.d.m.dropped.WithLabelValues(dropQueueFull).Inc()
		return
	}
	s.d.m.emitted.WithLabelValues(p.env.Event).Inc()
	s.d.m.queued.Inc()
	s.total++
	if q == nil {
		q = &roomQueue{id: p.env.RoomID}
		s.rooms[q.id] = q
		q.events = append(q.events, p)
		s.ready <- q
		return
	}
	q.events = append(q.events, p)
}

func (s *sink) work() {
	for {
		select {
		case <-s.d.ctx.Done():
			return
		case q := <-s.ready:
			s.deliverHead(q)
		}
	}
}

// deliverHead sends a room's oldest event once, then pops it (delivered or
// given up) or schedules the room's retry.
func (s *sink) deliverHead(q *roomQueue) {
	s.mu.Lock()
	p := q.events[0]
	if wait := p.hold; wait != nil {
		p.hold = nil
		s.release(q, wait)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	err := s.post(p)
	now := s.d.cfg.Clock.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.d.m.delivered.Inc()
		s.d.m.latency.Observe(now.Sub(time.UnixMilli(p.env.CreatedAt)).Seconds())
		s.pop(q)
		return
	}
	if s.d.ctx.Err() != nil {
		return // closing: stop drops what is left
	}
	p.attempts++
	if p.firstFail.IsZero() {
		p.firstFail = now
	}
	if now.Sub(p.firstFail) >= s.d.cfg.RetryFor {
		s.d.log.Warn("webhook: giving up on an event", "id", p.env.ID, "event", p.env.Event, "attempts", p.attempts, "err", err)
		s.d.m.dropped.WithLabelValues(dropGaveUp).Inc()
		s.pop(q)
		return
	}
	s.d.log.Debug("webhook: delivery failed, will retry", "id", p.env.ID, "attempt", p.attempts, "err", err)
	q.timer = s.d.cfg.Clock.AfterFunc(s.d.backoff(p.attempts), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if q.timer == nil {
			return // stopped by Close
		}
		q.timer = nil
		s.ready <- q
	})
}

// pop removes the head; the room goes back to ready or, empty, away.
// Called with mu held.
func (s *sink) pop(q *roomQueue) {
	q.events[0] = nil
	q.events = q.events[1:]
	s.total--
	s.d.m.queued.Dec()
	if len(q.events) > 0 {
		s.ready <- q
		return
	}
	delete(s.rooms, q.id)
	if s.total == 0 {
		close(s.idle)
		s.idle = make(chan struct{})
	}
}

func (s *sink) post(p *pending) error {
	if p.body == nil {
		b, err := json.Marshal(p.env)
		if err != nil {
			// A programming error: no retry will fix it.
			s.d.log.Error("webhook: encode", "event", p.env.Event, "err", err)
			p.body = []byte("null")
		} else {
			p.body = b
		}
	}
	ctx, cancel := context.WithTimeout(s.d.ctx, s.d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(p.body))
	if err != nil {
		s.d.m.attempts.WithLabelValues(resultNetwork).Inc()
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "seatsfu-webhook")
	req.Header.Set("Seatsfu-Event-Id", p.env.ID)
	req.Header.Set("Seatsfu-Event", p.env.Event)
	req.Header.Set(SignatureHeader, Sign(s.d.cfg.Secret, s.d.cfg.Clock.Now().Unix(), p.body))
	resp, err := s.d.cfg.Client.Do(req)
	if err != nil {
		s.d.m.attempts.WithLabelValues(resultNetwork).Inc()
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		s.d.m.attempts.WithLabelValues(resultStatus).Inc()
		return fmt.Errorf("receiver answered %s", strconv.Itoa(resp.StatusCode))
	}
	s.d.m.attempts.WithLabelValues(resultOK).Inc()
	return nil
}

// drain waits until the receiver holds nothing, or ctx ends.
func (s *sink) drain(ctx context.Context) error {
	for {
		s.mu.Lock()
		total, idle := s.total, s.idle
		s.mu.Unlock()
		if total == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop cancels the retry timers and counts what was never delivered.
// Called once the workers have stopped.
func (s *sink) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.rooms {
		if q.timer != nil {
			q.timer.Stop()
			q.timer = nil
		}
	}
	if s.total > 0 {
		s.d.m.dropped.WithLabelValues(dropShutdown).Add(float64(s.total))
		s.d.m.queued.Sub(float64(s.total))
	}
}
