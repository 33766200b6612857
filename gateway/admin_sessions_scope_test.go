package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"edgemq/gateway/admin"
	"edgemq/gateway/cluster/clustertest"

	"github.com/eclipse/paho.golang/paho"
)

// TestAdminSessionsScopeSingleNode: on a single node scope=cluster on
// one session is the node's own answer, with no node named, for a
// connected session, an offline one, and an id it has no session of; a
// scope other than node or cluster is refused before anything is done.
func TestAdminSessionsScopeSingleNode(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	connectV5(t, ts, persistent("solo-on", true, 300)).roundTrip(t)
	off := connectV5(t, ts, persistent("solo-off", true, 300))
	off.roundTrip(t)
	if err := off.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		return !adminDo[admin.SessionDetail](t, a, "GET", "/api/v1/sessions/solo-off", nil, http.StatusOK).Connected
	}, func() string { return "solo-off is still connected after its DISCONNECT" })
	for _, tc := range []struct {
		id        string
		connected bool
	}{{"solo-on", true}, {"solo-off", false}} {
		d := adminDo[admin.SessionDetail](t, a, "GET", "/api/v1/sessions/"+tc.id+"?scope=cluster", nil, http.StatusOK)
		if d.ClientID != tc.id || d.Connected != tc.connected || d.Node != "" {
			t.Errorf("show %s with scope cluster on a single node: %+v", tc.id, d.SessionItem)
		}
	}
	for _, method := range []string{"GET", "DELETE"} {
		adminDo[admin.ErrorBody](t, a, method, "/api/v1/sessions/solo-nobody?scope=cluster", nil, http.StatusNotFound)
		adminDo[admin.ErrorBody](t, a, method, "/api/v1/sessions/solo-off?scope=galaxy", nil, http.StatusBadRequest)
	}
	adminDo[admin.SessionDetail](t, a, "GET", "/api/v1/sessions/solo-off", nil, http.StatusOK) // not deleted by the refused scope
	for _, id := range []string{"solo-on", "solo-off"} {
		res := adminDo[admin.SessionDeleteResult](t, a, "DELETE", "/api/v1/sessions/"+id+"?scope=cluster", nil, http.StatusOK)
		if want := (admin.SessionDeleteResult{ClientID: id, Kicked: id == "solo-on"}); res != want {
			t.Errorf("delete %s with scope cluster on a single node: %+v, want %+v", id, res, want)
		}
		adminDo[admin.ErrorBody](t, a, "GET", "/api/v1/sessions/"+id, nil, http.StatusNotFound)
	}
}

// TestForwardedDeleteKinds: the errors of a session's delete that the
// asking node answers as the holding node would (409) travel as a
// reply's kind and come back as themselves; any other error has no kind.
func TestForwardedDeleteKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{admin.ErrStillHeld, admin.ErrStillHeld},
		{fmt.Errorf("deleting: %w", admin.ErrReconnected), admin.ErrReconnected},
		{admin.ErrNotFound, nil},
		{errors.New("disk on fire"), nil},
	} {
		kind := replyKind(tc.err)
		if got := kindErr(kind); got != tc.want || (tc.want == nil) != (kind == "") {
			t.Errorf("%v: kind %q, back as %v; want %v", tc.err, kind, got, tc.want)
		}
	}
}
