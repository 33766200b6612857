package configs

// maxStoredClientID is the longest client id the store holds
// (gateway/store.MaxClientID): with durability sync or async, longer ids
// are refused here rather than failing a write later.
const maxStoredClientID = 32000

// validateQuotas checks the per-client quotas of session and retained.
func (c *Config) validateQuotas(ps *problems) {
	for _, q := range []struct {
		path string
		v    int
	}{
		{"session.max_subscriptions", c.Session.MaxSubscriptions},
		{"session.max_subscription_bytes", c.Session.MaxSubscriptionBytes},
		{"session.max_sessions_per_ip", c.Session.MaxSessionsPerIP},
		{"session.max_sessions_per_user", c.Session.MaxSessionsPerUser},
		{"retained.max_per_client", c.Retained.MaxPerClient},
	} {
		if q.v < 0 {
			ps.add(q.path, "%d must not be negative (0 means no bound)", q.v)
		}
	}
	if c.Store.Durability != "sync" && c.Store.Durability != "async" {
		return
	}
	if n := c.MQTT.ClientID.MaxLength; n > maxStoredClientID {
		ps.add("mqtt.client_id.max_length", "%d is longer than the store holds with store.durability %s: at most %d", n, c.Store.Durability, maxStoredClientID)
	}
	for name, p := range c.Profiles {
		if p.ClientIDMaxLength != nil && *p.ClientIDMaxLength > maxStoredClientID {
			ps.add("profiles."+name+".client_id_max_length", "%d is longer than the store holds with store.durability %s: at most %d", *p.ClientIDMaxLength, c.Store.Durability, maxStoredClientID)
		}
	}
}
