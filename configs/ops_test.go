package configs

import (
	"strings"
	"testing"
)

func TestValidateOps(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if c.Ops.Address != "127.0.0.1:9090" {
		t.Errorf("default ops.address %q", c.Ops.Address)
	}
	c.Ops.Address = "nonsense"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ops.address") {
		t.Errorf("Validate = %v, want an ops.address problem", err)
	}
	c.Ops.Address = ""
	if err := c.Validate(); err != nil {
		t.Errorf("empty ops.address: %v", err)
	}
}
