package admin

// The API's JSON answers, paging and request bodies.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// MaxBody bounds a request body: a POST /publish payload in base64 with
// its JSON around it.
const MaxBody = 4 << 20

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, ErrorBody{Error: fmt.Sprintf(format, args...)})
}

// Page is a paged listing: items in a stable order (client id, topic) and
// Next, the cursor of the following page (the after parameter), empty on
// the last one.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// pageParams are the limit and after query parameters of a listing.
type pageParams struct {
	limit int
	after string // the decoded cursor: the last key of the previous page
}

const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// parsePage reads limit (default 100, at most 1000) and after (a cursor
// from a previous page's next).
func parsePage(r *http.Request) (pageParams, error) {
	p := pageParams{limit: defaultPageLimit}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return p, fmt.Errorf("limit %q is not a number from 1 to %d", v, maxPageLimit)
		}
		p.limit = n
	}
	if v := q.Get("after"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			return p, fmt.Errorf("after %q is not a cursor", v)
		}
		p.after = string(b)
	}
	return p, nil
}

// cursor is the cursor naming key: opaque to clients, any byte safe in a
// query string.
func cursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// paginate returns the page of sorted after p.after: at most p.limit
// items, and the cursor of the next page when more follow.
func paginate[T any](sorted []T, key func(T) string, p pageParams) Page[T] {
	start := 0
	if p.after != "" {
		// The first item past the cursor; the cursor's own item may be
		// gone since.
		lo, hi := 0, len(sorted)
		for lo < hi {
			mid := (lo + hi) / 2
			if key(sorted[mid]) <= p.after {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		start = lo
	}
	end := min(start+p.limit, len(sorted))
	out := Page[T]{Items: sorted[start:end]}
	if out.Items == nil {
		out.Items = []T{}
	}
	if end < len(sorted) {
		out.Next = cursor(key(sorted[end-1]))
	}
	return out
}

// decodeBody decodes the JSON body into v, bounded by MaxBody and
// refusing unknown fields. It writes the error answer and reports false
// on failure.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "body exceeds %d bytes", tooLarge.Limit)
		} else {
			writeError(w, http.StatusBadRequest, "decoding body: %v", err)
		}
		return false
	}
	return true
}
