package gateway

import (
	"testing"

	"edgemq/configs"
)

// benchACL is a static ACL with %u rules that allows the benchmarks'
// topics: each decision expands both %u rules before the third allows
// (gateway/proto's route benchmarks use the same).
var benchACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
	{Permission: "allow", Action: "all", Topic: "users/%u/#"},
	{Permission: "deny", Action: "all", Topic: "bench/%u/secret"},
	{Permission: "allow", Action: "all", Topic: "#"},
}}

// BenchmarkPublishPathACL is BenchmarkPublishPath under benchACL, where
// every delivery is checked against its session owner's read permission
// (proto/owner.go): the decision is cached per subscription, so the rules
// are evaluated once per subscription, not per message.
func BenchmarkPublishPathACL(b *testing.B) { benchPublishPath(b, &benchACL) }
