package backend

import "time"

// SetDeleteTTL sets how long r's deletions stay in the retained stream
// (deleteTTL), before r runs.
func SetDeleteTTL(r *Retained, d time.Duration) { r.deleteTTL = d }
