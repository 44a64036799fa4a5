package process

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Code names a message between the hub and a runner. The numbers are the
// original hub's RunnerMessageCode values: 3xxx travel from the runner to
// the hub, 4xxx from the hub to the runner, 5xxx both ways.
type Code int

const (
	CodePing              Code = 3000 // runner: handshake; handshake
	CodeMonitoring        Code = 3001 // runner: health, every second; Health
	CodeSequenceStopped   Code = 3006 // runner: stopped on request, about to exit 138; {}
	CodeAlive             Code = 3010 // runner: the sequence called keepAlive; KeepAlive
	CodeSequenceCompleted Code = 3011 // runner: output done, about to exit 0; {}
	CodePang              Code = 3012 // runner: topics the code declares; Topics
	CodeInputContentType  Code = 3013 // hub: how to decode the input pipe; inputContentType
	CodePong              Code = 4000 // hub: handshake reply; pongData
	CodeStop              Code = 4001 // hub: run the stop handlers, then exit; stopRequest
	CodeKill              Code = 4002 // hub: run the kill handlers and exit now; {}
	CodeMonitoringRate    Code = 4003 // hub: health reports per second; MonitoringRate
	CodeMonitoringReply   Code = 4004 // hub: acknowledges a health report; {}
	CodeEvent             Code = 5001 // both: a named event; Event
)

// Message is one line of the control or monitoring pipe: the JSON array
// [code, data].
type Message struct {
	Code Code
	Data json.RawMessage // the payload; decode it with Decode
}

// Decode unmarshals the payload into v, one of the payload types below.
func (m Message) Decode(v any) error {
	if len(m.Data) == 0 {
		return fmt.Errorf("message %d has no data", m.Code)
	}
	return json.Unmarshal(m.Data, v)
}

func (m Message) MarshalJSON() ([]byte, error) {
	data := m.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal([2]any{m.Code, data})
}

func (m *Message) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) == 0 || len(pair) > 2 {
		return fmt.Errorf("message has %d elements, want [code, data]", len(pair))
	}
	if err := json.Unmarshal(pair[0], &m.Code); err != nil {
		return fmt.Errorf("message code: %w", err)
	}
	m.Data = nil
	if len(pair) == 2 {
		m.Data = pair[1]
	}
	return nil
}

// encode makes the line that carries code and data.
func encode(code Code, data any) ([]byte, error) {
	if data == nil {
		data = struct{}{}
	}
	b, err := json.Marshal([2]any{code, data})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// handshake is the PING payload.
type handshake struct {
	ID     string `json:"id"`
	System struct {
		ProcessPID string `json:"processPID"`
	} `json:"system"`
}

// pongData is the PONG payload: what the sequence is started with.
type pongData struct {
	AppConfig json.RawMessage `json:"appConfig"`
	Args      json.RawMessage `json:"args"`
}

// Health is the MONITORING payload.
type Health struct {
	Healthy bool `json:"healthy"`
}

// MonitoringRate is the MONITORING_RATE payload.
type MonitoringRate struct {
	MonitoringRate float64 `json:"monitoringRate"`
}

// stopRequest is the STOP payload. Timeout is in milliseconds, as the
// sequence's stop handlers receive it.
type stopRequest struct {
	Timeout          int64 `json:"timeout"`
	CanCallKeepalive bool  `json:"canCallKeepalive"`
}

// KeepAlive is the ALIVE payload, in milliseconds.
type KeepAlive struct {
	KeepAlive int64 `json:"keepAlive"`
}

// Event is the EVENT payload.
type Event struct {
	EventName string          `json:"eventName"`
	Message   json.RawMessage `json:"message,omitempty"`
}

// Topics is the PANG payload. The runner sends one once the code is loaded,
// with Requires set to the topic its input comes from ("" when the input is
// the hub's to give), and, if the output names a topic, one with Provides.
type Topics struct {
	Requires    string `json:"requires,omitempty"`
	Provides    string `json:"provides,omitempty"`
	ContentType string `json:"contentType,omitempty"`
}

// inputContentType is the INPUT_CONTENT_TYPE payload. The runner does not
// read the input pipe before it knows how to decode it, from this message
// or from the code's own declaration, which wins.
type inputContentType struct {
	ContentType string `json:"contentType"`
}

// maxMessageBytes bounds one line of the monitoring pipe; an event larger
// than this is dropped, not buffered.
const maxMessageBytes = 4 << 20

var errLineTooLong = errors.New("message longer than 4 MiB")

// readLine returns the next line of r without its line ending. A line
// longer than max is consumed and reported with errLineTooLong, so one bad
// message does not end the stream.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong && err == nil {
			return nil, errLineTooLong
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}
