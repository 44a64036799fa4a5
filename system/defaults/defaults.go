// Package defaults holds the default of every setting that both the
// configuration (system.Config, the flags) and a front door (its Config
// left zero, as in its own tests) fill in: one place for each, so that a
// door run alone behaves as the server does.
package defaults

import "time"

const (
	// RequestTimeout is --request-timeout: the deadline of a request
	// inside the server.
	RequestTimeout = 5 * time.Second
	// HTTPReadTimeout is --http-read-timeout: the time a client has to
	// send a whole request, body included.
	HTTPReadTimeout = time.Minute
	// MaxBody is --max-body: the largest request body.
	MaxBody = 16 << 20
	// MaxBatch is --max-batch: the most commands in one batch request.
	MaxBatch = 1000
	// MaxMessage is --max-message: the largest queue message, room event,
	// pub/sub message or ingested record.
	MaxMessage = 1 << 20
	// WSReadLimit is the largest frame a WebSocket client may send: a
	// message of MaxMessage and the command around it.
	WSReadLimit = MaxMessage + 64<<10
	// MaxSessions is --max-sessions: WebSocket (or stream) connections per
	// front door.
	MaxSessions = 10_000
	// RateClients is --rate-clients: the clients the data door's rate
	// limiter keeps a bucket for.
	RateClients = 1 << 16
	// MaxTxns is --max-txns: the data door's open transactions.
	MaxTxns = 10_000
	// WSBuffer is --ws-buffer: the messages queued for one WebSocket
	// client before it is closed as too slow.
	WSBuffer = 1024
	// WSBufferBytes is --ws-buffer-bytes: the bytes queued for one
	// WebSocket client before it is closed as too slow.
	WSBufferBytes = 16 << 20
	// WSWriteTimeout is --ws-write-timeout: the deadline of one write to a
	// WebSocket client.
	WSWriteTimeout = 10 * time.Second
	// WSPingInterval is --ws-ping-interval.
	WSPingInterval = 20 * time.Second
	// SkipHeartbeat is --skip-heartbeat: how often an idle Skip stream
	// gets an empty update.
	SkipHeartbeat = 30 * time.Second
	// SkipSSEBuffer is --skip-sse-buffer: the events queued for one Skip
	// stream client before it is closed as too slow.
	SkipSSEBuffer = 1024
	// SkipSSEBufferBytes is --skip-sse-buffer-bytes: the bytes of those
	// events.
	SkipSSEBufferBytes = 16 << 20
	// SkipWriteTimeout is --skip-write-timeout: the deadline of one write
	// to a Skip stream client.
	SkipWriteTimeout = 10 * time.Second
)
