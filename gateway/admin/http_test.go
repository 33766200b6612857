package admin

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestPaginate(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	tests := []struct {
		name     string
		after    string
		limit    int
		want     []string
		wantNext string // the key the next cursor names; "": no next page
	}{
		{"first page", "", 2, []string{"a", "b"}, "b"},
		{"middle page", "b", 2, []string{"c", "d"}, "d"},
		{"last page", "d", 2, []string{"e"}, ""},
		{"cursor item gone", "bb", 2, []string{"c", "d"}, "d"},
		{"past the end", "z", 2, nil, ""},
		{"all in one", "", 100, keys, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg := paginate(keys, id, pageParams{limit: tt.limit, after: tt.after})
			if pg.Items == nil {
				t.Fatal("items nil: would encode as null, not []")
			}
			if !slices.Equal(pg.Items, tt.want) {
				t.Errorf("items %v, want %v", pg.Items, tt.want)
			}
			want := ""
			if tt.wantNext != "" {
				want = cursor(tt.wantNext)
			}
			if pg.Next != want {
				t.Errorf("next %q, want %q (the cursor of %q)", pg.Next, want, tt.wantNext)
			}
		})
	}
}

func TestParsePage(t *testing.T) {
	tests := []struct {
		query     string
		wantLimit int
		wantAfter string
		wantErr   string
	}{
		{"", defaultPageLimit, "", ""},
		{"limit=1", 1, "", ""},
		{"limit=1000", 1000, "", ""},
		{"limit=0", 0, "", "limit"},
		{"limit=1001", 0, "", "limit"},
		{"limit=x", 0, "", "limit"},
		{"after=" + cursor("client/1"), defaultPageLimit, "client/1", ""},
		{"after=%25%25", 0, "", "after"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p, err := parsePage(httptest.NewRequest("GET", "/api/v1/clients?"+tt.query, nil))
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one naming %s", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case p.limit != tt.wantLimit || p.after != tt.wantAfter:
				t.Errorf("limit %d after %q, want %d %q", p.limit, p.after, tt.wantLimit, tt.wantAfter)
			}
		})
	}
}
