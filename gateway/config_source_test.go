package gateway

import (
	"context"
	"reflect"
	"testing"
	"time"

	"edgemq/configs"
)

// TestConfigOneSource: the configuration in force has one home, the
// reloader (Server.config). Server keeps no *configs.Config of its own,
// which a reload would leave stale, and after a reload config() is the
// new configuration.
func TestConfigOneSource(t *testing.T) {
	cfgType := reflect.TypeOf((*configs.Config)(nil))
	st := reflect.TypeOf(Server{})
	for i := range st.NumField() {
		if f := st.Field(i); f.Type == cfgType || f.Type == cfgType.Elem() {
			t.Errorf("Server.%s holds a configuration besides the one in force (Server.config)", f.Name)
		}
	}

	cfg := testConfig(t)
	ts := startServer(t, cfg)
	if got := ts.config(); got != cfg {
		t.Fatal("config() is not the configuration the server started with")
	}
	next := *cfg
	next.ShutdownTimeout = cfg.ShutdownTimeout + time.Second
	if _, err := ts.Reload(context.Background(), &next); err != nil {
		t.Fatal(err)
	}
	if got := ts.config(); got != &next || got.ShutdownTimeout != next.ShutdownTimeout {
		t.Errorf("config() after a reload: shutdown_timeout %v, want the reloaded %v", got.ShutdownTimeout, next.ShutdownTimeout)
	}
}
