package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	crdt "github.com/ipfs/go-ds-crdt"
	"github.com/ipfs/go-ds-crdt/pb"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"google.golang.org/protobuf/proto"
)

// announceGaps are the pauses before each announcement of the heads that
// follows a burst of topic joins: the first gathers the joins of a burst
// of connections into one announcement; the later ones cover a message the
// new peer's router could not take yet (GossipSub reopens its stream to a
// peer that reconnects after a short backoff, and drops what is published
// to it meanwhile). Announcing heads again is harmless: peers skip heads
// they have processed.
var announceGaps = []time.Duration{100 * time.Millisecond, time.Second, 3 * time.Second}

// subscriptionBuffer is how many announcements the namespace topic's
// subscription holds before GossipSub drops new ones (its default, 32,
// overflows when tens of offices write at once, and a dropped
// announcement waits for the next rebroadcast).
const subscriptionBuffer = 1024

// topicBroadcaster is go-ds-crdt's Broadcaster over one GossipSub topic,
// like crdt.PubSubBroadcaster, with one addition: when a peer joins the
// topic it announces this node's current heads at once.
//
// Without it, a write made just after two offices connect is lost to the
// newcomer until the next periodic rebroadcast (RebroadcastInterval, 10 s
// by default): GossipSub only sends a message to peers whose subscription
// it already knows, and the subscriptions are exchanged a moment after the
// connection opens. The same holds for everything written while an office
// was cut off. Announcing on join makes both catch up as soon as the
// topic is joined.
type topicBroadcaster struct {
	ctx    context.Context
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	events *pubsub.TopicEventHandler
	log    *slog.Logger
	// heads returns the announcement; set by start, which closes ready.
	heads func(context.Context) ([]byte, error)
	ready chan struct{}
	done  chan struct{}
}

var _ crdt.Broadcaster = (*topicBroadcaster)(nil)

// newTopicBroadcaster joins topic on ps and subscribes to it. Cancelling
// ctx leaves the topic; do it before closing the CRDT. Joins are announced
// once start has been called.
func newTopicBroadcaster(ctx context.Context, ps *pubsub.PubSub, topic string, log *slog.Logger) (*topicBroadcaster, error) {
	t, err := ps.Join(topic)
	if err != nil {
		return nil, fmt.Errorf("join topic %s: %w", topic, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(subscriptionBuffer))
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	ev, err := t.EventHandler()
	if err != nil {
		sub.Cancel()
		t.Close()
		return nil, fmt.Errorf("topic events of %s: %w", topic, err)
	}
	b := &topicBroadcaster{ctx: ctx, topic: t, sub: sub, events: ev, log: log, ready: make(chan struct{}), done: make(chan struct{})}
	go b.announceOnJoin()
	go func() {
		<-ctx.Done()
		ev.Cancel()
		sub.Cancel()
		<-b.done
		// Next fails once the subscription is cancelled; the topic can be
		// closed when nothing reads it any more.
		for {
			if _, err := sub.Next(context.Background()); err != nil {
				break
			}
		}
		if err := t.Close(); err != nil {
			log.Debug("leaving the namespace topic", "err", err)
		}
	}()
	return b, nil
}

// start makes the broadcaster announce heads(ctx) after each burst of
// topic joins (nil data: nothing to announce). Call it once.
func (b *topicBroadcaster) start(heads func(context.Context) ([]byte, error)) {
	b.heads = heads
	close(b.ready)
}

// announceOnJoin publishes the heads after each burst of topic joins,
// three times (see announceGaps).
func (b *topicBroadcaster) announceOnJoin() {
	defer close(b.done)
	select {
	case <-b.ready:
	case <-b.ctx.Done():
		return
	}
	joined := make(chan struct{}, 1)
	go func() {
		for {
			ev, err := b.events.NextPeerEvent(b.ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				select {
				case joined <- struct{}{}:
				default:
				}
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	step := len(announceGaps) // nothing scheduled
	for {
		select {
		case <-b.ctx.Done():
			timer.Stop()
			return
		case <-joined:
			step = 0
			timer.Reset(announceGaps[0])
		case <-timer.C:
			b.announce()
			if step++; step < len(announceGaps) {
				timer.Reset(announceGaps[step])
			}
		}
	}
}

func (b *topicBroadcaster) announce() {
	data, err := b.heads(b.ctx)
	if err == nil && data != nil {
		err = b.topic.Publish(b.ctx, data)
	}
	if err != nil && b.ctx.Err() == nil {
		b.log.Debug("announcing the namespace heads", "err", err)
	}
}

// Broadcast implements crdt.Broadcaster.
func (b *topicBroadcaster) Broadcast(ctx context.Context, data []byte) error {
	return b.topic.Publish(ctx, data)
}

// Next implements crdt.Broadcaster.
func (b *topicBroadcaster) Next(ctx context.Context) ([]byte, error) {
	if b.ctx.Err() != nil || ctx.Err() != nil {
		return nil, crdt.ErrNoMoreBroadcast
	}
	msg, err := b.sub.Next(ctx)
	if err != nil {
		if b.ctx.Err() != nil || ctx.Err() != nil || errors.Is(err, pubsub.ErrSubscriptionCancelled) {
			return nil, crdt.ErrNoMoreBroadcast
		}
		return nil, err
	}
	return msg.GetData(), nil
}

// encodeHeads is the broadcast go-ds-crdt sends for heads (its
// pb.CRDTBroadcast); nil when there are none.
func encodeHeads(st crdt.Stats) ([]byte, error) {
	if len(st.Heads) == 0 {
		return nil, nil
	}
	var m pb.CRDTBroadcast
	for _, h := range st.Heads {
		m.Heads = append(m.Heads, &pb.Head{Cid: h.Bytes()})
	}
	return proto.Marshal(&m)
}
