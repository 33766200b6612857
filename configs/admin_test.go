package configs

import (
	"strings"
	"testing"
)

func TestValidateAdmin(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if def.Admin != (Admin{}) {
		t.Errorf("default admin = %+v, want off", def.Admin)
	}
	for _, tc := range []struct {
		name  string
		admin Admin
		want  string // a problem path; "" for none
	}{
		{"off", Admin{}, ""},
		{"token", Admin{Address: "127.0.0.1:9091", Token: "t"}, ""},
		{"token file", Admin{Address: "127.0.0.1:9091", TokenFile: "/run/secrets/admin"}, ""},
		{"all interfaces", Admin{Address: ":9091", Token: "t"}, ""},
		{"no token", Admin{Address: "127.0.0.1:9091"}, "admin.token"},
		{"both", Admin{Address: "127.0.0.1:9091", Token: "t", TokenFile: "f"}, "admin.token"},
		{"not host:port", Admin{Address: "localhost", Token: "t"}, "admin.address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			c.Admin = tc.admin
			err = c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			var paths []string
			for _, p := range problemsOf(t, err) {
				paths = append(paths, p.Path)
			}
			if !strings.Contains(strings.Join(paths, " "), tc.want) {
				t.Errorf("problems at %v, want one at %s", paths, tc.want)
			}
		})
	}
}
