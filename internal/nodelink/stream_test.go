package nodelink

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// streamPair is two nodes with one stream each end of session "s", the
// receiving end delivering into got.
type streamPair struct {
	a, b   *node
	sa, sb *Stream
	got    chan Msg
}

func newStreamPair(t *testing.T, limit int) *streamPair {
	t.Helper()
	p := &streamPair{sa: NewStream("s", limit), sb: NewStream("s", limit), got: make(chan Msg, 1024)}
	p.a = newNode(t, "a", everyone, 0, func(_ *Link, f Frame) {
		if _, _, err := p.sa.Receive(f); err != nil {
			t.Errorf("a: %v", err)
		}
	})
	p.b = newNode(t, "b", everyone, 0, func(_ *Link, f Frame) {
		m, fresh, err := p.sb.Receive(f)
		if err != nil {
			t.Errorf("b: %v", err)
		}
		if fresh {
			p.got <- m
		}
	})
	return p
}

func (p *streamPair) link(t *testing.T) (*Link, *Link) {
	t.Helper()
	l, err := p.a.pool.Get(context.Background(), p.b.info())
	if err != nil {
		t.Fatal(err)
	}
	far, err := p.b.pool.Get(context.Background(), p.a.info())
	if err != nil {
		t.Fatal(err)
	}
	return l, far
}

func (p *streamPair) want(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		select {
		case m := <-p.got:
			if m.Text != fmt.Sprint("m", i) {
				t.Fatalf("got %q, want m%d", m.Text, i)
			}
		case <-t.Context().Done():
			t.Fatal("gave up")
		}
	}
}

// TestStreamResumesAcrossLinks: messages sent before, during and after a
// link drop all arrive, once each and in order, once the stream is
// attached to a new link with the receiver's position.
func TestStreamResumesAcrossLinks(t *testing.T) {
	p := newStreamPair(t, 64)
	l, far := p.link(t)
	p.sa.Attach(l, 0)
	p.sb.Attach(far, 0)
	for i := 1; i <= 10; i++ {
		if err := p.sa.Send(fmt.Sprint("m", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	p.want(t, 1, 10)
	l.Close()
	<-far.Done()
	p.sa.Detach(l)
	p.sb.Detach(far)
	for i := 11; i <= 20; i++ { // while detached: kept
		if err := p.sa.Send(fmt.Sprint("m", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	l2, far2 := p.link(t)
	if l2 == l {
		t.Fatal("the pool kept the closed link")
	}
	p.sb.Attach(far2, 0)
	// The receiver says it has m1..m10; a resume that said less would
	// re-send those too, and Receive would drop them as already seen.
	p.sa.Attach(l2, 5)
	for i := 21; i <= 30; i++ {
		if err := p.sa.Send(fmt.Sprint("m", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	p.want(t, 11, 30)
	select {
	case m := <-p.got:
		t.Fatalf("an extra message arrived: %+v", m)
	default:
	}
}

// TestStreamBoundsItsBacklog: a stream whose peer acknowledges nothing
// keeps at most its limit, then refuses with ErrBacklog; an ack frees it.
func TestStreamBoundsItsBacklog(t *testing.T) {
	s := NewStream("s", 8)
	for i := range 8 {
		if err := s.Send(fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Send("one more", nil); !errors.Is(err, ErrBacklog) {
		t.Fatalf("send past the limit = %v", err)
	}
	if _, _, err := s.Receive(Frame{Session: "s", Kind: KindAck, Payload: []byte(`{"a":3}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send("fits again", nil); err != nil {
		t.Fatalf("after an ack: %v", err)
	}
}

// TestStreamRefusesAGap: a message that skips one means one was lost; the
// session must end rather than go on with a hole.
func TestStreamRefusesAGap(t *testing.T) {
	s := NewStream("s", 8)
	if _, fresh, err := s.Receive(Frame{Kind: KindMsg, Payload: []byte(`{"q":1,"d":"x"}`)}); err != nil || !fresh {
		t.Fatalf("first message: %v %v", fresh, err)
	}
	if _, fresh, err := s.Receive(Frame{Kind: KindMsg, Payload: []byte(`{"q":1,"d":"x"}`)}); err != nil || fresh {
		t.Fatalf("a repeat: fresh %v, %v", fresh, err)
	}
	if _, _, err := s.Receive(Frame{Kind: KindMsg, Payload: []byte(`{"q":3,"d":"x"}`)}); !errors.Is(err, ErrGap) {
		t.Fatalf("a gap: %v", err)
	}
	if _, _, err := s.Receive(Frame{Kind: KindMsg, Payload: []byte(`not json`)}); err == nil {
		t.Fatal("garbage was read as a message")
	}
}
