package configs

import "net"

// Ops configures the operations HTTP listener: Prometheus metrics at
// /metrics, liveness at /healthz and readiness at /readyz.
type Ops struct {
	// Address is the host:port of the ops listener; empty disables it.
	Address string `yaml:"address"`
}

// validateOps checks that ops.address, when set, is host:port.
func (c *Config) validateOps(ps *problems) {
	if c.Ops.Address == "" {
		return
	}
	if _, port, err := net.SplitHostPort(c.Ops.Address); err != nil || port == "" {
		ps.add("ops.address", "%q is not host:port", c.Ops.Address)
	}
}
