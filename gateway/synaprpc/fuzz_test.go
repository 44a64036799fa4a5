package synaprpc

import "testing"

// FuzzDecodeRequest: no body, however malformed, panics the decoder or
// makes it allocate past what the body could describe.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(EncodeRequest(1, "SET", []any{"k", []byte{1, 2}, Map{{"a", []any{int64(1), 2.5, nil, true}}}})[4:])
	f.Add([]byte{0x93, 0x01, 0xa3, 'G', 'E', 'T', 0x91, 0x81, 0xa5, 'B', 'y', 't', 'e', 's', 0xdc, 0xff, 0xff})
	f.Add([]byte{0x93, 0x01, 0xa1, 'X', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x83, 0xa2, 'i', 'd', 0x05, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0xa1, 'X', 0xa4, 'a', 'r', 'g', 's', 0x90})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(body)
		if err == nil && len(req.args) > len(body) {
			t.Fatalf("%d arguments from %d bytes", len(req.args), len(body))
		}
	})
}
