package gateway

import (
	"testing"

	"edgemq/configs"
)

// benchACL is a static ACL with %u rules that allows the benchmarks'
// topics: each decision expands both %u rules before the third allows.
var benchACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
	{Permission: "allow", Action: "all", Topic: "users/%u/#"},
	{Permission: "deny", Action: "all", Topic: "bench/%u/secret"},
	{Permission: "allow", Action: "all", Topic: "#"},
}}

// BenchmarkRouteFanoutACL is BenchmarkRouteFanout under benchACL: each
// delivery is checked against its session owner's read permission, from
// the subscription's cached decision.
func BenchmarkRouteFanoutACL(b *testing.B) { benchRouteFanout(b, &benchACL) }

// BenchmarkPublishPathACL is BenchmarkPublishPath under benchACL, where
// every delivery is checked against its session owner's read permission
// (owner.go): the decision is cached per subscription, so the rules are
// evaluated once per subscription, not per message.
func BenchmarkPublishPathACL(b *testing.B) { benchPublishPath(b, &benchACL) }
