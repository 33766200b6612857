package cluster

import "context"

// Renew is renew, for the tests of package cluster_test.
func (l *Liveness) Renew(ctx context.Context) error { return l.renew(ctx) }

// ForgetRevision makes the node believe its record is at rev, as when the
// acknowledgement of a renewal was lost.
func (l *Liveness) ForgetRevision(rev uint64) { l.rev.Store(rev) }

// CheckServerVersion and Reconcile are checkServerVersion and reconcile,
// for the tests of package cluster_test.
var (
	CheckServerVersion = checkServerVersion
	Reconcile          = reconcile
	NeedMsgTTL         = needMsgTTL
)

// ParseIndexKey is parseIndexKey, for the tests of package cluster_test.
var ParseIndexKey = parseIndexKey
