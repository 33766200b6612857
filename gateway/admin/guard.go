package admin

import (
	"net/http"
	"strings"
)

// guard refuses, with 400 and before authentication, the requests the
// admin API never serves:
//
//   - a bearer token in the query string (access_token, RFC 6750 2.3, or
//     token). URLs end up in proxy logs, shell histories and Referer
//     headers; the token is accepted only in the Authorization header, and
//     a request that put it in the URL is refused, not served, even with
//     a good header, so that the client is fixed;
//   - a path with dot segments ("." or ".."), which net/http would
//     otherwise answer with a redirect to another route (DELETE
//     /api/v1/clients/../sessions/x to .../sessions/x). Percent-encoded,
//     they are literal text, as an encoded slash is: part of a client id
//     or topic (/api/v1/clients/a%2Fb is client "a/b", /api/v1/clients/%2E%2E
//     is client ".."), matched by net/http's ServeMux segment by segment.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("access_token") || q.Has("token") {
			writeError(w, http.StatusBadRequest, "the token goes in the Authorization header (Bearer), never in the URL: this request is refused")
			return
		}
		for seg := range strings.SplitSeq(r.URL.EscapedPath(), "/") {
			if seg == "." || seg == ".." {
				writeError(w, http.StatusBadRequest, "the path has dot segments: write a literal . or .. as %%2E")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
