package synap

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

// Transactions are client-fed memory: at most --max-txns are open, and
// one watches at most --max-batch keys.
func TestTransactionBounds(t *testing.T) {
	cfg := insecure()
	cfg.MaxBatch, cfg.MaxTxns = 3, 1
	ts := newTestServer(t, cfg)
	ts.ks.reply = func(req *messages.DataRequest) (*messages.DataReply, error) {
		rep := &messages.DataReply{}
		if req.Op == messages.DataOp_TXN_WATCH {
			for _, k := range req.Keys {
				rep.Pairs = append(rep.Pairs, &messages.Pair{Key: k})
			}
		}
		return rep, nil
	}
	watch := func(client, keys string) *httptest.ResponseRecorder {
		return postCommand(ts, `{"command":"transaction.watch","payload":{"client_id":"`+client+`","keys":`+keys+`}}`)
	}
	if rec := watch("a", `["k1","k2"]`); rec.Code != http.StatusOK {
		t.Fatalf("watching 2 keys: %d %s", rec.Code, rec.Body)
	}
	// Keys already watched do not count twice.
	if rec := watch("a", `["k2","k3","k3"]`); rec.Code != http.StatusOK {
		t.Fatalf("watching a third key: %d %s", rec.Code, rec.Body)
	}
	wantError(t, watch("a", `["k4"]`), http.StatusInsufficientStorage, messages.CodeLimit, "--max-batch")
	wantError(t, watch("b", `["k1"]`), http.StatusInsufficientStorage, messages.CodeLimit, "--max-txns")
}
